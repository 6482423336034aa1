"""The radiologist-load report against hand-computed figures, on SQLite and on PostgreSQL, the
pages and accepts read by session and by time (``scoped.BY_SESSION_BELOW``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports import radiologist_load, scoped
from signaling.reports.shape import Report
from tests.signaling.reports.data import Ids, add_accept, add_page, add_session, at, ids, period

WEEK = period("2026-03-02T06:00", "2026-03-09T05:00")
NOW = at("2026-06-01T00:00")


@pytest.fixture(autouse=True, params=["by_session", "by_time"])
def reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test twice: the few sessions' rows read by session (as for a facility's year), and by
    time (as for many sessions)."""
    monkeypatch.setattr(scoped, "BY_SESSION_BELOW", 10**9 if request.param == "by_session" else 0)


def people(report: Report) -> dict[str, dict[str, Any]]:
    t = report.table("radiologists")
    keys = [c.key for c in t.columns]
    return {row[0]: dict(zip(keys, row, strict=True)) for row in t.rows}  # type: ignore[misc]


def cards(report: Report) -> dict[str, Any]:
    return {c.key: (c.value, c.previous) for c in report.cards}


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


async def _three_requests(db: AsyncSession, d: Ids) -> None:
    """A: Dr Diaz paged on two channels, accepts by SMS, joins in 25 s; Dr Patel, paged in the
    second tier, misses it. B: Dr Patel accepts on the web but Dr Diaz (second tier) joins in 40 s.
    C: Dr Diaz paged, nobody comes, cancelled."""
    a = at("2026-03-04T15:00")
    sid = await add_session(db, d, a, 25.0, radiologist="drdiaz")
    await add_page(db, d, sid, "drdiaz", a, channel="in_app")
    await add_page(db, d, sid, "drdiaz", a + s(1), channel="sms")
    await add_page(db, d, sid, "drpatel", a + s(10), tier=1)
    await add_accept(db, d, sid, "drdiaz", a + s(20), "sms")
    b = at("2026-03-04T17:00")
    sid = await add_session(db, d, b, 40.0, radiologist="drdiaz")
    await add_page(db, d, sid, "drpatel", b)
    await add_accept(db, d, sid, "drpatel", b + s(5), "web")
    await add_page(db, d, sid, "drdiaz", b + s(10), tier=1)
    await add_accept(db, d, sid, "drdiaz", b + s(39), "web")
    c = at("2026-03-04T19:00")
    sid = await add_session(db, d, c)
    await add_page(db, d, sid, "drdiaz", c)


async def test_no_pages(db: AsyncSession) -> None:
    """Nothing happened: no rows, every card 0 against 0."""
    d = await ids(db)
    report = await radiologist_load.report(db, d.scope(WEEK), NOW)
    assert report.table("radiologists").rows == ()
    assert {v for v in cards(report).values()} == {(0, 0)}


async def test_received_accepted_joined_missed_and_page_to_join(db: AsyncSession) -> None:
    """Dr Diaz: 3 pages (two channels a second apart are one), 2 accepted, 2 joined, C missed,
    page to join 25 s and 30 s (median 27.5, p95 29.75). Dr Patel: 2 pages, 1 accepted, A missed
    (someone else took it), B not (she accepted)."""
    d = await ids(db)
    await _three_requests(db, d)
    report = await radiologist_load.report(db, d.scope(WEEK), NOW)
    diaz, patel = people(report)["Dr Ray Diaz"], people(report)["Dr Anya Patel"]
    assert (diaz["pages"], diaz["accepted"], diaz["joined"], diaz["missed"]) == (3, 2, 2, 1)
    assert (diaz["p50_page_to_join_s"], diaz["p95_page_to_join_s"]) == (27.5, 29.75)
    assert (patel["pages"], patel["accepted"], patel["joined"], patel["missed"]) == (2, 1, 0, 1)
    assert patel["p50_page_to_join_s"] is None
    assert diaz["business"] == 3
    assert patel["business"] == 2
    figures = cards(report)
    assert figures["pages"] == (5, 0)
    assert figures["missed"] == (2, 0)
    assert figures["accepted"] == (3, 0)
    assert figures["joined"] == (2, 0)


async def test_pages_less_than_a_minute_apart_count_once(db: AsyncSession) -> None:
    """Dr Patel paged at 0, 30 and 50 s (one request), then at 115 s and 175 s (another): gaps of
    30, 20, 65 and 60 s; the first, the fourth and the fifth count. Dr Diaz paged every 50 s
    across three minutes: once."""
    d = await ids(db)
    t0 = at("2026-03-04T15:00")
    first = await add_session(db, d, t0)
    for offset, channel in ((0, "in_app"), (30, "sms"), (50, "voice")):
        await add_page(db, d, first, "drpatel", t0 + s(offset), channel=channel)
    second = await add_session(db, d, t0 + s(110))
    await add_page(db, d, second, "drpatel", t0 + s(115))
    await add_page(db, d, second, "drpatel", t0 + s(175), tier=1)
    chain = await add_session(db, d, t0)  # Dr Diaz: every 50 s for 2.5 minutes, one burst
    for offset in (0, 50, 100, 150):
        await add_page(db, d, chain, "drdiaz", t0 + s(offset))
    report = await radiologist_load.report(db, d.scope(WEEK), NOW)
    assert people(report)["Dr Anya Patel"]["pages"] == 3
    assert people(report)["Dr Anya Patel"]["missed"] == 2
    assert people(report)["Dr Ray Diaz"]["pages"] == 1


