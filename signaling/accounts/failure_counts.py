"""Where the login throttle keeps its counts: failed logins per key, and when the last one was.

``RedisCounts`` shares them between every worker and host of a deployment (a hash per key under the
service's ``STANDBY_REDIS_PREFIX``, each with a TTL); ``MemoryCounts`` keeps them in one worker (no
Redis configured, or while Redis cannot be reached). A key's failures are forgotten
``FORGET_AFTER_S`` after its last one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

FORGET_AFTER_S = 30 * 60
MEMORY_KEYS_MAX = 100_000  # an address flood cannot grow a worker's memory without bound


@dataclass(frozen=True)
class Counted:
    failures: int = 0
    last_at: float = 0.0  # epoch seconds of the last failure


class FailureCounts(Protocol):
    async def read(self, keys: Sequence[str], now: float) -> list[Counted]: ...

    async def add(self, keys: Sequence[str], now: float) -> None:
        """One more failure for each key, at ``now``."""

    async def forget(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryCounts:
    """One worker's counts, oldest dropped first past ``MEMORY_KEYS_MAX``."""

    def __init__(self, keys_max: int = MEMORY_KEYS_MAX) -> None:
        self._counts: OrderedDict[str, Counted] = OrderedDict()
        self._keys_max = keys_max

    async def read(self, keys: Sequence[str], now: float) -> list[Counted]:
        found = []
        for key in keys:
            counted = self._counts.get(key, Counted())
            if counted.failures and now - counted.last_at >= FORGET_AFTER_S:
                del self._counts[key]
                counted = Counted()
            found.append(counted)
        return found

    async def add(self, keys: Sequence[str], now: float) -> None:
        for key, counted in zip(keys, await self.read(keys, now), strict=True):
            self._counts[key] = Counted(counted.failures + 1, now)
            self._counts.move_to_end(key)
        while len(self._counts) > self._keys_max:
            self._counts.popitem(last=False)

    async def forget(self, key: str) -> None:
        self._counts.pop(key, None)

    async def close(self) -> None:
        self._counts.clear()


class RedisCounts:
    """Counts every worker sees: ``HINCRBY n`` and ``HSET at`` in one transaction, with a TTL."""

    def __init__(self, url: str, prefix: str) -> None:
        # Short timeouts and one immediate retry (a pooled connection gone stale when Redis
        # restarted): a login waits at most a couple of seconds for a Redis that has gone before
        # the throttle counts in memory instead.
        self._redis = aioredis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=1,
            socket_timeout=1,
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[aioredis.ConnectionError, aioredis.TimeoutError],
        )
        self._prefix = f"{prefix}login-failures:"

    async def read(self, keys: Sequence[str], now: float) -> list[Counted]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(self._prefix + key, "n", "at")
            rows = await pipe.execute()
        return [Counted(int(n), float(at)) if n and at else Counted() for n, at in rows]

    async def add(self, keys: Sequence[str], now: float) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.hincrby(self._prefix + key, "n", 1)
                pipe.hset(self._prefix + key, "at", repr(now))
                pipe.expire(self._prefix + key, FORGET_AFTER_S)
            await pipe.execute()

    async def forget(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def close(self) -> None:
        await self._redis.aclose()
