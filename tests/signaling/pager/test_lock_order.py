"""Joining while the pager fires the same session's timer: one lock order, so no deadlock."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.live import LiveServer, api, login
from tests.signaling.helpers import get_session, open_session


def _asyncpg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _until_waiting_on_a_lock(admin: asyncpg.Connection, database: str) -> None:
    for _ in range(200):
        waiting = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
            database,
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the join never waited for the timer the pager holds")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_join_while_the_pager_fires_a_timer_of_the_session(server: LiveServer) -> None:
    """The pager holds a pending timer of the session and then updates its run (as firing the
    exhaustion timer does) while the radiologist joins: the join waits and succeeds, no deadlock."""
    tech, rad = await login(server, "tech"), await login(server, "drdiaz")
    session = await open_session(server, tech)
    url = _asyncpg_url(server.settings.database_url)
    database = url.rsplit("/", 1)[1]
    pager, admin = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        firing = pager.transaction()
        await firing.start()
        timer = await pager.fetchval(
            "SELECT id FROM paging_timers WHERE session_id = $1 AND done_at IS NULL "
            "ORDER BY id LIMIT 1 FOR UPDATE",
            session["id"],
        )
        assert timer is not None, "the session has a pending timer"

        async def join() -> tuple[int, str]:
            async with api(server, rad) as client:
                response = await client.post(f"/api/sessions/{session['id']}/join")
            return response.status_code, response.text

        joining = asyncio.create_task(join())
        await _until_waiting_on_a_lock(admin, database)
        await pager.execute(
            "UPDATE paging_runs SET state = state WHERE session_id = $1", session["id"]
        )
        await firing.commit()
        status, body = await asyncio.wait_for(joining, 30)
    finally:
        await pager.close()
        await admin.close()
    assert status == 200, body
    stored = await get_session(server, rad, session["id"])
    assert stored["radiologist"]["full_name"] == "Dr Ray Diaz"