async def test_interruptions_in_each_persons_own_time(db: AsyncSession) -> None:
    """At 13:30 UTC on Wednesday 4 March Dr Diaz (New York) is in business hours (08:30) and Dr
    Patel (Chicago) asleep (07:30); at 03:30 UTC that day Dr Diaz is asleep (Tue 22:30) and Dr
    Patel off-hours (21:30). Dr Bay has no zone of her own: GULF's Chicago time, Saturday 10:00,
    is off-hours, and a note says so."""
    d = await ids(db)
    for when in ("2026-03-04T13:30", "2026-03-04T03:30"):
        sid = await add_session(db, d, at(when))
        await add_page(db, d, sid, "drdiaz", at(when))
        await add_page(db, d, sid, "drpatel", at(when))
    gulf = await add_session(db, d, at("2026-03-07T16:00"), facility="GULF")
    await add_page(db, d, gulf, "drbay", at("2026-03-07T16:00"))
    report = await radiologist_load.report(db, d.scope(WEEK, "NORTH", "GULF"), NOW)
    found = people(report)
    hours = {
        name: (row["business"], row["off_hours"], row["sleep"], row["timezone"])
        for name, row in found.items()
    }
    assert hours == {
        "Dr Ray Diaz": (1, 0, 1, "America/New_York"),
        "Dr Anya Patel": (0, 1, 1, "America/Chicago"),
        "Dr Mae Bay": (0, 1, 0, "facility's"),
    }
    assert any(
        n.startswith("No time zone of their own") and "Dr Mae Bay" in n for n in report.notes
    )
    assert cards(report)["sleep"] == (2, 0)
    assert cards(report)["off_hours"] == (2, 0)


async def test_interruptions_on_the_days_the_clocks_change(db: AsyncSession) -> None:
    """Sunday 8 March 12:30 UTC is 08:30 EDT in New York (the clocks went forward at 07:00 UTC):
    off-hours for Dr Diaz, not sleep. Sunday 1 November 13:30 UTC is 07:30 CST in Chicago (they
    went back at 07:00 UTC): sleep for Dr Patel."""
    d = await ids(db)
    spring = await add_session(db, d, at("2026-03-08T12:30"))
    await add_page(db, d, spring, "drdiaz", at("2026-03-08T12:30"))
    autumn = await add_session(db, d, at("2026-11-01T13:30"))
    await add_page(db, d, autumn, "drpatel", at("2026-11-01T13:30"))
    report = await radiologist_load.report(
        db, d.scope(period("2026-03-01T06:00", "2027-02-28T06:00")), NOW
    )
    found = people(report)
    assert (found["Dr Ray Diaz"]["off_hours"], found["Dr Ray Diaz"]["sleep"]) == (1, 0)
    assert (found["Dr Anya Patel"]["off_hours"], found["Dr Anya Patel"]["sleep"]) == (0, 1)


async def test_the_radiologist_filter_picks_a_persons_row(db: AsyncSession) -> None:
    """Filtered to Dr Patel: her row only, with the request she missed (which Dr Diaz took)."""
    d = await ids(db)
    await _three_requests(db, d)
    report = await radiologist_load.report(
        db, d.scope(WEEK, radiologist_id=d.users["drpatel"]), NOW
    )
    assert list(people(report)) == ["Dr Anya Patel"]
    assert people(report)["Dr Anya Patel"]["missed"] == 1
    assert cards(report)["pages"] == (2, 0)


async def test_filters_and_the_previous_period(db: AsyncSession) -> None:
    """The week before, Dr Patel was paged once in the MRI suite: the cards' previous figures;
    filtered to CT, the week before had nothing."""
    d = await ids(db)
    await _three_requests(db, d)
    before = at("2026-02-25T15:00")
    sid = await add_session(db, d, before, room="MR1")
    await add_page(db, d, sid, "drpatel", before)
    report = await radiologist_load.report(db, d.scope(WEEK), NOW)
    assert cards(report)["pages"] == (5, 1)
    assert cards(report)["missed"] == (2, 1)
    ct = await radiologist_load.report(db, d.scope(WEEK, modality="CT"), NOW)
    assert cards(ct)["pages"] == (5, 0)
    mr = await radiologist_load.report(db, d.scope(WEEK, modality="MR"), NOW)
    assert people(mr) == {}
    assert cards(mr)["pages"] == (0, 1)
