"""Login steps the throttle tests share: clients from a chosen loopback address, failing, waiting."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from tests.live import LiveServer

ATTACKER = "127.0.0.2"  # loopback is all of 127/8: a second source address on this machine
OWNER = "127.0.0.1"
WRONG = "guess-guess-1"


@contextlib.asynccontextmanager
async def client_at(server: LiveServer, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client whose connections come from ``address``."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=server.url, transport=transport, timeout=10) as client:
        yield client


async def attempt(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/login", json={"username": username, "password": password})


async def fail(client: httpx.AsyncClient, username: str, times: int) -> None:
    for _ in range(times):
        response = await attempt(client, username, WRONG)
        assert response.status_code == 401, response.text


def retry_after(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "too_many_attempts"
    seconds = int(response.headers["retry-after"])
    assert f"try again in {seconds} s" in response.json()["detail"]
    return seconds
