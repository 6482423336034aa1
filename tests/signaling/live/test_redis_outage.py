"""Redis going away under a running service (the machine's Redis behind a proxy the test cuts): a
socket whose message needs the bus is told so and stays open, /healthz says degraded, a change made
over HTTP meanwhile is kept, and the first relay after Redis is back arrives."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import REDIS_URL, make_settings
from tests.live import LiveServer, api, connect, free_port, login, run_server
from tests.outage import CuttableProxy, cuttable_proxy
from tests.signaling.helpers import get_session, join_request, open_session

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_proxy() -> Iterator[CuttableProxy]:
    target = urlsplit(REDIS_URL)
    with cuttable_proxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        yield proxy


@pytest.fixture
def bus_server(database_url: str, redis_proxy: CuttableProxy) -> Iterator[LiveServer]:
    port = free_port()
    settings = make_settings(
        database_url, port, redis_url=f"redis://127.0.0.1:{redis_proxy.port}/0"
    )
    with run_server(settings, port) as live:
        yield live


async def _health(server: LiveServer) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_redis_down_keeps_sockets_open_and_the_first_relay_after_arrives(
    bus_server: LiveServer, redis_proxy: CuttableProxy
) -> None:
    """Cut Redis under a joined pair: the offer is refused in words, the socket stays; health says
    degraded; ending over HTTP is kept; once Redis is back the next offer reaches the peer."""
    tech, rad = await login(bus_server, "tech"), await login(bus_server, "drdiaz")
    session = await open_session(bus_server, tech)
    await join_request(bus_server, rad, session["id"])
    async with connect(bus_server, tech) as t, connect(bus_server, rad) as r:
        for ws in (t, r):
            await ws.send({"type": "join", "session_id": session["id"]})
            await ws.expect("joined")
        await t.expect("peer_joined")
        assert (await _health(bus_server))["status"] == "ok"

        redis_proxy.cut()
        await t.send({"type": "offer", "sdp": "v=0 while redis is away"})
        error = await t.expect("error")
        assert error["code"] == "bus_unavailable"
        assert "not passed on" in error["message"]
        await t.send({"type": "ping"})
        await t.expect("pong")
        assert await _health(bus_server) == {
            "status": "degraded",
            "database": "ok",
            "bus": "unavailable",
        }

        redis_proxy.mend()
        health: dict[str, str] = {}
        for _ in range(100):
            health = await _health(bus_server)
            if health["status"] == "ok":
                break
            await asyncio.sleep(0.1)
        assert health["status"] == "ok"
        await asyncio.sleep(1.5)  # the subscriber's reconnect (it polls every second)
        await t.send({"type": "offer", "sdp": "v=0 after redis is back"})
        offer = await r.expect("offer", timeout=5)
        assert offer["sdp"] == "v=0 after redis is back"

        redis_proxy.cut()
        async with api(bus_server, tech) as client:
            ended = await client.post(
                f"/api/sessions/{session['id']}/end",
                json={"outcome": "cancelled", "reason": "patient_declined"},
            )
        assert ended.status_code == 200, ended.text
        redis_proxy.mend()
    assert (await get_session(bus_server, tech, session["id"]))["state"] == "ended"


async def test_a_socket_leaving_while_redis_is_down_is_cleaned_up_without_an_error(
    bus_server: LiveServer, redis_proxy: CuttableProxy, caplog: pytest.LogCaptureFixture
) -> None:
    """A joined page closes while Redis is cut: its socket's clean-up runs to the end (no
    exception escapes the endpoint), and the server says in one warning what it could not tell."""
    tech = await login(bus_server, "tech")
    session = await open_session(bus_server, tech)
    async with connect(bus_server, tech) as t:
        await t.send({"type": "join", "session_id": session["id"]})
        await t.expect("joined")
        redis_proxy.cut()
    caplog.set_level(logging.WARNING)
    for _ in range(100):
        if "the session is not told it left" in caplog.text:
            break
        await asyncio.sleep(0.05)
    redis_proxy.mend()
    assert "the session is not told it left" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
