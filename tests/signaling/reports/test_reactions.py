"""Reactions over rows inserted directly (the record's facts as ``signaling.record.facts`` writes
them), against hand-computed figures, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports import reactions
from signaling.reports.shape import Report
from tests.signaling.reports.rows import T0, Directory, directory, reaction, session


def near(seconds: float) -> object:
    """SQLite reads times to the millisecond (julianday)."""
    return pytest.approx(seconds, abs=0.01)


def cards(report: Report) -> dict[str, tuple[object, object]]:
    return {c.key: (c.value, c.previous) for c in report.cards}


def rows(report: Report, table: str) -> list[dict[str, object]]:
    t = report.table(table)
    return [dict(zip((c.key for c in t.columns), row, strict=True)) for row in t.rows]


async def exam(
    db: AsyncSession,
    d: Directory,
    facility: str,
    hour: int,
    agent_class: str | None,
    *,
    injected: bool = True,
    verified: bool = True,
    doc: tuple[int, int] | None = (22, 0),
    **session_args: Any,
) -> tuple[str, datetime]:
    """An ended session with the record's facts: agent class, injection, documentation score."""
    r = T0 + timedelta(hours=hour)
    sid = await session(
        db,
        d,
        facility,
        r,
        joined=session_args.pop("joined", 15),
        radiologist="drdiaz",
        agent_class=agent_class,
        injected_at=r + timedelta(seconds=120) if injected else None,
        injection_verified=verified if injected else None,
        documentation_required=doc[0] if doc else None,
        documentation_missing=doc[1] if doc else None,
        **session_args,
    )
    return sid, r


async def week_of_reactions(db: AsyncSession, d: Directory) -> None:
    n1, r = await exam(db, d, "NORTH", 1, "iodinated")
    await reaction(db, n1, r, onset=600, severity="moderate", intervened=640)
    await exam(db, d, "NORTH", 2, "iodinated", doc=(22, 2))
    # not under verified supervision, and a severe reaction despite premedication
    n3, r = await exam(db, d, "NORTH", 3, "iodinated", verified=False)
    await reaction(db, n3, r, onset=300, severity="severe", intervened=420, premedicated=True)
    n4, r = await exam(db, d, "NORTH", 4, "gadolinium", doc=(22, 11))
    await reaction(db, n4, r, onset=400, severity="mild")  # no intervention recorded
    await exam(db, d, "NORTH", 5, "gadolinium", doc=None)  # not scored
    await exam(db, d, "LAKE", 6, "iodinated", verified=False, doc=(13, 0))
    # a reaction before any injection was recorded: not in the rates
    l2, r = await exam(db, d, "LAKE", 7, "iodinated", injected=False, doc=(13, 13))
    await reaction(db, l2, r, onset=50, severity="mild", intervened=60)
    await exam(db, d, "LAKE", 8, None, injected=False, doc=(1, 0), joined=None)
    await exam(db, d, "NORTH", 9, "iodinated", ended=None)  # still open
    await exam(db, d, "WEST", 10, "iodinated", verified=False)  # not in the scope
    p1, r = await exam(db, d, "NORTH", -30, "iodinated")
    await reaction(db, p1, r, onset=200, severity="mild", intervened=230)
    await exam(db, d, "NORTH", -20, "iodinated")
    await db.commit()


