"""One worker's media monitors: the server's own look at each page's outgoing camera and microphone.

A page in a session whose facility monitors media posts an SDP offer for a small copy of what it
sends (``signaling.http.monitor``); this pool answers it from a ``media.monitor.MediaMonitor``, at most one per
(session, role) on this worker (a new offer from the same participant renews it), and publishes
every piece of evidence to the session through the hub, so that every participant socket, on any
worker, feeds it into its ``LinkWatch`` for the direction of that sender.

A monitor is closed when its session ends or its participant leaves (both heard on the bus, so
whichever worker learns it first), when it has received nothing for ``monitor_idle_s``, and when
the worker shuts down. A monitor on another worker, left behind when a page re-offers through a
different worker, goes by the same rules (the idle timeout at the latest).

The decoding happens in aiortc's own decoder threads, and the analysis in this pool's thread pool:
neither runs on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from media.candidates import allowed_peers
from media.monitor import Evidence, MediaMonitor, MonitorState
from signaling.common.errors import MonitorsFull
from signaling.common.switchboard import Switchboard

log = logging.getLogger(__name__)

SWEEP_S = 1.0
ANALYSIS_THREADS = 2


def evidence_message(role: str, evidence: Evidence) -> dict[str, Any]:
    """The bus message that carries one piece of evidence to every socket of the session."""
    return {
        "kind": "evidence",
        "from": role,
        "media": evidence.kind.value,
        "verdict": evidence.verdict.value,
    }


@dataclass(eq=False)
class _Entry:
    """One monitor and what the pool knows of it; also the hub member that hears its room."""

    pool: MonitorPool
    session_id: str
    role: str
    user_id: int
    monitor: MediaMonitor
    receiving_at: float  # the last offer, or the last evidence that something arrives
    offers: int = 1
    closing: bool = False

    async def on_room(self, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        ended = kind == "session" and message.get("session", {}).get("state") == "ended"
        left = kind == "participant_left" and message.get("user_id") == self.user_id
        if ended or left:
            # Closed beside the bus, not in its dispatch: closing a peer connection takes a moment.
            self.pool.close_soon(self.session_id, self.role, "session ended" if ended else "left")

    def on_lobby(self, message: dict[str, Any]) -> None:  # never in the lobby
        pass

    def on_user(self, message: dict[str, Any]) -> None:  # never a user's member
        pass


class MonitorPool:
    """The monitors of one worker; ``offer`` to open or renew one, ``close_all`` on shutdown."""

    def __init__(
        self,
        hub: Switchboard,
        *,
        limit: int,
        idle_s: float,
        relay_only: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hub = hub
        self.relay_only = relay_only
        self.limit = limit
        self.idle_s = idle_s
        self._clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._executor = ThreadPoolExecutor(ANALYSIS_THREADS, thread_name_prefix="monitor")
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def has(self, session_id: str, role: str) -> bool:
        return (session_id, role) in self._entries

    async def offer(
        self,
        session_id: str,
        role: str,
        user_id: int,
        sdp: str,
        ice_servers: Sequence[Mapping[str, Any]],
        client: str | None,
    ) -> str:
        """Answer a page's monitor offer, which came from ``client``; returns the answer SDP.
        Raises ``MonitorsFull`` when this worker has no room for another monitor,
        ``media.candidates.NoUsableCandidate`` for an offer with no candidate at ``client`` or
        the TURN relay (the pool's ``relay_only``: the relay only), ``media.monitor.MonitorError``
        for an offer it cannot answer."""
        allowed = await allowed_peers(client, ice_servers, relay_only=self.relay_only)
        key = (session_id, role)
        entry = self._entries.get(key)
        if entry is not None and (entry.user_id != user_id or entry.closing):
            await self.close(session_id, role, "replaced")
            entry = None
        if entry is None:
            if len(self._entries) >= self.limit:
                raise MonitorsFull(
                    f"this server watches {len(self._entries)} of at most {self.limit} media "
                    "copies now; try again later (the call itself is not affected)"
                )
            made: list[_Entry] = []  # the monitor reports only after its first offer: entry set
            monitor = MediaMonitor(
                ice_servers=ice_servers,
                on_evidence=lambda evidence: self._publish(made[0], evidence),
                executor=self._executor,
                label=f"monitor {session_id[:8]} {role}",
            )
            entry = _Entry(self, session_id, role, user_id, monitor, self._clock())
            made.append(entry)
            self._entries[key] = entry
            self.hub.enter_room(session_id, role, entry)
            self._start_sweeper()
            created = True
        else:
            entry.offers += 1
            created = False
        try:
            answer = await entry.monitor.accept_offer(sdp, allowed)
        except Exception:
            if created:
                await self.close(session_id, role, "offer refused")
            raise
        entry.receiving_at = self._clock()
        log.info(
            "monitor: session %s %s %s (%d on this worker)",
            session_id,
            role,
            "opened" if created else f"renewed (offer {entry.offers})",
            len(self._entries),
        )
        return answer

    def _publish(self, entry: _Entry, evidence: Evidence) -> None:
        if evidence.verdict != "lost":
            entry.receiving_at = self._clock()
        if entry.closing:
            return
        self._spawn(self.hub.to_session(entry.session_id, evidence_message(entry.role, evidence)))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close_soon(self, session_id: str, role: str, why: str) -> None:
        self._spawn(self.close(session_id, role, why))

    async def close(self, session_id: str, role: str, why: str) -> None:
        entry = self._entries.pop((session_id, role), None)
        if entry is None:
            return
        entry.closing = True
        self.hub.leave_room(session_id, role, entry)
        await entry.monitor.close()
        log.info(
            "monitor: session %s %s closed (%s; %d on this worker)",
            session_id,
            role,
            why,
            len(self._entries),
        )

    async def close_all(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for session_id, role in list(self._entries):
            await self.close(session_id, role, "shutting down")
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def sweep(self, now: float) -> list[tuple[str, str]]:
        """The monitors that received nothing for ``idle_s`` (or were closed under the pool)."""
        return [
            key
            for key, entry in self._entries.items()
            if now - entry.receiving_at >= self.idle_s or entry.monitor.state is MonitorState.CLOSED
        ]

    def _start_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._run_sweeper(), name="monitor-sweeper")

    async def _run_sweeper(self) -> None:
        while self._entries:
            await asyncio.sleep(SWEEP_S)
            for session_id, role in self.sweep(self._clock()):
                try:
                    await self.close(session_id, role, "idle")
                except Exception:
                    log.exception("monitor: closing an idle monitor failed")
