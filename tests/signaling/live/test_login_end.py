"""A login that ends, ends everywhere: logout, expiry and a disabled account close that login's
sockets on every worker (two servers sharing one database and one Redis), with a close code saying
which, and nothing such a socket sends afterwards reaches the other participant."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from websockets.exceptions import ConnectionClosed

from signaling.live.close_codes import CloseCode
from tests.conftest import REDIS_URL, make_settings
from tests.live import LiveServer, api, connect, free_port, login, run_server
from tests.outage import CuttableProxy, cuttable_proxy
from tests.signaling.helpers import join_request, open_session

pytestmark = pytest.mark.redis


@contextlib.contextmanager
def _pair(database_url: str, redis_prefix: str, redis_url: str) -> Iterator[tuple[LiveServer, ...]]:
    ports = free_port(), free_port()
    shared = {"secret_key": secrets.token_urlsafe(48), "redis_prefix": redis_prefix}
    with (
        run_server(
            make_settings(database_url, ports[0], redis_url=redis_url, **shared), ports[0]
        ) as a,
        run_server(
            make_settings(database_url, ports[1], redis_url=redis_url, **shared), ports[1]
        ) as b,
    ):
        yield a, b


@pytest.fixture
def two_workers(database_url: str, redis_prefix: str) -> Iterator[tuple[LiveServer, ...]]:
    """Two workers, one database, one Redis."""
    with _pair(database_url, redis_prefix, REDIS_URL) as pair:
        yield pair


@pytest.fixture
def redis_proxy() -> Iterator[CuttableProxy]:
    target = urlsplit(REDIS_URL)
    with cuttable_proxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        yield proxy


@pytest.fixture
def cuttable_workers(
    database_url: str, redis_prefix: str, redis_proxy: CuttableProxy
) -> Iterator[tuple[LiveServer, ...]]:
    """Two workers whose Redis the test can cut."""
    with _pair(database_url, redis_prefix, f"redis://127.0.0.1:{redis_proxy.port}/0") as pair:
        yield pair


async def test_logout_on_one_worker_closes_the_socket_on_the_other(
    two_workers: tuple[LiveServer, LiveServer],
) -> None:
    """Logging out through worker A closes that login's socket on worker B with 4440."""
    a, b = two_workers
    tech = await login(a, "tech")
    async with connect(b, tech) as ws:
        await ws.expect("hello")
        async with api(a, tech) as client:
            assert (await client.post("/api/logout")).status_code == 204
        assert await ws.until_closed() == (CloseCode.LOGGED_OUT, "you logged out")


async def test_logout_closes_only_that_login(two_workers: tuple[LiveServer, LiveServer]) -> None:
    """The same person's other login (another device) keeps its socket after one logout."""
    a, b = two_workers
    phone, desk = await login(a, "tech"), await login(b, "tech")
    async with connect(b, phone) as on_phone, connect(b, desk) as on_desk:
        await on_phone.expect("hello")
        await on_desk.expect("hello")
        async with api(a, phone) as client:
            assert (await client.post("/api/logout")).status_code == 204
        assert (await on_phone.until_closed())[0] == CloseCode.LOGGED_OUT
        await on_desk.send({"type": "ping"})
        await on_desk.expect("pong")


async def test_disabling_a_user_closes_their_sockets_on_every_worker(
    two_workers: tuple[LiveServer, LiveServer],
) -> None:
    """An admin setting active: false on worker A closes the user's sockets on A and B with 4442."""
    a, b = two_workers
    admin, tech = await login(a, "admin"), await login(b, "tech")
    async with connect(a, tech) as on_a, connect(b, tech) as on_b:
        await on_a.expect("hello")
        await on_b.expect("hello")
        async with api(a, admin) as client:
            entry = (await client.get("/api/admin/users/tech")).json()["user"]
            off = await client.put("/api/admin/users/tech", json=entry | {"active": False})
            assert off.status_code == 200, off.text
        for ws in (on_a, on_b):
            assert await ws.until_closed() == (
                CloseCode.ACCOUNT_DISABLED,
                "your account was disabled",
            )


async def test_a_login_that_expires_closes_its_open_socket(
    database_url: str, redis_prefix: str
) -> None:
    """With a 3 s login lifetime, an open socket is closed with 4441 once its login expires."""
    port = free_port()
    settings = make_settings(
        database_url, port, redis_url=REDIS_URL, redis_prefix=redis_prefix,
        session_idle_minutes=0.05, login_recheck_s=0.5,
    )  # fmt: skip
    with run_server(settings, port) as server:
        tech = await login(server, "tech")
        async with connect(server, tech) as ws:
            await ws.expect("hello")
            assert await ws.until_closed() == (
                CloseCode.LOGIN_EXPIRED,
                "your login expired: log in again",
            )


async def _joined_pair(tech_at: LiveServer, rad_at: LiveServer) -> tuple[str, str, str]:
    tech, rad = await login(tech_at, "tech"), await login(rad_at, "drdiaz")
    session = await open_session(tech_at, tech)
    await join_request(rad_at, rad, session["id"])
    return tech, rad, session["id"]


async def test_a_message_sent_after_logout_is_not_relayed(
    two_workers: tuple[LiveServer, LiveServer],
) -> None:
    """The radiologist (socket on B) logs out through A and at once sends an offer: the
    technologist (on A) hears the radiologist leave, and never the offer."""
    a, b = two_workers
    tech, rad, session_id = await _joined_pair(a, b)
    async with connect(a, tech) as t, connect(b, rad) as r:
        for ws in (t, r):
            await ws.send({"type": "join", "session_id": session_id})
            await ws.expect("joined")
        await t.expect("peer_joined")
        await r.send({"type": "offer", "sdp": "v=0 before"})
        assert (await t.expect("offer"))["sdp"] == "v=0 before"
        async with api(a, rad) as client:
            assert (await client.post("/api/logout")).status_code == 204
        with contextlib.suppress(ConnectionClosed):
            await r.send({"type": "offer", "sdp": "v=0 after logout"})
        # Had the offer gone out, it would come before the radiologist's "bye" (one socket, in order).
        await t.expect("peer_left")
        assert [m.get("sdp") for m in t.seen if m["type"] == "offer"] == ["v=0 before"]


async def test_logout_while_redis_is_down_still_closes_the_other_workers_socket(
    cuttable_workers: tuple[LiveServer, LiveServer], redis_proxy: CuttableProxy
) -> None:
    """Redis cut: logout through A still answers 204, and B's own re-check closes the socket."""
    a, b = cuttable_workers
    tech = await login(a, "tech")
    async with connect(b, tech) as ws:
        await ws.expect("hello")
        redis_proxy.cut()
        async with api(a, tech) as client:
            assert (await client.post("/api/logout")).status_code == 204
            assert (await client.get("/api/me")).status_code == 401
        assert await ws.until_closed() == (CloseCode.LOGGED_OUT, "you logged out")
