"""PostgreSQL (in the database) and SQLite (in Python) give the very same reports: the same
few hundred sessions in both, across time zones, the clocks changing, band edges, unmeasured
joins, pages on several channels and tiers; every figure equal, to the last digit."""

from __future__ import annotations

import asyncio
import random
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports import radiologist_load, response_time
from signaling.reports.scope import Band, Scope
from signaling.reports.shape import Report
from signaling.storage.database import make_engine, make_session_factory
from tests.conftest import RUN_ID, _pg, drop_pg_database, pg_url
from tests.signaling.reports.data import (
    accept_row,
    at,
    ids,
    insert_rows,
    page_row,
    period,
    session_row,
)

NOW = at("2026-06-01T00:00")
START = at("2026-02-16T06:00")
PEOPLE = {
    "NORTH": ["drdiaz", "drpatel"],
    "LAKE": ["drdiaz"],
    "EAST": ["drpatel", "drdiaz"],
    "GULF": ["drbay", "drcove", "drdune"],
    "WEST": ["drcove"],
}
EDGES = (29.999, 30.0, 59.999, 60.0, 89.999, 90.0, 179.999, 180.0)


async def _history(db: AsyncSession, seed: int = 11) -> None:
    """Four weeks of requests every 4 or 5 hours at each facility (the last still open), from
    pseudo-random choices that are the same for every database."""
    rnd = random.Random(seed)
    d = await ids(db)
    sessions, sent, accepts = [], [], []
    when = START
    while when < START + timedelta(days=28):
        for facility, people in PEOPLE.items():
            requested = when + timedelta(
                minutes=rnd.randrange(0, 120), microseconds=rnd.randrange(10**6)
            )
            roll = rnd.random()
            latency = (
                None
                if roll < 0.12
                else rnd.choice(EDGES)
                if roll < 0.2
                else round(rnd.uniform(2, 240), 6)
            )
            paged = rnd.sample(people, k=rnd.randint(1, len(people)))
            taker = rnd.choice(paged) if latency is not None or rnd.random() < 0.2 else None
            row = session_row(
                d,
                requested,
                latency if taker else None,
                facility=facility,
                room=rnd.choice(sorted(r for (f, r) in d.rooms if f == facility)),
                radiologist=taker,
                state="paging" if requested > START + timedelta(days=27, hours=20) else "ended",
                ended_s=rnd.choice((600.0, 1800.0)),
            )
            sessions.append(row)
            sid = row["id"]
            for tier, person in enumerate(paged):
                for channel in rnd.sample(["in_app", "sms", "voice"], k=rnd.randint(1, 3)):
                    at_ = requested + timedelta(seconds=10 * tier + rnd.uniform(0, 3))
                    status = "failed" if rnd.random() < 0.1 else "sent"
                    sent.append(
                        page_row(d, sid, person, at_, tier=tier, channel=channel, status=status)
                    )
            if taker is not None:
                accept_s = max(0.5, (latency or 60.0) - rnd.uniform(0, 3))
                via = rnd.choice(["web", "sms", "voice"])
                accepts.append(
                    accept_row(d, sid, taker, requested + timedelta(seconds=accept_s), via)
                )
            for other in (p for p in paged if p != taker):
                if rnd.random() < 0.3:
                    accepts.append(accept_row(d, sid, other, requested + timedelta(seconds=15)))
        when += timedelta(hours=rnd.choice((4, 5)))
    await insert_rows(db, sessions, sent, accepts)


@pytest.fixture(scope="module")
def both(
    sqlite_template: Path, pg_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """The same history in a SQLite and a PostgreSQL database."""
    lite = tmp_path_factory.mktemp("same") / "standby.db"
    shutil.copyfile(sqlite_template, lite)
    name = f"standby_test_{RUN_ID}_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    urls = (f"sqlite+aiosqlite:///{lite}", pg_url(name))

    async def fill(url: str) -> None:
        engine = make_engine(url)
        try:
            async with make_session_factory(engine)() as db, db.begin():
                await _history(db)
        finally:
            await engine.dispose()

    for url in urls:
        asyncio.run(fill(url))
    try:
        yield urls
    finally:
        asyncio.run(drop_pg_database(name))


@pytest.fixture
async def sessions(both: tuple[str, str]) -> AsyncIterator[tuple[AsyncSession, AsyncSession]]:
    engines = [make_engine(url) for url in both]
    try:
        async with (
            make_session_factory(engines[0])() as lite,
            make_session_factory(engines[1])() as pg,
        ):
            yield lite, pg
    finally:
        for engine in engines:
            await engine.dispose()


async def _scopes(db: AsyncSession) -> list[Scope]:
    d = await ids(db)
    month = period("2026-02-23T06:00", "2026-03-23T05:00")
    everywhere = d.scope(month, *PEOPLE)
    return [
        everywhere,
        d.scope(month, "NORTH"),
        d.scope(month, "GULF", "WEST"),
        *(replace(everywhere, filters=replace(everywhere.filters, band=b)) for b in Band),
        d.scope(month, *PEOPLE, radiologist_id=d.users["drdiaz"]),
        d.scope(month, *PEOPLE, modality="MR", outcome="completed"),
        d.scope(month, *PEOPLE, room_ids=frozenset({d.rooms[("NORTH", "MR1")]})),
    ]


async def test_both_databases_give_the_same_reports(
    sessions: tuple[AsyncSession, AsyncSession],
) -> None:
    lite, pg = sessions
    scopes = await _scopes(lite)
    assert scopes == await _scopes(pg)
    compared: list[Report] = []
    for scope in scopes:
        for run in (response_time.report, radiologist_load.report):
            from_sqlite = await run(lite, scope, NOW)
            assert from_sqlite == await run(pg, scope, NOW), f"{from_sqlite.key} {scope}"
            compared.append(from_sqlite)
    a, b = scopes[0].previous(), scopes[0]
    assert await response_time.before_after(lite, a, b, NOW) == await response_time.before_after(
        pg, a, b, NOW
    )
    # The history is rich enough to compare something: every band, tier, channel and hour.
    main = compared[0]
    figures = {c.key: c.value for c in main.cards}
    assert isinstance(figures["sessions"], int)
    assert figures["sessions"] > 400
    assert all(figures[f"share_{b.value}"] for b in Band)
    assert [r[0] for r in main.table("by_tier").rows] == [
        "tier 1",
        "tier 2",
        "tier 3",
        "not paged",
        "nobody joined",
    ]
    assert len(main.table("by_channel").rows) == 4
    assert all(row[1] for row in main.table("by_hour").rows)
    load = {c.key: c.value for c in compared[1].cards}
    assert len(compared[1].table("radiologists").rows) == 5
    assert all(load[k] for k in ("pages", "accepted", "joined", "missed", "sleep", "off_hours"))
    assert any("still open" in note for note in main.notes)
