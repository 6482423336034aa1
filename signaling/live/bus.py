"""The message bus between workers: in-process for one worker, Redis pub/sub for several.

Each worker has exactly one subscriber (one Redis connection doing ``PSUBSCRIBE <prefix>*``), set up
before the worker serves, and hands every message to one local handler that fans it out to sockets.
Never one subscription per WebSocket: redis-py's asyncio pool stops at 100 connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from signaling.common.errors import BusUnavailable

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_S = 2.0
BUS_UNAVAILABLE = (
    "the message bus between Standby's servers cannot be reached just now, so this was not "
    "passed on; try again in a moment"
)

Handler = Callable[[str, dict[str, Any]], Awaitable[None]]


class Bus(Protocol):
    async def start(self, handler: Handler) -> None: ...

    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...

    async def healthy(self) -> bool:
        """Whether the bus answers now (always, in process)."""


class InProcessBus:
    """One worker: publishing calls the handler directly, in order."""

    def __init__(self) -> None:
        self._handler: Handler | None = None

    async def start(self, handler: Handler) -> None:
        self._handler = handler

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        if self._handler is not None:
            await self._handler(channel, message)

    async def close(self) -> None:
        self._handler = None

    async def healthy(self) -> bool:
        return True


class RedisBus:
    """Several workers and hosts: Redis pub/sub on channels under ``prefix``."""

    def __init__(self, url: str, prefix: str) -> None:
        # A pooled connection gone stale (Redis restarted) is replaced at once on the next use: a
        # couple of quick retries, never seconds of backoff that would hold a socket's reader.
        self._redis = aioredis.from_url(
            url,
            decode_responses=True,
            health_check_interval=30,
            socket_connect_timeout=2,
            socket_timeout=5,
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
            retry_on_error=[aioredis.ConnectionError, aioredis.TimeoutError],
        )
        self._prefix = prefix
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self, handler: Handler) -> None:
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=False)
        await self._pubsub.psubscribe(f"{self._prefix}*")
        # Wait for Redis to confirm, so nothing published after start() can be missed.
        while True:
            confirmation = await self._pubsub.get_message(timeout=5.0)
            if confirmation and confirmation["type"] == "psubscribe":
                break
        self._reader = asyncio.create_task(self._read(handler), name="redis-bus-reader")

    async def _read(self, handler: Handler) -> None:
        skip = len(self._prefix)
        while True:
            try:
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
            except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
                log.warning("redis bus: connection lost (%s); reconnecting", exc)
                await asyncio.sleep(0.5)
                continue
            if message is None or message["type"] != "pmessage":
                continue
            try:
                payload = json.loads(message["data"])
                await handler(message["channel"][skip:], payload)
            except Exception:
                log.exception("redis bus: handler failed for a message on %s", message["channel"])

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        try:
            await self._redis.publish(f"{self._prefix}{channel}", json.dumps(message))
        except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
            raise BusUnavailable(BUS_UNAVAILABLE) from exc

    async def healthy(self) -> bool:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S):
                return bool(await self._redis.ping())
        except (aioredis.ConnectionError, aioredis.TimeoutError, TimeoutError):
            return False

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._redis.aclose()


def make_bus(redis_url: str | None, prefix: str) -> Bus:
    return RedisBus(redis_url, prefix) if redis_url else InProcessBus()
