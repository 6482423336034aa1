"""Migration 0012 back-fills the packed latency facts of every ended, marked session exactly as
``signaling.reports.latency_facts`` writes them, and goes back down cleanly."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import inspect, update

from signaling.reports import latency_facts
from signaling.storage.database import alembic_config, make_engine, make_session_factory
from signaling.storage.models import SupervisionSession
from tests.signaling.reports.data import add_session, at, ids, joined_session, stored_facts

S = SupervisionSession


async def test_the_facts_of_sessions_ended_before_0012_are_back_filled(database_url: str) -> None:
    """Down to 0011 (no facts table), three sessions ended and marked; up again: PostgreSQL holds
    their records as a rebuild writes them, SQLite none."""
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0011_report_marks")
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert "report_facts" not in tables
        factory = make_session_factory(engine)
        async with factory() as db, db.begin():
            d = await ids(db)
            first = await joined_session(db, d, at("2026-03-04T15:00"), 41.5, tier=1, via="sms")
            await joined_session(db, d, at("2026-03-05T01:00"), 95.0, "drdiaz")
            await add_session(db, d, at("2026-03-05T02:00"))
            # Marked as 0011's code marked them (its back-fill, or a session's end).
            await db.execute(update(S).values(marked_at=at("2026-03-06T00:00")))
            await db.execute(
                update(S).where(S.id == first).values(found_tier=1, accepted_via="sms")
            )
        await asyncio.to_thread(command.upgrade, config, "head")
        async with factory() as db, db.begin():
            back_filled = await stored_facts(db)
            if db.get_bind().dialect.name != "postgresql":
                assert back_filled == {}
                return
            assert sum(sum(c.values()) for c in back_filled.values()) == 3
            s = await db.get(S, first)
            assert s is not None
            assert latency_facts.pack(s) in back_filled[(s.facility_id, s.requested_at.date())]
            await latency_facts.rebuild(db)
            assert await stored_facts(db) == back_filled
    finally:
        await engine.dispose()
