"""Coverage over rows inserted directly, against hand-computed figures, on both databases."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports import coverage
from signaling.reports.scope import Band, Filters
from signaling.reports.shape import Report
from tests.signaling.reports.rows import T0, Directory, directory, session, timer


def cards(report: Report) -> dict[str, tuple[object, object]]:
    return {c.key: (c.value, c.previous) for c in report.cards}


def rows(report: Report, table: str) -> list[dict[str, object]]:
    t = report.table(table)
    return [dict(zip((c.key for c in t.columns), row, strict=True)) for row in t.rows]


def measured(verified: float, *gaps: tuple[float, list[str]]) -> dict[str, Any]:
    return {
        "measured": True,
        "evidence": "server and client",
        "verified_live_s": verified,
        "gap_s": sum(g[0] for g in gaps),
        "gap_count": len(gaps),
        "gaps": [{"start": "2026-03-02T10:00:00.000Z", "seconds": s, "causes": c} for s, c in gaps],
    }


UNMEASURED = {"measured": False, "evidence": "server and client"}


async def week_of_coverage(db: AsyncSession, d: Directory) -> None:
    def hour(n: int) -> Any:
        return T0 + timedelta(hours=n)

    # joined 1,000 s, 900 verified; two gaps, the second with two causes
    await session(db, d, "NORTH", hour(1), joined=20, ended=1020, coverage=measured(
        900, (60, ["radiologist:nothing_arrives"]), (40, ["radiologist:no_frames", "technologist:lost"])
    ))  # fmt: skip
    # joined 500 s, the link never verified
    await session(db, d, "NORTH", hour(2), joined=30, ended=530, coverage=UNMEASURED)
    # nobody joined and paging ran out: found no one
    s3 = await session(db, d, "NORTH", hour(3), ended=400, cancel_reason="no_coverage")
    await timer(db, s3, hour(3), "exhausted", None, "exhausted")
    # nobody joined, cancelled before paging ran out, under the reason's former name
    s4 = await session(db, d, "NORTH", hour(4), ended=40, cancel_reason="no_radiologist")
    await timer(db, s4, hour(4), "exhausted", None, "cancelled")
    # joined 2,000 s, more verified than joined (the verification came first): 2,000
    await session(db, d, "LAKE", hour(5), joined=10, ended=2010, coverage=measured(2010))
    # joined 100 s, 70 verified, one gap without a cause
    await session(db, d, "LAKE", hour(6), joined=10, ended=110, coverage=measured(70, (30, [])))
    await session(db, d, "LAKE", hour(7), ended=60, cancel_reason="patient_declined")
    await session(db, d, "NORTH", hour(8), ended=None)  # still open
    await session(db, d, "WEST", hour(9), ended=60)  # not in the scope
    # the week before
    await session(db, d, "NORTH", hour(-30), ended=60, cancel_reason="equipment")
    await session(db, d, "NORTH", hour(-20), joined=10, ended=110, coverage=measured(100))
    await session(db, d, "LAKE", hour(-10), ended=60, cancel_reason="no_coverage")
    await db.commit()


async def test_no_one_found_link_coverage_and_cancellations_as_computed_by_hand(
    db: AsyncSession,
) -> None:
    """Sessions that found no one, the share of joined time verified live with gaps by cause, and
    cancellations per 1,000 by reason before and after, in total and by facility."""
    d = await directory(db)
    await week_of_coverage(db, d)
    report = await coverage.report(db, d.scope("NORTH", "LAKE"), T0)
    assert report.key == "coverage"
    assert cards(report) == {
        "sessions": (7, 3),
        "no_one_found": (1, 0),
        "no_one_share": (pytest.approx(1 / 7), 0.0),
        "verified_share": (pytest.approx(2970 / 3600, abs=1e-5), pytest.approx(1.0, abs=1e-5)),
        "never_verified": (1, 0),
        "cancelled_per_1000": (pytest.approx(3000 / 7), pytest.approx(2000 / 3)),
        "no_coverage_per_1000": (pytest.approx(2000 / 7), pytest.approx(1000 / 3)),
    }
    assert rows(report, "cancellations") == [
        {"reason": "no_coverage", "before": 1, "before_per_1000": pytest.approx(1000 / 3),
         "after": 2, "after_per_1000": pytest.approx(2000 / 7),
         "change_per_1000": pytest.approx(2000 / 7 - 1000 / 3)},
        {"reason": "patient_declined", "before": 0, "before_per_1000": 0.0, "after": 1,
         "after_per_1000": pytest.approx(1000 / 7), "change_per_1000": pytest.approx(1000 / 7)},
        {"reason": "equipment", "before": 1, "before_per_1000": pytest.approx(1000 / 3),
         "after": 0, "after_per_1000": 0.0, "change_per_1000": pytest.approx(-1000 / 3)},
    ]  # fmt: skip
    assert rows(report, "gaps") == [
        {"cause": "radiologist:nothing_arrives", "gaps": 1, "seconds": 60.0, "sessions": 1},
        {"cause": "radiologist:no_frames", "gaps": 1, "seconds": 40.0, "sessions": 1},
        {"cause": "technologist:lost", "gaps": 1, "seconds": 40.0, "sessions": 1},
        {"cause": "not attributed", "gaps": 1, "seconds": 30.0, "sessions": 1},
    ]
    lake, north = rows(report, "facilities")
    assert lake == {
        "facility": "Lakeside Imaging", "sessions": 3, "no_one_found": 0, "no_one_share": 0.0,
        "unjoined_before_exhausted": 1, "joined": 2, "joined_s": pytest.approx(2100, abs=0.05),
        "verified_s": pytest.approx(2070, abs=0.05),
        "verified_share": pytest.approx(2070 / 2100, abs=1e-5), "never_verified": 0,
        "cancelled": 1, "cancelled_per_1000": pytest.approx(1000 / 3), "no_coverage_per_1000": 0.0,
    }  # fmt: skip
    assert north == {
        "facility": "North Imaging Center", "sessions": 4, "no_one_found": 1, "no_one_share": 0.25,
        "unjoined_before_exhausted": 1, "joined": 2, "joined_s": pytest.approx(1500, abs=0.05),
        "verified_s": pytest.approx(900, abs=0.05), "verified_share": pytest.approx(0.6, abs=1e-5),
        "never_verified": 1, "cancelled": 2, "cancelled_per_1000": 500.0,
        "no_coverage_per_1000": 500.0,
    }  # fmt: skip
    assert "1 session still open, left out." in report.notes


async def test_nothing_at_all(db: AsyncSession) -> None:
    """No session: counts zero, shares and rates absent, no rows."""
    d = await directory(db)
    report = await coverage.report(db, d.scope("NORTH", "LAKE"), T0)
    assert cards(report) == {
        "sessions": (0, 0),
        "no_one_found": (0, 0),
        "no_one_share": (None, None),
        "verified_share": (None, None),
        "never_verified": (0, 0),
        "cancelled_per_1000": (None, None),
        "no_coverage_per_1000": (None, None),
    }
    assert all(not t.rows for t in report.tables)


async def test_all_unmeasured_found_no_one_everywhere(db: AsyncSession) -> None:
    """Every session ended without a join after paging ran out: all found no one, and there is no
    joined time to verify."""
    d = await directory(db)
    for n in range(3):
        r = T0 + timedelta(hours=n)
        sid = await session(db, d, "LAKE", r, ended=300)
        await timer(db, sid, r, "exhausted", None, "exhausted")
    await db.commit()
    report = await coverage.report(db, d.scope("LAKE"), T0)
    got = cards(report)
    assert got["no_one_found"] == (3, 0)
    assert got["no_one_share"] == (1.0, None)
    assert got["verified_share"] == (None, None)
    assert got["no_coverage_per_1000"] == (1000.0, None)
    assert rows(report, "gaps") == []


async def test_the_band_filter_is_judged_on_the_exact_times(db: AsyncSession) -> None:
    """A join at 29.999 s is under 30 s and one at exactly 30 s is not, on both databases (SQLite
    judges the band on the exact datetimes); never joined is unmeasured."""
    d = await directory(db)
    for n, joined in enumerate((29.999, 30.0, None)):
        await session(db, d, "NORTH", T0 + timedelta(hours=n), joined=joined, ended=600)
    await db.commit()
    counted = {}
    for band in (Band.UNDER_30, Band.S30_60, Band.UNMEASURED, Band.OVER_90):
        scope = replace(d.scope("NORTH"), filters=Filters(band=band))
        counted[band] = cards(await coverage.report(db, scope, T0))["sessions"][0]
    assert counted == {Band.UNDER_30: 1, Band.S30_60: 1, Band.UNMEASURED: 1, Band.OVER_90: 0}
