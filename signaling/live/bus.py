"""The message bus between workers: in-process for one worker, Redis pub/sub for several.

Each worker has exactly one subscriber (one Redis connection doing ``PSUBSCRIBE <prefix>*``), set up
before the worker serves, and hands every message to one local handler that fans it out to sockets.
Never one subscription per WebSocket: redis-py's asyncio pool stops at 100 connections. Publishing
is one writer too (``signaling.live.redis_bus``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

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


def make_bus(redis_url: str | None, prefix: str, max_connections: int = 8) -> Bus:
    if not redis_url:
        return InProcessBus()
    # Imported only for a Redis bus: a worker on its own never loads redis-py.
    from signaling.live.redis_bus import RedisBus

    return RedisBus(redis_url, prefix, max_connections)
