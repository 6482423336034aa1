"""The Redis bus under many publishers at once: nothing refused, nothing lost, order kept."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from signaling.live.redis_bus import RedisBus
from tests.conftest import REDIS_URL, make_settings
from tests.live import LiveServer, Socket, api, connect, free_port, login, run_server
from tests.signaling.helpers import join_request, room_id

pytestmark = pytest.mark.redis

PAIRS = 60  # 120 sockets publishing at once: past redis-py's default pool of 100 connections
BURST = 10


async def test_a_thousand_concurrent_publishes_all_arrive_in_order(redis_prefix: str) -> None:
    """1,000 publishes awaited at once on one worker's bus all reach another worker's, in order."""
    sender, receiver = RedisBus(REDIS_URL, redis_prefix), RedisBus(REDIS_URL, redis_prefix)
    got: dict[str, list[int]] = defaultdict(list)
    done = asyncio.Event()

    async def handler(channel: str, message: dict[str, Any]) -> None:
        got[channel].append(message["n"])
        if sum(map(len, got.values())) == 1000:
            done.set()

    async def ignore(channel: str, message: dict[str, Any]) -> None:
        pass

    await receiver.start(handler)
    await sender.start(ignore)  # a worker's bus always subscribes too
    try:
        await asyncio.gather(
            *(sender.publish(f"session:s{n % 10}:x", {"n": n}) for n in range(1000))
        )
        await asyncio.wait_for(done.wait(), 20)
    finally:
        await sender.close()
        await receiver.close()
    assert {channel: ns for channel, ns in got.items()} == {
        f"session:s{c}:x": [n for n in range(1000) if n % 10 == c] for c in range(10)
    }


@pytest.fixture
def small_pool_server(database_url: str, redis_prefix: str) -> Iterator[LiveServer]:
    """The Redis bus with a pool of 3 connections: the subscriber, the publisher, one spare."""
    port = free_port()
    settings = make_settings(
        database_url,
        port,
        redis_url=REDIS_URL,
        redis_prefix=redis_prefix,
        redis_max_connections=3,
        # One technologist and one radiologist hold every pair here: the per-user limits are off.
        sockets_per_login=100,
        technologist_open_sessions_max=0,
        room_open_sessions_max=0,
    )
    with run_server(settings, port) as live:
        yield live


async def _joined(
    stack: contextlib.AsyncExitStack, server: LiveServer, token: str, session_id: str
) -> Socket:
    ws = await stack.enter_async_context(connect(server, token))
    await ws.send({"type": "join", "session_id": session_id})
    await ws.expect("joined", timeout=20)
    return ws


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_many_sockets_relaying_at_once_lose_nothing(small_pool_server: LiveServer) -> None:
    """60 joined pairs each burst 10 candidates at once through 3 Redis connections: every
    candidate reaches the peer in order, no socket is told the bus is away, /healthz stays ok."""
    server = small_pool_server
    tech, rad = await login(server, "tech"), await login(server, "drdiaz")
    room = await room_id(server, tech)
    async with api(server, tech) as client:
        opened = [
            await client.post(
                "/api/sessions", json={"room_id": room, "accession_number": f"ACC-{i}"}
            )
            for i in range(PAIRS)
        ]
    ids = [response.json()["session"]["id"] for response in opened]
    for session_id in ids:
        await join_request(server, rad, session_id)
    async with contextlib.AsyncExitStack() as stack:
        pairs = [
            (await _joined(stack, server, tech, s), await _joined(stack, server, rad, s))
            for s in ids
        ]
        for t, r in pairs:
            await t.expect("peer_joined", timeout=20)
            await r.expect("peer_joined", timeout=20)
        frames = [
            json.dumps(
                {"type": "candidate", "candidate": f"candidate:{n} 1 udp 1 127.0.0.1 9 typ host"}
            )
            for n in range(BURST)
        ]

        async def burst(ws: Socket) -> None:
            await asyncio.gather(*(ws.connection.send(frame) for frame in frames))

        async def received(ws: Socket) -> list[str]:
            seen = []
            while len(seen) < BURST:
                message = await ws.next(timeout=30)
                assert message["type"] != "error", message
                if message["type"] == "candidate":
                    seen.append(message["candidate"].split()[0])
            return seen

        async with httpx.AsyncClient(base_url=server.url) as client:
            results, health = await asyncio.gather(
                asyncio.gather(
                    *(received(ws) for pair in pairs for ws in pair),
                    *(burst(ws) for pair in pairs for ws in pair),
                ),
                asyncio.gather(*(client.get("/healthz") for _ in range(20))),
            )
        expected = [f"candidate:{n}" for n in range(BURST)]
        assert results[: 2 * PAIRS] == [expected] * (2 * PAIRS)
        assert [h.status_code for h in health] == [200] * 20
        assert all(h.json()["status"] == "ok" for h in health)
