"""Per-socket and per-login limits: a message budget (token bucket) and sockets per login."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed

from signaling.live.close_codes import CloseCode
from tests.conftest import REDIS_URL, make_settings
from tests.live import LiveServer, connect, free_port, login, run_server


@pytest.fixture
def slow_budget_server(database_url: str) -> Iterator[LiveServer]:
    """One message a second per socket, bursts of three."""
    port = free_port()
    settings = make_settings(database_url, port, socket_messages_per_s=1, socket_messages_burst=3)
    with run_server(settings, port) as live:
        yield live


async def test_over_budget_messages_are_refused_and_the_socket_stays_usable(
    slow_budget_server: LiveServer,
) -> None:
    """Five pings at once on a budget of three: the rest are rate_limited, not handled; after
    backing off the same socket answers again."""
    server = slow_budget_server
    async with connect(server, await login(server, "tech")) as ws:
        await ws.expect("hello")
        for _ in range(5):
            await ws.send({"type": "ping"})
        answers = [(await ws.next())["type"] for _ in range(5)]
        assert answers.count("pong") >= 3
        assert "error" in answers
        refused = next(m for m in ws.seen if m["type"] == "error")
        assert refused["code"] == "rate_limited"
        assert "at most 1 messages a second (bursts of 3)" in refused["message"]
        await asyncio.sleep(1.5)  # backing off, as the error asks
        await ws.send({"type": "ping"})
        await ws.expect("pong")


async def test_persistent_flooding_closes_the_socket_with_4429(
    slow_budget_server: LiveServer,
) -> None:
    """Still sending far over the budget after being refused: closed with 4429, after saying so."""
    server = slow_budget_server
    async with connect(server, await login(server, "tech")) as ws:
        await ws.expect("hello")
        with contextlib.suppress(ConnectionClosed):
            for _ in range(10):  # three taken, three refused, then past patience
                await ws.send({"type": "ping"})
        code, _ = await ws.until_closed()
        errors = [m for m in ws.seen if m["type"] == "error"]
        assert errors[-1]["message"].startswith("kept sending over")
    assert code == CloseCode.RATE_LIMITED


@pytest.fixture
def two_workers(database_url: str, redis_prefix: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    ports = free_port(), free_port()
    shared = {
        "secret_key": secrets.token_urlsafe(48),
        "redis_url": REDIS_URL,
        "redis_prefix": redis_prefix,
    }
    with (
        run_server(make_settings(database_url, ports[0], **shared), ports[0]) as a,
        run_server(make_settings(database_url, ports[1], **shared), ports[1]) as b,
    ):
        yield a, b


@pytest.mark.redis
async def test_the_fifth_socket_of_a_login_closes_the_oldest_on_any_worker(
    two_workers: tuple[LiveServer, LiveServer],
) -> None:
    """Four sockets of one login spread over two workers; opening a fifth closes the first (4430),
    and the four newest keep working."""
    a, b = two_workers
    token = await login(a, "drdiaz")
    contexts = [connect((a, b)[i % 2], token) for i in range(5)]
    sockets = []
    try:
        for context in contexts:
            ws = await context.__aenter__()
            await ws.expect("hello")
            sockets.append(ws)
        code, reason = await sockets[0].until_closed()
        assert code == CloseCode.TOO_MANY_SOCKETS
        assert "the oldest (this one) closed" in reason
        for ws in sockets[1:]:
            await ws.send({"type": "ping"})
            await ws.expect("pong")
    finally:
        for context in reversed(contexts[: len(sockets)]):
            await context.__aexit__(None, None, None)
