"""Short-lived TURN credentials per user (the TURN REST scheme), checked by a real coturn on loopback.

Here a TURN allocation (what a browser does first when it needs a relay) proves coturn accepts the
credentials the API hands out, and refuses expired or forged ones; relay-only media through coturn,
in Chromium, is in tests/web/test_relay.py.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import aioice.turn
import pytest
from aioice.stun import TransactionFailed
from pydantic import ValidationError

from signaling.accounts.turn import turn_credentials
from signaling.config import Settings
from tests.conftest import make_settings
from tests.coturn import start_coturn, stop_coturn, udp_port
from tests.live import LiveServer, api, free_port, login, run_server


@pytest.fixture
def coturn() -> Iterator[tuple[int, str]]:
    """Debian's coturn on loopback, TURN REST secret only (as the README configures it)."""
    port, secret = udp_port(), secrets.token_urlsafe(24)
    process = start_coturn(port, secret)
    try:
        yield port, secret
    finally:
        stop_coturn(process)


@pytest.fixture
def turn_server(database_url: str, coturn: tuple[int, str]) -> Iterator[LiveServer]:
    port = free_port()
    settings = make_settings(
        database_url,
        port,
        turn_urls=[f"turn:127.0.0.1:{coturn[0]}?transport=udp"],
        turn_secret=coturn[1],
        turn_ttl_s=600,
    )
    with run_server(settings, port) as live:
        yield live


async def allocate(port: int, username: str, credential: str) -> tuple[str, int]:
    """A TURN allocation on coturn with these credentials; the relayed address it got."""
    for attempt in range(20):  # coturn takes a moment to listen after it starts
        try:
            transport, _ = await aioice.turn.create_turn_endpoint(
                asyncio.DatagramProtocol, ("127.0.0.1", port), username, credential
            )
            break
        except ConnectionRefusedError:
            await asyncio.sleep(0.1 * (attempt + 1))
    else:
        raise AssertionError("coturn did not answer")
    relayed: tuple[str, int] = transport.get_extra_info("sockname")
    transport.close()
    return relayed


async def test_each_user_gets_turn_credentials_coturn_accepts(
    turn_server: LiveServer, coturn: tuple[int, str]
) -> None:
    port, _ = coturn
    seen = {}
    for username in ("drdiaz", "tech"):
        async with api(turn_server, await login(turn_server, username)) as client:
            me = (await client.get("/api/me")).json()["user"]
            servers = (await client.get("/api/config")).json()["ice_servers"]
        [entry] = [s for s in servers if any(u.startswith("turn:") for u in s["urls"])]
        expiry, user_id = entry["username"].split(":")
        assert int(user_id) == me["id"]
        lifetime = int(expiry) - datetime.now(UTC).timestamp()
        assert 590 < lifetime <= 600
        relay_host, _relay_port = await allocate(port, entry["username"], entry["credential"])
        assert relay_host == "127.0.0.1"
        seen[username] = entry["credential"]
    assert seen["drdiaz"] != seen["tech"]


async def test_coturn_refuses_expired_and_forged_credentials(coturn: tuple[int, str]) -> None:
    port, secret = coturn
    expired = turn_credentials(secret, 4, datetime.now(UTC) - timedelta(seconds=5))
    forged = turn_credentials("not-" + secret, 4, datetime.now(UTC) + timedelta(minutes=5))
    good = turn_credentials(secret, 4, datetime.now(UTC) + timedelta(minutes=5))
    assert (await allocate(port, *good))[0] == "127.0.0.1"
    for username, credential in (expired, forged, (good[0].replace(":4", ":5"), good[1])):
        with pytest.raises(TransactionFailed, match="401"):
            await allocate(port, username, credential)


def test_turn_configuration_is_checked() -> None:
    dev = {"environment": "development"}
    with pytest.raises(ValidationError, match="STANDBY_TURN_SECRET is not"):
        Settings(turn_urls=["turn:turn.example.org:3478"], **dev)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="turn: or turns:"):
        Settings(turn_urls="stun:stun.example.org:3478", turn_secret="x", **dev)  # type: ignore[arg-type]
    parsed = Settings(
        turn_urls="turn:a.example:3478?transport=udp, turns:a.example:5349",  # type: ignore[arg-type]
        turn_secret="x",  # type: ignore[arg-type]
        **dev,  # type: ignore[arg-type]
    )
    assert parsed.turn_urls == ["turn:a.example:3478?transport=udp", "turns:a.example:5349"]