async def test_rates_intervention_supervision_and_documentation_as_computed_by_hand(
    db: AsyncSession,
) -> None:
    """Rates per 1,000 injections by agent class and severity beside the published ranges, onset to
    intervention, unverified injections and documentation, against the week before."""
    d = await directory(db)
    await week_of_reactions(db, d)
    report = await reactions.report(db, d.scope("NORTH", "LAKE"), T0)
    assert report.key == "reactions"
    assert cards(report) == {
        "injections": (6, 2),
        "reactions_per_1000": (500.0, 500.0),
        "severe_per_1000": (pytest.approx(1000 / 6), 0.0),
        "breakthrough": (1, 0),
        "onset_to_intervention_p50_s": (near(40), near(30)),
        "onset_to_intervention_p90_s": (near(104), near(30)),
        "onset_to_intervention_max_s": (near(120), near(30)),
        "unverified_injections": (2, 0),
        "unverified_share": (pytest.approx(1 / 3), 0.0),
        "complete_share": (pytest.approx(4 / 7), 1.0),
        "documentation_score": (pytest.approx((5 + 20 / 22 + 0.5 - 1) / 7), 1.0),
    }
    rates = {(r["agent_class"], r["severity"]): r for r in rows(report, "rates")}
    assert list(rates) == [
        ("iodinated", "all"), ("iodinated", "mild"), ("iodinated", "moderate"),
        ("iodinated", "severe"), ("gadolinium", "all"), ("gadolinium", "mild"),
        ("gadolinium", "moderate"), ("gadolinium", "severe"),
    ]  # fmt: skip
    iodinated = rates[("iodinated", "all")]
    assert (iodinated["injections"], iodinated["reactions"], iodinated["per_1000"]) == (4, 2, 500.0)
    assert iodinated["breakthrough"] == 1
    assert (iodinated["reference_low"], iodinated["reference_high"]) == (1.5, 6.4)
    assert iodinated["against_reference"] == "above"
    assert "Mayo 2009" in str(iodinated["reference"])
    severe = rates[("iodinated", "severe")]
    assert (severe["reactions"], severe["per_1000"], severe["breakthrough"]) == (1, 250.0, 1)
    assert (severe["reference_low"], severe["reference_high"]) == (0.13, 0.2)
    assert rates[("iodinated", "mild")]["per_1000"] == 0.0
    assert rates[("iodinated", "mild")]["reference"] is None
    gad_severe = rates[("gadolinium", "severe")]
    assert (gad_severe["injections"], gad_severe["per_1000"]) == (2, 0.0)
    assert gad_severe["against_reference"] == "below"
    assert rates[("gadolinium", "mild")]["per_1000"] == 500.0

    own = {(r["facility"], r["agent_class"], r["severity"]): r for r in rows(report, "facility_rates")}  # fmt: skip
    assert list(own) == [
        ("Lakeside Imaging", "iodinated", "all"), ("Lakeside Imaging", "iodinated", "severe"),
        ("North Imaging Center", "iodinated", "all"), ("North Imaging Center", "iodinated", "severe"),
        ("North Imaging Center", "gadolinium", "all"), ("North Imaging Center", "gadolinium", "severe"),
    ]  # fmt: skip
    assert own[("Lakeside Imaging", "iodinated", "all")]["per_1000"] == 0.0
    assert own[("North Imaging Center", "iodinated", "all")]["per_1000"] == pytest.approx(2000 / 3)
    assert own[("North Imaging Center", "iodinated", "severe")]["per_1000"] == pytest.approx(
        1000 / 3
    )

    assert rows(report, "intervention") == [
        {"severity": "mild", "reactions": 2, "intervened": 1, "not_recorded": 1,
         "p50_s": near(10), "p90_s": near(10), "max_s": near(10)},
        {"severity": "moderate", "reactions": 1, "intervened": 1, "not_recorded": 0,
         "p50_s": near(40), "p90_s": near(40), "max_s": near(40)},
        {"severity": "severe", "reactions": 1, "intervened": 1, "not_recorded": 0,
         "p50_s": near(120), "p90_s": near(120), "max_s": near(120)},
    ]  # fmt: skip
    lake, north = rows(report, "supervision")
    assert lake == {
        "facility": "Lakeside Imaging", "sessions": 3, "injections": 1, "unverified": 1,
        "unverified_share": 1.0, "scored": 3, "complete": 2, "complete_share": pytest.approx(2 / 3),
        "score": pytest.approx(2 / 3),
    }  # fmt: skip
    assert north == {
        "facility": "North Imaging Center", "sessions": 5, "injections": 5, "unverified": 1,
        "unverified_share": 0.2, "scored": 4, "complete": 2, "complete_share": 0.5,
        "score": pytest.approx((2 + 20 / 22 + 0.5) / 4),
    }  # fmt: skip
    notes = " ".join(report.notes)
    assert "1 reaction(s) in sessions with no injection recorded: not in the rates." in notes
    assert "1 record(s) not scored for documentation yet." in notes
    assert "Records with a reaction: 2 of 4 complete (mean score 62%)." in notes
    assert "1 session still open, left out." in notes
    assert "meta-analysis 2018" in notes


async def test_nothing_at_all(db: AsyncSession) -> None:
    """No session: nothing injected, no rate, no time, no row."""
    d = await directory(db)
    report = await reactions.report(db, d.scope("NORTH", "LAKE"), T0)
    got = cards(report)
    assert got["injections"] == (0, 0)
    assert got["reactions_per_1000"] == (None, None)
    assert got["onset_to_intervention_p50_s"] == (None, None)
    assert got["unverified_share"] == (None, None)
    assert got["complete_share"] == (None, None)
    assert all(not t.rows for t in report.tables)


async def test_one_facility_sees_only_its_own(db: AsyncSession) -> None:
    """A scope of LAKE alone counts none of NORTH's injections or reactions."""
    d = await directory(db)
    await week_of_reactions(db, d)
    report = await reactions.report(db, d.scope("LAKE"), T0)
    assert report.facilities == ("Lakeside Imaging",)
    got = cards(report)
    assert got["injections"] == (1, 0)
    assert got["reactions_per_1000"] == (0.0, None)
    assert got["unverified_injections"] == (1, 0)
    assert got["onset_to_intervention_p50_s"] == (near(10), None)
    assert [r["facility"] for r in rows(report, "supervision")] == ["Lakeside Imaging"]
