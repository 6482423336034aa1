"""Password guessing is slowed for the one who guesses, never by locking the account: per address and
per address and username, with a wait that doubles, shared through Redis, counted in memory while
Redis is away."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis

from signaling.accounts.failure_counts import FORGET_AFTER_S
from signaling.accounts.login_throttle import FIRST_WAIT_S, REDIS_RETRY_S
from tests.conftest import REDIS_URL, make_settings
from tests.live import PASSWORD, LiveServer, free_port, run_server
from tests.outage import CuttableProxy, cuttable_proxy
from tests.signaling.logins import ATTACKER, OWNER, WRONG, attempt, client_at, fail, retry_after


class Clock:
    """Epoch seconds the test moves forward, handed to a server's login throttle."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def clocked(server: LiveServer) -> Clock:
    clock = Clock()
    server.app_state().login_throttle.clock = clock
    return clock


async def test_an_attacker_elsewhere_does_not_stop_the_owner(server: LiveServer) -> None:
    """Twelve wrong passwords for drpatel from one address; drpatel logs in from another at once."""
    async with client_at(server, ATTACKER) as attacker, client_at(server, OWNER) as owner:
        await fail(attacker, "drpatel", 5)
        for _ in range(7):
            assert (await attempt(attacker, "drpatel", WRONG)).status_code == 429
        response = await attempt(owner, "drpatel", PASSWORD)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["username"] == "drpatel"


async def test_the_guesser_waits_with_retry_after(server: LiveServer) -> None:
    """After five failures for a username, that address gets 429 with Retry-After, even with the
    right password (which is not looked at)."""
    async with client_at(server, ATTACKER) as attacker:
        await fail(attacker, "drpatel", 5)
        waited = retry_after(await attempt(attacker, "drpatel", PASSWORD))
    assert 1 <= waited <= FIRST_WAIT_S


async def test_username_variants_share_one_count(server: LiveServer) -> None:
    """`` drpatel``, ``DRPATEL`` and ``DrPatel `` are the username login looks up, so one count."""
    async with client_at(server, ATTACKER) as attacker:
        for username in ("drpatel", " drpatel", "DRPATEL", "DrPatel ", "\tdrPATEL"):
            await fail(attacker, username, 1)
        retry_after(await attempt(attacker, "drpatel", PASSWORD))
        retry_after(await attempt(attacker, "  DRPATEL", PASSWORD))


async def test_the_wait_doubles_and_a_login_forgets_it(server: LiveServer) -> None:
    """30 s after the fifth failure, 60 s after the sixth; the right password once the wait is over
    logs in and the count starts again."""
    clock = clocked(server)
    async with client_at(server, ATTACKER) as client:
        await fail(client, "drpatel", 5)
        assert retry_after(await attempt(client, "drpatel", WRONG)) == FIRST_WAIT_S
        clock.advance(FIRST_WAIT_S - 1)
        assert retry_after(await attempt(client, "drpatel", WRONG)) == 1
        clock.advance(1)
        await fail(client, "drpatel", 1)
        assert retry_after(await attempt(client, "drpatel", WRONG)) == 2 * FIRST_WAIT_S
        clock.advance(2 * FIRST_WAIT_S)
        assert (await attempt(client, "drpatel", PASSWORD)).status_code == 200
        await fail(client, "drpatel", 4)
        assert (await attempt(client, "drpatel", PASSWORD)).status_code == 200


async def test_failures_for_a_username_are_forgotten_thirty_minutes_after_the_last(
    server: LiveServer,
) -> None:
    """Failures for one username keep counting while they keep coming: 3, then 1 twenty minutes
    later, then 1 fifteen minutes after that make five, and the address waits."""
    clock = clocked(server)
    async with client_at(server, ATTACKER) as client:
        await fail(client, "drpatel", 3)
        clock.advance(20 * 60)
        await fail(client, "drpatel", 1)
        clock.advance(15 * 60)
        await fail(client, "drpatel", 1)
        retry_after(await attempt(client, "drpatel", PASSWORD))
        clock.advance(FIRST_WAIT_S + FORGET_AFTER_S)
        assert (await attempt(client, "drpatel", WRONG)).status_code == 401


async def test_an_address_count_runs_thirty_minutes_from_its_first_failure(
    database_url: str,
) -> None:
    """Mistakes of many people behind one address never add up for ever: failures for any username
    are counted over 30 min from the first, then start again."""
    port = free_port()
    settings = make_settings(database_url, port, login_failures_per_address=4)
    with run_server(settings, port) as server:
        clock = clocked(server)
        async with client_at(server, ATTACKER) as client:
            await fail(client, "tech", 1)
            await fail(client, "drdiaz", 1)
            clock.advance(20 * 60)
            await fail(client, "admin", 1)
            clock.advance(11 * 60)  # 31 min after the first, 11 after the last
            await fail(client, "super", 1)
            await fail(client, "drpatel", 1)
            await fail(client, "nobody", 1)
            assert (await attempt(client, "drpatel", PASSWORD)).status_code == 200
            await fail(client, "gone", 1)
            retry_after(await attempt(client, "tech", PASSWORD))


