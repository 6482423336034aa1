"""The bus between workers over Redis pub/sub (``bus.make_bus`` builds it when Redis is set)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from signaling.common.errors import BusUnavailable
from signaling.live.bus import BUS_UNAVAILABLE, HEALTH_TIMEOUT_S, Handler

log = logging.getLogger(__name__)


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
