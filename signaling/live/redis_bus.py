"""The bus between workers over Redis pub/sub (``bus.make_bus`` builds it when Redis is set).

Publishing is one writer: every ``publish`` joins a bounded queue, and one task sends what has
queued as one pipeline on one connection and wakes each caller when Redis took its message. Hundreds
of sockets publishing at once therefore use one connection, not one each (the pool's limit would
refuse the rest), keep their order, and wait when the queue is full rather than lose anything.
"""

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

PUBLISH_QUEUE = 10_000  # publishes waiting for the writer; past it callers wait their turn
PUBLISH_BATCH = 500  # at most this many in one pipeline


class RedisBus:
    """Several workers and hosts: Redis pub/sub on channels under ``prefix``."""

    def __init__(self, url: str, prefix: str, max_connections: int = 8) -> None:
        # A pooled connection gone stale (Redis restarted) is replaced at once on the next use: a
        # couple of quick retries, never seconds of backoff that would hold a socket's reader.
        # The pool blocks when all ``max_connections`` are out (the subscriber, the writer and
        # health checks need three), so a burst of health checks waits instead of failing.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=HEALTH_TIMEOUT_S,
            decode_responses=True,
            health_check_interval=30,
            socket_connect_timeout=2,
            socket_timeout=5,
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
            retry_on_error=[aioredis.ConnectionError, aioredis.TimeoutError],
        )
        self._redis = aioredis.Redis.from_pool(pool)
        self._prefix = prefix
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[tuple[str, str, asyncio.Future[None]]] = asyncio.Queue(
            PUBLISH_QUEUE
        )
        self._writer: asyncio.Task[None] | None = None

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
        """Returns once Redis has taken the message; BusUnavailable if it could not."""
        if self._writer is None:
            self._writer = asyncio.create_task(self._write(), name="redis-bus-writer")
        sent = asyncio.get_running_loop().create_future()
        await self._outbox.put((f"{self._prefix}{channel}", json.dumps(message), sent))
        await sent

    async def _write(self) -> None:
        """The one publisher: what has queued goes out as one pipeline, in order."""
        while True:
            batch = [await self._outbox.get()]
            while len(batch) < PUBLISH_BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            try:
                pipe = self._redis.pipeline(transaction=False)
                for channel, data, _ in batch:
                    pipe.publish(channel, data)
                await pipe.execute()
            except asyncio.CancelledError:
                _fail(batch)
                raise
            except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
                log.warning("redis bus: %d messages not passed on (%s)", len(batch), exc)
                _fail(batch)
                continue
            except Exception:
                # The writer must outlive anything one batch does, or every later publish waits.
                log.exception("redis bus: %d messages not passed on", len(batch))
                _fail(batch)
                continue
            for _, _, sent in batch:
                if not sent.done():
                    sent.set_result(None)

    async def healthy(self) -> bool:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S):
                return bool(await self._redis.ping())
        except (aioredis.ConnectionError, aioredis.TimeoutError, TimeoutError):
            return False

    async def close(self) -> None:
        for task in (self._reader, self._writer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        while not self._outbox.empty():
            _fail([self._outbox.get_nowait()])
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._redis.aclose()


def _fail(batch: list[tuple[str, str, asyncio.Future[None]]]) -> None:
    for _, _, sent in batch:
        if not sent.done():
            sent.set_exception(BusUnavailable(BUS_UNAVAILABLE))
