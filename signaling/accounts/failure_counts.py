"""Where the login throttle keeps its counts: failed logins per key, and when the last one was.

``RedisCounts`` shares them between every worker and host of a deployment (a hash per key under the
service's ``STANDBY_REDIS_PREFIX``, each with a TTL); ``MemoryCounts`` keeps them in one worker (no
Redis configured, or while Redis cannot be reached). A key's failures are forgotten
``FORGET_AFTER_S`` after its last one when it is added with ``renew``, else ``FORGET_AFTER_S`` after
its first.
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

    async def add(self, keys: Sequence[str], renew: Sequence[bool], now: float) -> None:
        """One more failure for each key, at ``now``; ``renew``: whether this failure starts the
        key's ``FORGET_AFTER_S`` again."""

    async def forget(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryCounts:
    """One worker's counts, oldest dropped first past ``MEMORY_KEYS_MAX``."""

    def __init__(self, keys_max: int = MEMORY_KEYS_MAX) -> None:
        self._counts: OrderedDict[str, tuple[Counted, float]] = OrderedDict()  # and when it expires
        self._keys_max = keys_max

    def _live(self, key: str, now: float) -> tuple[Counted, float] | None:
        entry = self._counts.get(key)
        if entry is not None and now >= entry[1]:
            del self._counts[key]
            return None
        return entry

    async def read(self, keys: Sequence[str], now: float) -> list[Counted]:
        return [entry[0] if (entry := self._live(key, now)) else Counted() for key in keys]

    async def add(self, keys: Sequence[str], renew: Sequence[bool], now: float) -> None:
        for key, again in zip(keys, renew, strict=True):
            entry = self._live(key, now)
            failures = entry[0].failures if entry else 0
            expires = now + FORGET_AFTER_S if again or entry is None else entry[1]
            self._counts[key] = (Counted(failures + 1, now), expires)
            self._counts.move_to_end(key)
        while len(self._counts) > self._keys_max:
            self._counts.popitem(last=False)

    async def forget(self, key: str) -> None:
        self._counts.pop(key, None)

    async def close(self) -> None:
        self._counts.clear()


# One failure for each key: count it, stamp it, and give the key its TTL (again, if renewed).
# A script, so a key never exists without a TTL, on any Redis version.
ADD_SCRIPT = """
local ttl = tonumber(ARGV[#ARGV])
for i, key in ipairs(KEYS) do
    redis.call('HINCRBY', key, 'n', 1)
    redis.call('HSET', key, 'at', ARGV[1])
    if ARGV[i + 1] == '1' or redis.call('TTL', key) < 0 then
        redis.call('EXPIRE', key, ttl)
    end
end
"""


class RedisCounts:
    """Counts every worker sees: a hash per key (``n`` failures, the last ``at``) with a TTL."""

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
        self._add = self._redis.register_script(ADD_SCRIPT)

    async def read(self, keys: Sequence[str], now: float) -> list[Counted]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(self._prefix + key, "n", "at")
            rows = await pipe.execute()
        return [Counted(int(n), float(at)) if n and at else Counted() for n, at in rows]

    async def add(self, keys: Sequence[str], renew: Sequence[bool], now: float) -> None:
        flags = ["1" if again else "0" for again in renew]
        await self._add(
            keys=[self._prefix + key for key in keys], args=[repr(now), *flags, FORGET_AFTER_S]
        )

    async def forget(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def close(self) -> None:
        await self._redis.aclose()
