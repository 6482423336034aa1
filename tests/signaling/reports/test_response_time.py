"""The response-time report against hand-computed figures, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports import response_time
from signaling.reports.scope import Band
from signaling.reports.shape import Report
from tests.signaling.reports.data import (
    add_accept,
    add_page,
    add_session,
    at,
    ids,
    joined_session,
    period,
)

MARCH = period("2026-03-02T06:00", "2026-03-09T05:00")  # Mon 2 to Sun 8 March, Chicago days
NOW = at("2026-06-01T00:00")


def cards(report: Report) -> dict[str, Any]:
    return {c.key: c.value for c in report.cards}


def previous(report: Report) -> dict[str, Any]:
    return {c.key: c.previous for c in report.cards}


def rows(report: Report, table: str) -> list[dict[str, Any]]:
    t = report.table(table)
    return [dict(zip((c.key for c in t.columns), row, strict=True)) for row in t.rows]


def nonzero(report: Report, table: str) -> list[dict[str, Any]]:
    return [r for r in rows(report, table) if r["sessions"]]


async def test_no_sessions_gives_zeros_and_nones(db: AsyncSession) -> None:
    """A period without sessions: 0 sessions, no percentiles or shares, every table well formed
    (the histogram's 19 bins, 24 hours, 7 weekdays and 168 cells of zeros)."""
    d = await ids(db)
    report = await response_time.report(db, d.scope(MARCH), NOW)
    assert cards(report) == {
        "sessions": 0,
        "p50_s": None,
        "p90_s": None,
        "p95_s": None,
        "max_s": None,
        **{f"share_{b.value}": None for b in Band},
    }
    assert previous(report)["sessions"] == 0
    assert report.facilities == ("North Imaging Center",)
    histogram = rows(report, "histogram")
    assert len(histogram) == 19
    assert {r["sessions"] for r in histogram} == {0}
    assert histogram[-1] == {"lo_s": 180, "hi_s": None, "sessions": 0}
    assert len(rows(report, "by_hour")) == 24
    assert len(rows(report, "by_weekday")) == 7
    assert len(rows(report, "weekday_hour")) == 168
    assert rows(report, "weekly") == []
    assert rows(report, "by_facility") == []


async def test_percentiles_and_bands_by_hand(db: AsyncSession) -> None:
    """Joins after 10, 20, 40, 70 and 100 s and one never: p50 40, p90 70 + 0.6 * 30 = 88,
    p95 94, max 100; a sixth in each band but two under 30 s; five in the histogram."""
    d = await ids(db)
    start = at("2026-03-03T15:00")
    for i, latency in enumerate((10.0, 20.0, 40.0, 70.0, 100.0)):
        await joined_session(db, d, start + timedelta(hours=i), latency)
    await add_session(db, d, start + timedelta(hours=6))
    report = await response_time.report(db, d.scope(MARCH), NOW)
    figures = cards(report)
    assert figures["sessions"] == 6
    assert (figures["p50_s"], figures["p90_s"], figures["p95_s"], figures["max_s"]) == (
        40.0,
        88.0,
        94.0,
        100.0,
    )
    assert figures["share_under_30"] == pytest.approx(2 / 6)
    for band in ("30_60", "60_90", "over_90", "unmeasured"):
        assert figures[f"share_{band}"] == pytest.approx(1 / 6)
    bins = {r["lo_s"]: r["sessions"] for r in rows(report, "histogram") if r["sessions"]}
    assert bins == {10: 1, 20: 1, 40: 1, 70: 1, 100: 1}
    (facility,) = rows(report, "by_facility")
    assert facility["facility"] == "North Imaging Center"
    assert (facility["sessions"], facility["p50_s"], facility["p90_s"]) == (6, 40.0, 88.0)
    assert facility["share_unmeasured"] == pytest.approx(1 / 6)


async def test_band_edges_are_exact(db: AsyncSession) -> None:
    """30.000 s is not under 30 s, 90.000 s is over 90 s, 180 s is in the 180+ bin: the same on
    SQLite as on PostgreSQL (seconds are exact on both)."""
    d = await ids(db)
    start = at("2026-03-04T15:00")
    latencies = (29.999, 30.0, 59.999, 60.0, 89.999, 90.0, 179.999, 180.0)
    for i, latency in enumerate(latencies):
        await joined_session(db, d, start + timedelta(minutes=10 * i), latency)
    report = await response_time.report(db, d.scope(MARCH), NOW)
    shares = cards(report)
    assert shares["share_under_30"] == pytest.approx(1 / 8)
    assert shares["share_30_60"] == pytest.approx(2 / 8)
    assert shares["share_60_90"] == pytest.approx(2 / 8)
    assert shares["share_over_90"] == pytest.approx(3 / 8)
    bins = {r["lo_s"]: r["sessions"] for r in rows(report, "histogram") if r["sessions"]}
    assert bins == {20: 1, 30: 1, 50: 1, 60: 1, 80: 1, 90: 1, 170: 1, 180: 1}
    under = await response_time.report(db, d.scope(MARCH, band=Band.UNDER_30), NOW)
    assert cards(under)["sessions"] == 1
    assert cards(under)["max_s"] == 29.999
    over = await response_time.report(db, d.scope(MARCH, band=Band.OVER_90), NOW)
    assert cards(over)["sessions"] == 3
    assert cards(over)["p50_s"] == 179.999


async def test_all_unmeasured(db: AsyncSession) -> None:
    """Three requests that ended without a join: all unmeasured, no percentile, nothing in the
    histogram; the weekly trend counts them over 90 s."""
    d = await ids(db)
    for hour in (14, 15, 16):
        await add_session(db, d, at(f"2026-03-05T{hour}:00"))
    report = await response_time.report(db, d.scope(MARCH), NOW)
    figures = cards(report)
    assert figures["sessions"] == 3
    assert figures["share_unmeasured"] == 1.0
    assert figures["share_under_30"] == 0.0
    assert figures["p90_s"] is None
    assert {r["sessions"] for r in rows(report, "histogram")} == {0}
    assert rows(report, "weekly") == [
        {"week": "2026-03-02", "sessions": 3, "p90_s": None, "share_over_90": 1.0}
    ]
    assert rows(report, "by_tier") == [
        {
            "tier": "nobody joined",
            "sessions": 3,
            "p50_s": None,
            "p90_s": None,
            **{f"share_{b.value}": 1.0 if b is Band.UNMEASURED else 0.0 for b in Band},
        }
    ]


async def test_open_sessions_are_left_out_and_counted(db: AsyncSession) -> None:
    """A session still paging is not in any figure; a note says one is open."""
    d = await ids(db)
    await joined_session(db, d, at("2026-03-05T15:00"), 12.0)
    await add_session(db, d, at("2026-03-05T16:00"), state="paging")
    report = await response_time.report(db, d.scope(MARCH), NOW)
    assert cards(report)["sessions"] == 1
    assert "1 session still open, left out." in report.notes


async def test_change_against_the_previous_period(db: AsyncSession) -> None:
    """This week one join in 20 s; the week before two, in 50 s and 100 s (median 75 s, one of two
    over 90 s): each card says both."""
    d = await ids(db)
    await joined_session(db, d, at("2026-03-04T15:00"), 20.0)
    await joined_session(db, d, at("2026-02-24T15:00"), 50.0)
    await joined_session(db, d, at("2026-02-25T15:00"), 100.0)
    await joined_session(db, d, at("2026-02-20T15:00"), 5.0)  # two weeks back: in neither
    report = await response_time.report(db, d.scope(MARCH), NOW)
    by_key = {c.key: c for c in report.cards}
    assert (by_key["sessions"].value, by_key["sessions"].previous) == (1, 2)
    assert (by_key["p50_s"].value, by_key["p50_s"].previous) == (20.0, 75.0)
    assert by_key["p50_s"].change == -55.0
    assert by_key["p50_s"].better == "lower"
    assert (by_key["share_over_90"].value, by_key["share_over_90"].previous) == (0.0, 0.5)
    assert by_key["share_under_30"].better == "higher"


async def test_a_request_before_midnight_in_new_york(db: AsyncSession) -> None:
    """At LAKE (New York) a request at 04:59:30 UTC on Monday 2 February is 23:59:30 on Sunday 1
    February there, joined 70 s later after midnight: hour 23, Sunday, the week of 26 January,
    February. And 04:30 UTC on 1 March is still 28 February there."""
    d = await ids(db)
    await joined_session(db, d, at("2026-02-02T04:59:30"), 70.0, "drdiaz", facility="LAKE")
    await joined_session(db, d, at("2026-03-01T04:30:00"), 20.0, "drdiaz", facility="LAKE")
    report = await response_time.report(
        db, d.scope(period("2026-01-26T05:00", "2026-03-09T05:00"), "LAKE"), NOW
    )
    assert [(r["hour"], r["sessions"]) for r in nonzero(report, "by_hour")] == [(23, 2)]
    assert [(r["day"], r["sessions"]) for r in nonzero(report, "by_weekday")] == [
        ("Sat", 1),
        ("Sun", 1),
    ]
    assert [(r["week"], r["sessions"]) for r in rows(report, "by_week")] == [
        ("2026-01-26", 1),
        ("2026-02-23", 1),
    ]
    assert [(r["month"], r["sessions"]) for r in rows(report, "by_month")] == [("2026-02", 2)]
    grid = [(r["weekday"], r["hour"], r["median_s"]) for r in nonzero(report, "weekday_hour")]
    assert grid == [(5, 23, 20.0), (6, 23, 70.0)]


async def test_the_days_daylight_saving_time_changes_in_chicago(db: AsyncSession) -> None:
    """NORTH (America/Chicago): on 8 March 2026 07:30 UTC is 01:30 CST and 08:30 UTC is 03:30 CDT
    (no 02:00 that day); on 1 November 06:30 and 07:30 UTC are both 01:30 (CDT, then CST)."""
    d = await ids(db)
    for when in (
        "2026-03-08T07:30",
        "2026-03-08T08:30",
        "2026-11-01T06:30",
        "2026-11-01T07:30",
    ):
        await joined_session(db, d, at(when), 15.0)
    report = await response_time.report(
        db, d.scope(period("2026-03-01T06:00", "2027-02-28T06:00")), NOW
    )
    assert [(r["hour"], r["sessions"]) for r in nonzero(report, "by_hour")] == [(1, 3), (3, 1)]
    assert [(r["day"], r["sessions"]) for r in nonzero(report, "by_weekday")] == [("Sun", 4)]
    assert [(r["week"], r["sessions"]) for r in rows(report, "by_week")] == [
        ("2026-03-02", 2),
        ("2026-10-26", 2),
    ]
    assert [(r["month"], r["sessions"]) for r in rows(report, "by_month")] == [
        ("2026-03", 2),
        ("2026-11", 2),
    ]


async def test_tier_channel_radiologist_room_and_modality(db: AsyncSession) -> None:
    """Dr Patel found in the first tier and accepting by SMS reply (12 s); Dr Diaz found in the
    second tier, on the web console, in the MRI suite (25 s); a request nobody joined; and a
    radiologist who joined without a page of hers being sent."""
    d = await ids(db)
    await joined_session(db, d, at("2026-03-03T15:00"), 12.0, "drpatel", tier=0, via="sms")
    await joined_session(
        db, d, at("2026-03-03T16:00"), 25.0, "drdiaz", tier=1, via="web", room="MR1"
    )
    await add_session(db, d, at("2026-03-03T17:00"))
    walked_in = await add_session(db, d, at("2026-03-03T18:00"), 8.0, radiologist="drpatel")
    await add_accept(db, d, walked_in, "drpatel", at("2026-03-03T18:00:07"), "voice")
    await add_page(db, d, walked_in, "drpatel", at("2026-03-03T18:00"), status="failed")
    report = await response_time.report(db, d.scope(MARCH), NOW)
    assert [(r["tier"], r["sessions"], r["p50_s"]) for r in rows(report, "by_tier")] == [
        ("tier 1", 1, 12.0),
        ("tier 2", 1, 25.0),
        ("not paged", 1, 8.0),
        ("nobody joined", 1, None),
    ]
    assert [(r["channel"], r["sessions"]) for r in rows(report, "by_channel")] == [
        ("SMS reply", 1),
        ("voice keypress", 1),
        ("app (web)", 1),
        ("nobody joined", 1),
    ]
    assert [(r["radiologist"], r["sessions"]) for r in rows(report, "by_radiologist")] == [
        ("Dr Anya Patel", 2),
        ("Dr Ray Diaz", 1),
        ("nobody joined", 1),
    ]
    assert [(r["room"], r["sessions"]) for r in rows(report, "by_room")] == [
        ("CT Room 1", 3),
        ("MRI Suite 1", 1),
    ]
    assert [(r["modality"], r["sessions"]) for r in rows(report, "by_modality")] == [
        ("CT", 3),
        ("MR", 1),
    ]


async def test_every_filter(db: AsyncSession) -> None:
    """Facility, room, modality, radiologist, outcome and band each narrow the sessions read, the
    previous period's too."""
    d = await ids(db)
    await joined_session(db, d, at("2026-03-03T15:00"), 12.0, "drpatel")
    await joined_session(db, d, at("2026-03-03T16:00"), 45.0, "drdiaz", room="MR1")
    await add_session(db, d, at("2026-03-03T17:00"))
    await joined_session(db, d, at("2026-03-03T18:00"), 95.0, "drdiaz", facility="LAKE")
    await joined_session(db, d, at("2026-02-24T15:00"), 33.0, "drdiaz", room="MR1")

    async def count(*codes: str, **filters: object) -> tuple[int, int]:
        report = await response_time.report(db, d.scope(MARCH, *codes, **filters), NOW)
        return cards(report)["sessions"], previous(report)["sessions"]

    assert await count("NORTH", "LAKE") == (4, 1)
    assert await count("LAKE") == (1, 0)
    assert await count("NORTH") == (3, 1)
    assert await count(room_ids=frozenset({d.rooms[("NORTH", "MR1")]})) == (1, 1)
    assert await count("NORTH", "LAKE", modality="MR") == (1, 1)
    assert await count("NORTH", "LAKE", radiologist_id=d.users["drdiaz"]) == (2, 1)
    assert await count("NORTH", "LAKE", outcome="cancelled") == (1, 0)
    assert await count("NORTH", "LAKE", band=Band.S30_60) == (1, 1)
    assert await count("NORTH", "LAKE", band=Band.UNMEASURED) == (1, 0)
    assert await count("NORTH", "LAKE", band=Band.OVER_90, radiologist_id=d.users["drdiaz"]) == (
        1,
        0,
    )


async def test_weekly_trend_and_weekday_by_hour(db: AsyncSession) -> None:
    """Two weeks: the first with joins in 20 and 100 s (p90 92 s, half over 90 s), the second with
    one unmeasured and one 40 s join; each in its facility-time cell with its median."""
    d = await ids(db)
    await joined_session(db, d, at("2026-03-03T15:00"), 20.0)  # Tue 09:00 CST
    await joined_session(db, d, at("2026-03-03T15:30"), 100.0)
    await add_session(db, d, at("2026-03-10T14:00"))  # Tue 09:00 CDT
    await joined_session(db, d, at("2026-03-12T20:00"), 40.0)  # Thu 15:00 CDT
    report = await response_time.report(
        db, d.scope(period("2026-03-02T06:00", "2026-03-16T05:00")), NOW
    )
    assert rows(report, "weekly") == [
        {"week": "2026-03-02", "sessions": 2, "p90_s": 92.0, "share_over_90": 0.5},
        {"week": "2026-03-09", "sessions": 2, "p90_s": 40.0, "share_over_90": 0.5},
    ]
    assert [
        (r["weekday"], r["hour"], r["sessions"], r["median_s"])
        for r in nonzero(report, "weekday_hour")
    ] == [(1, 9, 3, 60.0), (3, 15, 1, 40.0)]


async def test_before_and_after(db: AsyncSession) -> None:
    """Range A (February week) with joins in 50 s and 100 s beside range B (March week) with one
    in 20 s: each card's previous is A, its value B; a row per range and per facility."""
    d = await ids(db)
    await joined_session(db, d, at("2026-02-24T15:00"), 50.0)
    await joined_session(db, d, at("2026-02-25T15:00"), 100.0)
    await joined_session(db, d, at("2026-03-04T15:00"), 20.0)
    a = d.scope(period("2026-02-23T06:00", "2026-03-02T06:00"))
    b = d.scope(MARCH)
    report = await response_time.before_after(db, a, b, NOW)
    assert report.key == "before_after"
    assert (cards(report)["p50_s"], previous(report)["p50_s"]) == (20.0, 75.0)
    assert [(r["range"], r["sessions"], r["p90_s"]) for r in rows(report, "ranges")] == [
        ("A", 2, 95.0),
        ("B", 1, 20.0),
    ]
    assert rows(report, "by_facility") == [
        {
            "facility": "North Imaging Center",
            "sessions_a": 2,
            "p90_s_a": 95.0,
            "share_over_90_a": 0.5,
            "sessions_b": 1,
            "p90_s_b": 20.0,
            "share_over_90_b": 0.0,
        }
    ]
