"""Several workers: participants connected to different uvicorn processes still meet through Redis."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import IO

import pytest
from websockets.exceptions import ConnectionClosed

from signaling.config import Settings
from tests.conftest import REDIS_URL
from tests.live import LiveServer, connect, free_port, login, stop_process, wait_healthy
from tests.signaling.helpers import get_session, join_request, open_session

pytestmark = pytest.mark.redis


@contextlib.contextmanager
def serve(env: dict[str, str], *args: str) -> Iterator[tuple[subprocess.Popen[bytes], IO[bytes]]]:
    """A `standby serve` process; what it logs goes to a file (a pipe nobody reads while it runs
    would fill and stop the server at its next log line)."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "signaling", "serve", *args],
            env=os.environ | env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            yield process, log
        finally:
            stop_process(process)


def _output(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-2000:]


@pytest.fixture
def two_workers(database_url: str, redis_prefix: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two `standby serve` processes on two ports, one database, one Redis."""
    ports = free_port(), free_port()
    env = {
        "STANDBY_ENVIRONMENT": "test",
        "STANDBY_SECRET_KEY": secrets.token_urlsafe(48),
        "STANDBY_DATABASE_URL": database_url,
        "STANDBY_REDIS_URL": REDIS_URL,
        "STANDBY_REDIS_PREFIX": redis_prefix,
        "STANDBY_PUBLIC_BASE_URL": f"http://127.0.0.1:{ports[0]}",
        "STANDBY_LOG_LEVEL": "WARNING",
    }
    with (
        serve(env, "--port", str(ports[0]), "--no-migrate") as (first, first_log),
        serve(env, "--port", str(ports[1]), "--no-migrate") as (second, second_log),
    ):
        for port, process, log in ((ports[0], first, first_log), (ports[1], second, second_log)):
            wait_healthy(f"http://127.0.0.1:{port}", process, lambda log=log: _output(log))
        settings = Settings(**{k.removeprefix("STANDBY_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]
        yield LiveServer(settings, ports[0]), LiveServer(settings, ports[1])


async def test_participants_on_different_workers_meet(
    two_workers: tuple[LiveServer, LiveServer],
) -> None:
    """Technologist on worker A, radiologist on worker B: lobby, presence, relay and join all cross."""
    a, b = two_workers
    tech = await login(a, "tech")
    rad = await login(b, "drdiaz")
    async with connect(b, rad) as r:
        await r.expect("requests")
        session = await open_session(a, tech)
        assert (await r.expect("request_opened"))["request"]["id"] == session["id"]
        await join_request(b, rad, session["id"])
        async with connect(a, tech) as t:
            await t.send({"type": "join", "session_id": session["id"]})
            await t.expect("joined")
            await r.send({"type": "join", "session_id": session["id"]})
            await r.expect("joined")
            assert (await t.expect("peer_joined"))["role"] == "radiologist"
            assert (await r.expect("peer_joined"))["role"] == "technologist"
            await t.send({"type": "offer", "sdp": "v=0 across workers"})
            assert (await r.expect("offer"))["sdp"] == "v=0 across workers"
            await r.send({"type": "answer", "sdp": "v=0 answer"})
            assert (await t.expect("answer"))["from"] == "radiologist"
            await t.send({"type": "media_state", "video": True, "audio": True})
            await r.send({"type": "media_state", "video": True, "audio": True})
            joined_seen = await r.expect("session")
            while joined_seen["session"]["state"] != "joined":
                joined_seen = await r.expect("session")
    stored = await get_session(a, tech, session["id"])
    assert stored["state"] == "joined"
    assert stored["joined_at"] is not None


async def test_replacing_a_socket_works_across_workers(
    two_workers: tuple[LiveServer, LiveServer],
) -> None:
    """The same technologist joining from a window on the other worker replaces the first (4409)."""
    a, b = two_workers
    tech = await login(a, "tech")
    session = await open_session(a, tech)
    async with connect(a, tech) as first, connect(b, tech) as second:
        await first.send({"type": "join", "session_id": session["id"]})
        await first.expect("joined")
        await second.send({"type": "join", "session_id": session["id"]})
        await second.expect("joined")
        with pytest.raises(ConnectionClosed) as closed:
            await first.expect("never")
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4409
