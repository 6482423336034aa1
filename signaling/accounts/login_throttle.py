"""Slows password guessing without letting anyone lock someone else out (issue 9 item 13).

Failures cost the address that makes them. Two counts per attempt: the address with the username
(as login looks it up: `` DrPatel`` and ``drpatel`` are one) and the address alone (any username).
Past ``per_user`` (or ``per_address``) failures, that count makes its address wait 30 s after its
last failure before the next attempt, doubling with each further failure up to 15 min; an attempt
while waiting is refused (``TooManyAttempts``, 429 with ``Retry-After``) without looking at the
password, and is not counted. Nothing counts the username alone, so the owner logging in from
their own address is never slowed by someone else's failures elsewhere. A success forgets the
address's failures for that username; they are also forgotten 30 min after the last. The address's
failures for any username are counted over 30 min from the first (so typing mistakes of the many
people behind one hospital address never add up for ever). An IPv6 address counts as its /64,
which one subscriber usually holds whole.

With Redis configured the counts are shared by every worker (``failure_counts.RedisCounts``). When
Redis cannot be reached, this worker counts in its own memory instead (logged once when it goes, once
when it is back; Redis is tried again every ``REDIS_RETRY_S``): logins go on, and guessing stays
slowed per worker. Waits counted in memory still hold after Redis is back, until they expire.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from redis.exceptions import RedisError

from signaling.accounts.failure_counts import Counted, FailureCounts, MemoryCounts
from signaling.accounts.logins import username_key
from signaling.common.errors import TooManyAttempts

log = logging.getLogger(__name__)

FIRST_WAIT_S = 30
LONGEST_WAIT_S = 15 * 60
REDIS_RETRY_S = 5.0

T = TypeVar("T")


class _Shared(Enum):
    DOWN = "down"


def wait_s(counted: Counted, free: int, now: float) -> float:
    """How much longer a count makes its address wait at ``now``: nothing before ``free`` failures;
    then ``FIRST_WAIT_S`` after the last failure, doubling per further failure, at most
    ``LONGEST_WAIT_S``."""
    if counted.failures < free:
        return 0.0
    doublings = min(counted.failures - free, 16)
    wait: int = min(LONGEST_WAIT_S, FIRST_WAIT_S * 2**doublings)
    return max(0.0, counted.last_at + wait - now)


def address_key(address: str) -> str:
    """What an address is counted as: itself, an IPv4-mapped IPv6 address as its IPv4 address, any
    other IPv6 address as its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(frozen=True)
class Attempt:
    """One login attempt: from where (the client address) and for which username (as typed)."""

    address: str
    username: str

    @property
    def address_count(self) -> str:
        return f"address:{address_key(self.address)}"

    @property
    def user_count(self) -> str:
        return f"user:{address_key(self.address)} {username_key(self.username)}"


class LoginThrottle:
    """``check`` before the password is looked at, then ``failed`` or ``succeeded``.

    ``shared``: the counts every worker sees (Redis), or None for this worker's memory only.
    ``clock``: epoch seconds (shared counts compare times written by other workers and hosts).
    """

    def __init__(
        self,
        per_user: int,
        per_address: int,
        shared: FailureCounts | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.shared = shared
        self.clock = clock
        self.local = MemoryCounts()
        self._shared_down = False
        self._retry_shared_at = 0.0

    def _keys(self, attempt: Attempt) -> tuple[list[str], list[int]]:
        """The attempt's two counts and the failures each allows before its address waits."""
        return [attempt.user_count, attempt.address_count], [self.per_user, self.per_address]

    async def check(self, attempt: Attempt) -> None:
        """Raises ``TooManyAttempts`` (saying how long to wait) while the attempt's address waits."""
        now = self.clock()
        keys, free = self._keys(attempt)
        readings = [await self.local.read(keys, now)]
        shared = await self._on_shared(now, lambda counts: counts.read(keys, now))
        if shared is not _Shared.DOWN:
            readings.append(shared)
        wait = max(
            wait_s(counted, limit, now)
            for reading in readings
            for counted, limit in zip(reading, free, strict=True)
        )
        if wait > 0:
            raise TooManyAttempts(math.ceil(wait))

    async def failed(self, attempt: Attempt) -> None:
        now = self.clock()
        keys, _ = self._keys(attempt)
        renew = [True, False]  # the address with the username: from the last; alone: the first
        if await self._on_shared(now, lambda counts: counts.add(keys, renew, now)) is _Shared.DOWN:
            await self.local.add(keys, renew, now)

    async def succeeded(self, attempt: Attempt) -> None:
        now = self.clock()
        await self.local.forget(attempt.user_count)
        await self._on_shared(now, lambda counts: counts.forget(attempt.user_count))

    async def close(self) -> None:
        if self.shared is not None:
            await self.shared.close()

    async def _on_shared(
        self, now: float, work: Callable[[FailureCounts], Awaitable[T]]
    ) -> T | _Shared:
        """``work`` on the shared counts, or ``DOWN`` when there are none or Redis cannot be
        reached (then not tried again for ``REDIS_RETRY_S``)."""
        if self.shared is None or now < self._retry_shared_at:
            return _Shared.DOWN
        try:
            result = await work(self.shared)
        except (RedisError, OSError, TimeoutError) as exc:
            self._retry_shared_at = now + REDIS_RETRY_S
            if not self._shared_down:
                self._shared_down = True
                log.warning(
                    "login throttle: Redis cannot be reached (%s); counting failed logins in this "
                    "worker's memory until it is back",
                    type(exc).__name__,
                )
            return _Shared.DOWN
        if self._shared_down:
            self._shared_down = False
            log.info("login throttle: Redis is back; failed logins are counted there again")
        return result
