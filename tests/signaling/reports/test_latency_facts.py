"""The response-time report's packed facts (``signaling.reports.latency_facts``) and the numpy
grouping over them (``signaling.reports.fact_groups``): what is appended as sessions end is what
a rebuild from the sessions writes, and local times come out as ``zoneinfo`` gives them, across
every kind of offset change."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports import latency_facts, marks
from signaling.reports.fact_groups import local_us
from signaling.storage.models import SupervisionSession
from tests.signaling.reports.data import add_session, at, ids, joined_session, stored_facts

S = SupervisionSession


async def test_facts_appended_as_sessions_end_are_those_a_rebuild_writes(db: AsyncSession) -> None:
    """Sessions marked one at a time as they end and in bulk (a join by SMS found in tier 1, one
    never joined, one across UTC midnight, one in another facility), on PostgreSQL: the records
    appended are byte for byte what ``rebuild`` writes from the sessions, and each carries the
    session's figures. SQLite keeps none (its reports read the sessions)."""
    d = await ids(db)
    first = await joined_session(db, d, at("2026-03-04T15:00:00.123456"), 41.5, tier=1, via="sms")
    await add_session(db, d, at("2026-03-04T23:59:59"))  # never joined: cancelled
    late = await joined_session(db, d, at("2026-03-04T23:59:30"), 45.0, "drdiaz")
    await joined_session(db, d, at("2026-03-05T08:00"), 12.0, facility="LAKE")
    s = await db.get(S, first)
    assert s is not None
    await marks.session_ended(db, s)  # as the end does it
    await db.flush()
    assert await marks.settle(db) is True  # the other three, in bulk
    stored = await stored_facts(db)
    if db.get_bind().dialect.name != "postgresql":
        assert stored == {}
        return
    north, lake = d.facilities["NORTH"], d.facilities["LAKE"]
    day = at("2026-03-04T00:00").date()
    assert sum(stored[(north, day)].values()) == 3  # the late join is of the 4th, UTC
    assert sum(stored[(lake, day + timedelta(days=1))].values()) == 1
    record = next(iter(stored[(north, day)] - Counter()))
    assert len(record) == 30
    assert latency_facts.RECORD.unpack(latency_facts.pack(s)) == (
        int(at("2026-03-04T15:00:00.123456").timestamp() * 1_000_000),
        41_500_000,
        s.room_id,
        d.users["drpatel"],
        1,
        latency_facts.VIAS.index("sms"),
        latency_facts.OUTCOMES.index("completed"),
    )
    assert latency_facts.pack(s) in stored[(north, day)]
    late_s = await db.get(S, late)
    assert late_s is not None
    assert latency_facts.pack(late_s) in stored[(north, day)]
    await latency_facts.rebuild(db)
    assert await stored_facts(db) == stored


async def test_facts_read_back_within_the_period_only(db: AsyncSession) -> None:
    """``read`` returns each facility's records of sessions requested in ``[start, end)``,
    though it reads whole UTC days (SQLite: none kept, none read)."""
    d = await ids(db)
    for hour in (0, 6, 12, 18):
        await joined_session(db, d, at(f"2026-03-04T{hour:02d}:00"), 20.0)
    await marks.settle(db)
    north = d.facilities["NORTH"]
    found = await latency_facts.read(db, [north], at("2026-03-04T06:00"), at("2026-03-04T18:00"))
    if db.get_bind().dialect.name != "postgresql":
        assert found == {}
        return
    requested = sorted(int(v) for v in found[north]["requested_us"])
    assert requested == [int(at(f"2026-03-04T{h:02d}:00").timestamp()) * 10**6 for h in (6, 12)]
    assert await latency_facts.read(db, [north], at("2026-03-05"), at("2026-03-06")) == {}


@pytest.mark.parametrize(
    "zone",
    [
        "America/New_York",  # an hour forward and back at 02:00 local
        "Australia/Lord_Howe",  # half an hour
        "Asia/Kolkata",  # +05:30, no changes
        "America/St_Johns",  # -03:30 with changes
        "Pacific/Apia",  # skipped a whole day at the end of 2011
        "UTC",
    ],
)
def test_local_times_are_those_zoneinfo_gives(zone: str) -> None:
    """Random instants over two years and every second around each change: the local wall time
    ``local_us`` computes is ``zoneinfo``'s."""
    tz = ZoneInfo(zone)
    rng = random.Random(zone)
    start = datetime(2011, 1, 1, tzinfo=UTC) if zone == "Pacific/Apia" else at("2025-06-01")
    span = int(timedelta(days=730).total_seconds())
    seconds = [int(start.timestamp()) + rng.randrange(span) for _ in range(3000)]
    for transition in _changes(tz, start, span):
        seconds += range(transition - 3, transition + 3)
    instants = np.array([s * 1_000_000 + rng.randrange(1_000_000) for s in seconds], np.int64)
    got = local_us(tz, instants)
    for utc, local in zip(instants.tolist(), got.tolist(), strict=True):
        wall = datetime.fromtimestamp(utc / 1e6, UTC).astimezone(tz).replace(tzinfo=UTC)
        expected = int(wall.timestamp()) * 1_000_000 + wall.microsecond
        assert local == expected, datetime.fromtimestamp(utc / 1e6, UTC)


def _changes(tz: ZoneInfo, start: datetime, span: int) -> list[int]:
    """The instants (epoch seconds) at which ``tz``'s offset changes, found hour by hour."""
    found = []
    t = int(start.timestamp())
    before = datetime.fromtimestamp(t, UTC).astimezone(tz).utcoffset()
    for hour in range(0, span, 1800):
        now = datetime.fromtimestamp(t + hour, UTC).astimezone(tz).utcoffset()
        if now != before:
            found.append(t + hour)
            before = now
    return found
