"""A scrape answers for the whole service: it shows every worker's figures (each worker leaves its
own in Redis), and with the database or Redis away it still answers, with what it could read and
``standby_dependency_up`` saying what did not answer.

The other worker is the board itself, publishing as a worker's loop does (``RedisBoard.publish``):
a second `standby serve` process would cost a whole start for the same path."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from paging.lateness import Lateness
from signaling.metrics.board import TTL_S, RedisBoard
from signaling.metrics.worker_figures import WorkerFigures
from tests.conftest import REDIS_URL, make_settings
from tests.live import LiveServer, free_port, run_server
from tests.outage import CuttableProxy, cuttable_proxy

pytestmark = [
    pytest.mark.redis,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]
TOKEN = secrets.token_urlsafe(32)
BEARER = {"authorization": f"Bearer {TOKEN}"}
SERVICE_FAMILIES = {
    "standby_join_latency_seconds",
    "standby_sessions_unmeasured",
    "standby_sessions_ended",
    "standby_sessions_open",
    "standby_pages",
}


def parse(text: str) -> dict[str, Metric]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def workers(found: dict[str, Metric]) -> set[str]:
    return {s.labels["worker"] for s in found["standby_media_monitors"].samples}


def up(found: dict[str, Metric]) -> dict[str, float]:
    return {s.labels["dependency"]: s.value for s in found["standby_dependency_up"].samples}


@pytest.fixture
def proxies() -> Iterator[tuple[CuttableProxy, CuttableProxy]]:
    target = urlsplit(REDIS_URL)
    with (
        cuttable_proxy("127.0.0.1", 5432) as database,
        cuttable_proxy(target.hostname or "127.0.0.1", target.port or 6379) as bus,
    ):
        yield database, bus


@pytest.fixture
def outage_server(
    database_url: str, redis_prefix: str, proxies: tuple[CuttableProxy, CuttableProxy]
) -> Iterator[LiveServer]:
    database, bus = proxies
    port = free_port()
    settings = make_settings(
        database_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{database.port}/"),
        port,
        redis_url=f"redis://127.0.0.1:{bus.port}/0",
        redis_prefix=redis_prefix,
        metrics_token=TOKEN,
    )
    with run_server(settings, port) as live:
        yield live


async def timed_scrape(server: LiveServer) -> tuple[dict[str, Metric], float]:
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        response = await client.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.text
    return parse(response.text), time.monotonic() - started


async def test_a_scrape_shows_every_workers_figures_from_redis(
    outage_server: LiveServer, redis_prefix: str
) -> None:
    """This worker publishes its own figures under its key with a TTL; another worker's figures
    in Redis show in the scrape under its own label, a key that holds anything else does not, and
    a withdrawn worker is gone from the next scrape."""
    found, _ = await timed_scrape(outage_server)
    me = workers(found)
    assert len(me) == 1
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    board = RedisBoard(REDIS_URL, redis_prefix)
    key = f"{redis_prefix}metrics:worker:"
    try:
        (mine,) = me
        stored = await client.get(key + mine)
        assert stored is not None, "each worker publishes as it starts"
        assert WorkerFigures.from_json(stored).monitors_max == 40
        assert 0 < await client.ttl(key + mine) <= TTL_S
        tally = Lateness()
        tally.observe(0.3)
        other = WorkerFigures("other-host:777", time.time() - 2, tally.snapshot(), 5, 12)
        await board.publish(other)
        await client.set(key + "junk:1", "not figures", ex=10)
        found, _ = await timed_scrape(outage_server)
        assert workers(found) == me | {"other-host:777"}
        h = "standby_pager_timer_lateness_seconds"
        mine_and_other = {
            s.labels["worker"]: s.value for s in found[h].samples if s.name == f"{h}_count"
        }
        assert mine_and_other["other-host:777"] == 1
        monitors = {s.labels["worker"]: s.value for s in found["standby_media_monitors"].samples}
        assert monitors["other-host:777"] == 5
        age = {
            s.labels["worker"]: s.value for s in found["standby_worker_figures_age_seconds"].samples
        }
        assert 2 <= age["other-host:777"] < 10
        await board.withdraw("other-host:777")
        found, _ = await timed_scrape(outage_server)
        assert workers(found) == me
    finally:
        await client.delete(key + "junk:1")
        await client.aclose()
        await board.close()


async def test_the_database_or_redis_down_still_answers_with_what_it_can(
    outage_server: LiveServer, proxies: tuple[CuttableProxy, CuttableProxy]
) -> None:
    """Database cut: 200, database 0, no service family, this worker's figures still there. Redis
    cut: 200, redis 0, the service families and this worker's figures. Each within a few seconds;
    mended, everything is back."""
    database, bus = proxies
    found, _ = await timed_scrape(outage_server)
    assert up(found) == {"database": 1.0, "redis": 1.0}
    me = workers(found)
    assert len(me) == 1

    database.cut()
    found, took = await timed_scrape(outage_server)
    assert up(found) == {"database": 0.0, "redis": 1.0}
    assert SERVICE_FAMILIES.isdisjoint(found)
    assert workers(found) == me
    assert took < 5
    database.mend()

    bus.cut()
    found, took = await timed_scrape(outage_server)
    assert up(found) == {"database": 1.0, "redis": 0.0}
    assert set(found) >= SERVICE_FAMILIES
    assert workers(found) == me
    assert took < 5
    bus.mend()

    for _ in range(50):  # the pools reconnect on their next use
        found, _ = await timed_scrape(outage_server)
        if up(found) == {"database": 1.0, "redis": 1.0}:
            break
        await asyncio.sleep(0.1)
    assert up(found) == {"database": 1.0, "redis": 1.0}
    assert set(found) >= SERVICE_FAMILIES
