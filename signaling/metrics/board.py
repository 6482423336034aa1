"""Where workers leave their figures for each other: one Redis key per worker, with a TTL.

``standby serve --workers N`` puts N processes behind one listening socket, and the kernel hands
each connection to any of them: Prometheus cannot scrape a chosen worker. So every worker writes its
own figures (``WorkerFigures``) to ``<STANDBY_REDIS_PREFIX>metrics:worker:<host:pid>`` every
``PUBLISH_S``, each write living ``TTL_S``, and a scrape on any worker reads every key: all workers
of the deployment, on every host that shares the Redis. A worker that stops deletes its key; one
that dies vanishes from the scrape within ``TTL_S``. Without Redis there is one worker, and a scrape
shows only its own figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from signaling.config import Settings
from signaling.metrics.access import ScrapeAccess
from signaling.metrics.worker_figures import WorkerFigures

log = logging.getLogger(__name__)

PUBLISH_S = 5.0
TTL_S = 3 * PUBLISH_S  # two writes may be missed before a live worker drops out of the scrape
SCAN_COUNT = 200


def _glob_escaped(text: str) -> str:
    """``text`` matched literally in a Redis ``SCAN MATCH`` pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


class RedisBoard:
    """Every worker's figures in Redis under the service's prefix."""

    def __init__(self, url: str, prefix: str) -> None:
        # Short timeouts, one immediate retry (a pooled connection gone stale when Redis
        # restarted): a scrape waits at most a couple of seconds for a Redis that has gone.
        self._redis = aioredis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=1,
            socket_timeout=1,
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[aioredis.ConnectionError, aioredis.TimeoutError],
        )
        self._prefix = f"{prefix}metrics:worker:"

    async def publish(self, figures: WorkerFigures) -> None:
        await self._redis.set(self._prefix + figures.worker, figures.to_json(), ex=int(TTL_S))

    async def read_all(self) -> list[WorkerFigures]:
        """Every worker's latest figures (those that do not parse are left out, and logged)."""
        keys = [
            key
            async for key in self._redis.scan_iter(
                match=_glob_escaped(self._prefix) + "*", count=SCAN_COUNT
            )
        ]
        if not keys:
            return []
        found: list[WorkerFigures] = []
        for key, text in zip(keys, await self._redis.mget(keys), strict=True):
            if text is None:  # expired between the scan and the read
                continue
            try:
                found.append(WorkerFigures.from_json(text if isinstance(text, str) else ""))
            except ValueError as exc:
                log.warning("metrics: %s is left out of the scrape (%s)", key, exc)
        return found

    async def withdraw(self, worker: str) -> None:
        await self._redis.delete(self._prefix + worker)

    async def run(
        self,
        own: Callable[[float], WorkerFigures],
        clock: Callable[[], float],
        stopping: asyncio.Event,
    ) -> None:
        """Until ``stopping`` is set: publish ``own(clock())`` every ``PUBLISH_S``; then withdraw
        it. A Redis that does not answer is one warning when it goes and one when it is back."""
        failing = False
        worker = own(clock()).worker
        while not stopping.is_set():
            try:
                await self.publish(own(clock()))
            except (aioredis.RedisError, OSError) as exc:
                if not failing:
                    log.warning("metrics: Redis is unavailable (%s); figures wait for it", exc)
                failing = True
            except Exception:  # a bug in one round never stops the figures for good
                log.exception("metrics: publishing this worker's figures failed")
            else:
                if failing:
                    log.warning("metrics: Redis is back; this worker's figures are published")
                failing = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), PUBLISH_S)
        try:
            await self.withdraw(worker)
        except (aioredis.RedisError, OSError) as exc:
            log.warning("metrics: could not withdraw this worker's figures (%s)", exc)

    async def close(self) -> None:
        await self._redis.aclose()


def board_for(settings: Settings, access: ScrapeAccess) -> RedisBoard | None:
    """The board of this deployment: in Redis when there is one and the metrics are on, else
    none (one worker, or nobody may scrape: nothing is written)."""
    if not access.enabled or not settings.redis_url:
        return None
    return RedisBoard(settings.redis_url, settings.redis_prefix)