async def test_one_address_guessing_many_usernames_waits(database_url: str) -> None:
    """Past STANDBY_LOGIN_FAILURES_PER_ADDRESS failures over any usernames, that address waits, for
    a username it never tried too; another address logs in."""
    port = free_port()
    settings = make_settings(database_url, port, login_failures_per_address=6)
    with run_server(settings, port) as server:
        async with client_at(server, ATTACKER) as attacker, client_at(server, OWNER) as owner:
            for username in ("tech", "drpatel", "drdiaz", "admin", "nobody", "gone"):
                await fail(attacker, username, 1)
            retry_after(await attempt(attacker, "super", PASSWORD))
            assert (await attempt(owner, "super", PASSWORD)).status_code == 200


@pytest.fixture
def shared_prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own, its keys deleted afterwards (they expire anyway)."""
    prefix = f"standby-test-{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def throttle_keys(prefix: str) -> dict[str, int]:
    """The Redis keys under ``prefix`` and their TTLs."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return {key: client.ttl(key) for key in client.scan_iter(f"{prefix}*")}
    finally:
        client.close()


@pytest.mark.redis
async def test_two_servers_share_the_count(database_url: str, shared_prefix: str) -> None:
    """Three failures on one server and two on another make the address wait on both; the counts
    are under the service's prefix and expire."""
    ports = free_port(), free_port()
    settings = [
        make_settings(database_url, port, redis_url=REDIS_URL, redis_prefix=shared_prefix)
        for port in ports
    ]
    with run_server(settings[0], ports[0]) as a, run_server(settings[1], ports[1]) as b:
        async with client_at(a, ATTACKER) as on_a, client_at(b, ATTACKER) as on_b:
            await fail(on_a, "drpatel", 3)
            await fail(on_b, " DrPatel", 2)
            retry_after(await attempt(on_a, "drpatel", PASSWORD))
            retry_after(await attempt(on_b, "drpatel", PASSWORD))
        async with client_at(b, OWNER) as owner:
            assert (await attempt(owner, "drpatel", PASSWORD)).status_code == 200
    keys = throttle_keys(shared_prefix)
    assert len(keys) == 2, keys  # the attacker's address, and its address with drpatel
    for key, ttl in keys.items():
        assert key.startswith(f"{shared_prefix}login-failures:")
        assert 0 < ttl <= FORGET_AFTER_S


@pytest.mark.redis
async def test_redis_counts_renew_only_the_username_count(
    database_url: str, shared_prefix: str
) -> None:
    """In Redis a further failure gives the address-and-username count its 30 min again, while the
    address's count keeps the time it had from its first failure."""
    port = free_port()
    settings = make_settings(database_url, port, redis_url=REDIS_URL, redis_prefix=shared_prefix)
    user_key = f"{shared_prefix}login-failures:user:{ATTACKER} drpatel"
    address_key = f"{shared_prefix}login-failures:address:{ATTACKER}"
    with run_server(settings, port) as server, redis.Redis.from_url(REDIS_URL) as client:
        async with client_at(server, ATTACKER) as attacker:
            await fail(attacker, "drpatel", 1)
            for key in (user_key, address_key):
                client.expire(key, 100)
            await fail(attacker, "drpatel", 1)
        assert FORGET_AFTER_S - 60 < client.ttl(user_key) <= FORGET_AFTER_S
        assert 0 < client.ttl(address_key) <= 100
        assert client.hget(address_key, "n") == b"2"


@pytest.fixture
def redis_proxy() -> Iterator[CuttableProxy]:
    target = urlsplit(REDIS_URL)
    with cuttable_proxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        yield proxy


@pytest.mark.redis
async def test_redis_down_counts_in_memory_and_says_so_once(
    database_url: str,
    shared_prefix: str,
    redis_proxy: CuttableProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis cut: logins still answer (401, 429, 200, never 500), guessing is still slowed in this
    worker, one warning says so; Redis back: one line says so, counting goes on there, and the
    wait counted meanwhile still holds."""
    caplog.set_level(logging.INFO, logger="signaling.accounts.login_throttle")
    port = free_port()
    settings = make_settings(
        database_url,
        port,
        redis_url=f"redis://127.0.0.1:{redis_proxy.port}/0",
        redis_prefix=shared_prefix,
    )
    with run_server(settings, port) as server:
        clock = clocked(server)
        async with client_at(server, ATTACKER) as attacker, client_at(server, OWNER) as owner:
            redis_proxy.cut()
            await fail(attacker, "drpatel", 5)
            retry_after(await attempt(attacker, "drpatel", PASSWORD))
            assert (await attempt(owner, "drpatel", PASSWORD)).status_code == 200

            redis_proxy.mend()
            clock.advance(REDIS_RETRY_S)
            await fail(owner, "tech", 1)
            retry_after(await attempt(attacker, "drpatel", PASSWORD))
            assert (await attempt(owner, "tech", PASSWORD)).status_code == 200
    messages = [r.getMessage() for r in caplog.records if r.name.endswith("login_throttle")]
    assert [m for m in messages if "cannot be reached" in m] == [
        "login throttle: Redis cannot be reached (ConnectionError); counting failed logins in "
        "this worker's memory until it is back"
    ]
    assert [m for m in messages if "Redis is back" in m] == [
        "login throttle: Redis is back; failed logins are counted there again"
    ]
    assert list(throttle_keys(shared_prefix)) == [f"{shared_prefix}login-failures:address:{OWNER}"]
