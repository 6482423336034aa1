"""Migration 0011 back-fills the pager's marks of the sessions ended before it, as
``signaling.reports.marks`` writes them for a session ending now, and goes back down cleanly."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import inspect

from signaling.storage.database import alembic_config, make_engine, make_session_factory
from tests.signaling.reports.data import ids
from tests.signaling.reports.test_marks import _expected, _page_marks, _session_marks, _story


async def test_the_marks_of_sessions_ended_before_0011_are_back_filled(database_url: str) -> None:
    """Down to 0010 (the marks' columns gone), the story of the marks' own tests written as rows
    of 0010; up again: every sent page and both sessions carry the marks the live code gives."""
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0010_record_facts")
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("paging_pages")}
            )
        assert "interrupts" not in columns
        factory = make_session_factory(engine)
        async with factory() as db, db.begin():
            d = await ids(db)
            sid = await _story(db, d)
        await asyncio.to_thread(command.upgrade, config, "head")
        async with factory() as db:
            assert await _page_marks(db) == _expected(d, sid)
            assert await _session_marks(db, sid["a"]) == (1, "sms", True)
            assert await _session_marks(db, sid["b"]) == (None, None, True)  # nobody joined
    finally:
        await engine.dispose()
