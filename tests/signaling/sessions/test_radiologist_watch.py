"""The re-page rule on the server (issue 9 item 6), with two `standby serve` workers sharing one
PostgreSQL database and one Redis prefix: the rule holds when the technologist's page is gone too,
when the worker holding the technologist's socket is killed -9, and when both pages are gone; it
never pages around a radiologist whose media is live, and two workers re-page once, not twice.

EAST (tests/directory.yaml) pages Dr Patel at T+0 and Dr Diaz at T+1 s; the re-page window is 1.5 s
(STANDBY_REPAGE_AFTER_S). The pages' ``stats`` are sent by the test, so "the radiologist's media
stops reaching the technologist" is exact: the technologist's counters stop. PostgreSQL only:
several processes on one SQLite file is a trial setup, not a production one.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from paging.store import runs
from signaling.config import Settings
from signaling.storage.database import make_engine, make_session_factory
from signaling.storage.models import SessionRepage
from tests.conftest import REDIS_URL
from tests.live import (
    LiveServer,
    Socket,
    connect,
    free_port,
    login,
    serve_process,
    wait_healthy,
)
from tests.signaling.helpers import (
    get_session,
    join_request,
    open_session,
    room_id,
    stats,
    until_link,
)
from tests.signaling.sessions.test_media_loss import (
    events_of,
    keep_reporting,
    ms_between,
    report,
    until_session,
)

pytestmark = [
    pytest.mark.redis,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

WINDOW_S = 1.5


@dataclass
class Worker:
    server: LiveServer
    process: subprocess.Popen[bytes]
    log: Path

    def kill9(self) -> datetime:
        """SIGKILL: no shutdown, no goodbye on any socket, connections cut by the kernel."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        assert self.process.returncode == -signal.SIGKILL
        return datetime.now(UTC)


@pytest.fixture
def workers(
    database_url: str, redis_prefix: str, tmp_path: Path
) -> Iterator[tuple[Worker, Worker]]:
    """Two workers, A and B, on one database and one Redis, with a 1.5 s re-page window."""
    env = {
        "STANDBY_ENVIRONMENT": "test",
        "STANDBY_SECRET_KEY": secrets.token_urlsafe(48),
        "STANDBY_DATABASE_URL": database_url,
        "STANDBY_REDIS_URL": REDIS_URL,
        "STANDBY_REDIS_PREFIX": redis_prefix,
        "STANDBY_PUBLIC_BASE_URL": f"http://127.0.0.1:{free_port()}",
        "STANDBY_LOG_LEVEL": "WARNING",
        "STANDBY_REPAGE_AFTER_S": str(WINDOW_S),
    }
    settings = Settings(**{k.removeprefix("STANDBY_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]
    with contextlib.ExitStack() as stack:
        pair = []
        for name in ("a", "b"):
            port, log = free_port(), tmp_path / f"worker-{name}.log"
            process = stack.enter_context(serve_process(env, port, log))
            pair.append(Worker(LiveServer(settings, port), process, log))
        for worker in pair:
            wait_healthy(worker.server.url, worker.process, worker.log.read_text, timeout=90)
        yield pair[0], pair[1]


@dataclass
class Call:
    session_id: str
    tech: str  # tokens
    patel: str
    first: dict[str, Any]  # the session as first joined


@contextlib.asynccontextmanager
async def joined_on(
    tech_at: LiveServer, patel_at: LiveServer
) -> AsyncIterator[tuple[Call, Socket, Socket]]:
    """An EAST session joined by Dr Patel, the technologist's socket on ``tech_at`` and hers on
    ``patel_at``, media verified and the link verified two-way live."""
    tech, patel = await login(tech_at, "techeast"), await login(patel_at, "drpatel")
    room = await room_id(tech_at, tech, "East Side Imaging")
    session = await open_session(tech_at, tech, room_id=room)
    await join_request(patel_at, patel, session["id"])
    async with connect(tech_at, tech) as t, connect(patel_at, patel) as r:
        for ws in (t, r):
            await ws.send({"type": "join", "session_id": session["id"]})
            await ws.expect("joined")
        for ws in (t, r):
            await ws.send({"type": "media_state", "video": True, "audio": True})
        first = await until_session(t, lambda s: s["state"] == "joined")
        for n in range(1, 4):
            await report(t, r, n)
            await asyncio.sleep(0.3)
        await until_link(t, lambda m: m["verified"])
        yield Call(session["id"], tech, patel, first), t, r


async def lose_patel(t: Socket, r: Socket) -> None:
    """Dr Patel's media stops reaching the technologist (her page still receives the technologist's)
    until the technologist's page shows her lost."""
    n = 4
    seen = asyncio.create_task(
        until_link(t, lambda m: m["directions"]["radiologist"]["state"] == "lost", timeout=8)
    )
    while not seen.done():
        await report(t, r, n, radiologist_arrives=False)
        n += 1
        await asyncio.wait({seen}, timeout=0.3)
    await seen


async def until_state(
    server: LiveServer, token: str, session_id: str, state: str
) -> dict[str, Any]:
    """Read the session through the API until it is in ``state`` (at most 15 s)."""
    async with asyncio.timeout(15):
        while True:
            session = await get_session(server, token, session_id)
            if session["state"] == state:
                return session
            await asyncio.sleep(0.1)


async def repaged(database_url: str, session_id: str) -> tuple[int, int]:
    """(the pager run's re-page count, re-page rows in the record) of the session."""
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as db:
            count = await db.scalar(select(runs.c.repaged).where(runs.c.session_id == session_id))
            rows = await db.scalar(
                select(func.count())
                .select_from(SessionRepage)
                .where(SessionRepage.session_id == session_id)
            )
    finally:
        await engine.dispose()
    return int(count or 0), int(rows or 0)


async def lost_events(server: LiveServer, token: str, session_id: str) -> list[dict[str, Any]]:
    return [e for e in await events_of(server, token, session_id) if e["kind"] == "media_lost"]


async def test_the_technologists_page_closing_after_the_radiologists_media_went_still_re_pages(
    workers: tuple[Worker, Worker], database_url: str
) -> None:
    """Technologist on A, Dr Patel on B. Her media stops reaching the technologist, whose page then
    closes before the window is up: nobody receives her media, and the session pages again, once;
    the record has the gap and the re-page."""
    a, b = workers
    async with joined_on(a.server, b.server) as (call, t, r):
        await lose_patel(t, r)
        await t.connection.close()
        for n in range(10, 14):  # her page stays and keeps reporting what it receives
            await r.send(stats(n))
            await asyncio.sleep(0.3)
        session = await until_state(b.server, call.tech, call.session_id, "paging")
    assert session["radiologist"] is None
    (lost,) = await lost_events(b.server, call.tech, call.session_id)
    assert "gone for" in lost["detail"]
    assert await repaged(database_url, call.session_id) == (1, 1)
    assert session["paging_since"] == session["repages"][0]["at"]


async def test_killing_the_worker_holding_the_technologists_socket_leaves_the_re_page_to_another(
    workers: tuple[Worker, Worker], database_url: str
) -> None:
    """Technologist on A, Dr Patel on B. Her media stops reaching the technologist and A is killed
    -9 at once, before the window is up: B re-pages (after the kill), Dr Diaz is paged and joins on
    B with the technologist's page back there; the record keeps the first join's latency and the
    re-page's own, counted from the re-page."""
    a, b = workers
    diaz = await login(b.server, "drdiaz")
    async with connect(b.server, diaz) as diaz_phone, joined_on(a.server, b.server) as (call, t, r):
        await diaz_phone.expect("requests")
        await lose_patel(t, r)
        killed_at = a.kill9()
        page = await diaz_phone.expect("page", timeout=15)
        assert page["session_id"] == call.session_id
        session = await until_state(b.server, call.tech, call.session_id, "paging")
        (lost,) = await lost_events(b.server, call.tech, call.session_id)
        assert datetime.fromisoformat(lost["at"]) > killed_at  # so B did it

        await join_request(b.server, diaz, call.session_id)
        async with connect(b.server, call.tech) as t2, connect(b.server, diaz) as d:
            for ws in (t2, d):
                await ws.send({"type": "join", "session_id": call.session_id})
                await ws.expect("joined")
            healthy = asyncio.create_task(keep_reporting(t2, d, 0))
            try:
                for ws in (t2, d):
                    await ws.send({"type": "media_state", "video": True, "audio": True})
                again = await until_session(t2, lambda s: s["state"] == "joined")
                counts = await repaged(database_url, call.session_id)
            finally:
                healthy.cancel()
    assert again["joined_at"] == call.first["joined_at"]
    assert again["join_latency_ms"] == call.first["join_latency_ms"]
    (repage,) = again["repages"]
    assert repage["at"] == session["paging_since"]
    assert repage["radiologist"]["full_name"] == "Dr Ray Diaz"
    assert repage["join_latency_ms"] == ms_between(repage["at"], repage["joined_at"])
    assert counts == (1, 1)


async def test_both_pages_gone_re_pages_exactly_once_with_two_workers_sweeping(
    workers: tuple[Worker, Worker], database_url: str
) -> None:
    """Technologist on A, Dr Patel on B, both workers sweeping. Both pages close mid-exam (her phone
    dies, the technologist's tab is closed): the evidence just stops, and the session pages again
    exactly once, with one gap and one re-page in the record, however long it stays so."""
    a, b = workers
    async with joined_on(a.server, b.server) as (call, t, r):
        await t.connection.close()
        await r.connection.close()
        await until_state(a.server, call.tech, call.session_id, "paging")
    await asyncio.sleep(3 * WINDOW_S)  # both workers go on sweeping meanwhile
    assert len(await lost_events(b.server, call.tech, call.session_id)) == 1
    assert await repaged(database_url, call.session_id) == (1, 1)


async def test_no_re_page_while_the_radiologists_media_is_live(
    workers: tuple[Worker, Worker], database_url: str
) -> None:
    """Technologist on A, Dr Patel on B, both workers sweeping: four windows of healthy media and
    the session stays joined, with no gap and no re-page."""
    a, b = workers
    async with joined_on(a.server, b.server) as (call, t, r):
        for n in range(4, 24):  # 6 s
            await report(t, r, n)
            await asyncio.sleep(0.3)
        session = await get_session(b.server, call.tech, call.session_id)
        lost = await lost_events(a.server, call.tech, call.session_id)
        counts = await repaged(database_url, call.session_id)
    assert session["state"] == "joined"
    assert session["repages"] == []
    assert lost == []
    assert counts == (0, 0)
