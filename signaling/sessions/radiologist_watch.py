"""The re-page rule, on the server (issue 9 item 6): a joined session whose radiologist's media has
not been seen live for the re-page window (``STANDBY_REPAGE_AFTER_S``) pages again, once per loss,
whichever sockets and workers are left.

Evidence. Every socket in a joined session, the technologist's and the radiologist's, on any worker,
writes what its link watch (``signaling.live.link_watch``) sees of the radiologist's media into the
session's row (``radiologist_live_at``): the time it last saw it live (or degraded: media that still
arrives), at most every ``evidence_every`` and at once on a change. The first write of a join starts
the clock even if the media is gone already, so a radiologist whose media never arrived is paged
around too; pages that never report keep the watch off, as the link watch does.

What counts is the radiologist's media reaching the session: the technologist's page receiving it
(client evidence, with the server's monitor where the facility has it on). The radiologist's socket
alone does not count: a connected page with no camera or microphone is not supervision. So when the
technologist's page is gone too, nothing receives the radiologist's media and the window runs; a
technologist's page that reloads within the window (15 s by default) costs nothing.

Nobody has to stay for the rule to hold: when a page closes, or the worker holding its socket is
killed, its evidence just stops, time passes, and any worker's sweep finds the session overdue. Every
worker sweeps; each overdue session is claimed by one conditional UPDATE (still joined, with that
radiologist, evidence still stale: ``call_record.media_lost``), in the same transaction as the
pager's new rounds, so exactly one worker re-pages (a second one's UPDATE waits for the first to
commit, then matches nothing) and a worker dying mid-way rolls back and leaves it to the next sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.sessions import responders
from signaling.sessions.state import SessionState
from signaling.storage.database import SessionFactory
from signaling.storage.models import SupervisionSession

log = logging.getLogger(__name__)

BATCH = 20  # sessions one sweep looks at; the rest wait for the next one, a fraction of a second
FLUSH_S = 0.5  # how often a worker writes the evidence its sockets noted


def evidence_every(window_s: float) -> float:
    """How often a socket writes that the radiologist's media is live: a few times per window, and
    at most every 2 s (the window is 15 s by default)."""
    return min(2.0, window_s / 5)


def sweep_every(window_s: float) -> float:
    return min(1.0, window_s / 5)


_sessions = cast(Table, SupervisionSession.__table__)
_joined = _sessions.c.state == SessionState.JOINED.value
_LIVE = (
    update(_sessions)
    .where(_sessions.c.id == bindparam("sid"), _joined)
    .values(radiologist_live_at=bindparam("at"))
)
_GONE = (
    update(_sessions)
    .where(_sessions.c.id == bindparam("sid"), _joined)
    .values(
        radiologist_live_at=func.coalesce(
            _sessions.c.radiologist_live_at,
            bindparam("at", type_=_sessions.c.radiologist_live_at.type),
        )
    )
)


class EvidenceBook:
    """One worker's evidence, written for all its sockets together: at most one transaction every
    ``FLUSH_S`` (one executemany per kind), however many sockets report. Each socket writing its own
    row every 2 s was, at 500 live sessions, most of a worker's time and its database pool's."""

    def __init__(self, db: SessionFactory) -> None:
        self._db = db
        self._pending: dict[str, tuple[bool, datetime]] = {}
        self._failing = False

    def note(self, session_id: str, live: bool, now: datetime) -> None:
        """A socket's evidence on the radiologist's media. Live moves the session's last-live time
        to ``now``; gone only starts the clock if nothing has yet; only while the session is joined
        (a re-join starts the evidence afresh). Within one flush, live wins: one socket seeing the
        radiologist's media is evidence that it arrives, and the latest such time is kept (what a failed
        flush puts back never moves it earlier)."""
        seen = self._pending.get(session_id)
        if seen is None or (live and not (seen[0] and seen[1] >= now)):
            self._pending[session_id] = (live, now)

    async def flush(self) -> int:
        """Write what was noted since the last flush; how many sessions. If the database is away,
        what was noted waits for the next flush (no evidence at all is what the rule pages on)."""
        pending, self._pending = self._pending, {}
        if not pending:
            return 0
        live = [{"sid": sid, "at": at} for sid, (ok, at) in pending.items() if ok]
        gone = [{"sid": sid, "at": at} for sid, (ok, at) in pending.items() if not ok]
        try:
            async with self._db() as db, db.begin():
                if live:
                    await db.execute(_LIVE, live)
                if gone:
                    await db.execute(_GONE, gone)
        except Exception as exc:
            for sid, (ok, at) in pending.items():
                self.note(sid, ok, at)
            if not self._failing:
                log.warning("writing the radiologists' media evidence failed: %r", exc)
            self._failing = True
            return 0
        if self._failing:
            log.warning("writing the radiologists' media evidence: working again")
        self._failing = False
        return len(pending)

    async def run(self, stopping: asyncio.Event) -> None:
        """Flush every ``FLUSH_S`` until ``stopping`` is set, then once more."""
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), FLUSH_S)
            await self.flush()


async def overdue(db: AsyncSession, live_before: datetime) -> list[tuple[str, int]]:
    """(session, radiologist) of joined sessions whose radiologist was last seen live before
    ``live_before``, longest gone first."""
    rows = await db.execute(
        select(SupervisionSession.id, SupervisionSession.radiologist_id)
        .where(
            SupervisionSession.state == SessionState.JOINED.value,
            SupervisionSession.radiologist_id.is_not(None),
            SupervisionSession.radiologist_live_at < live_before,
        )
        .order_by(SupervisionSession.radiologist_live_at)
        .limit(BATCH)
    )
    return [(sid, rid) for sid, rid in rows.all() if rid is not None]


async def sweep(worker: responders.Worker, window_s: float, now: datetime) -> int:
    """Re-page every joined session overdue as of ``now``; how many this worker re-paged."""
    live_before = now - timedelta(seconds=window_s)
    async with worker.db() as db:
        candidates = await overdue(db, live_before)
    done = 0
    for session_id, radiologist_id in candidates:
        try:
            if await responders.media_lost(worker, session_id, radiologist_id, live_before):
                done += 1
        except Exception:
            log.exception(
                "session %s: paging again after the radiologist's loss failed", session_id
            )
    return done


async def run(
    worker: responders.Worker,
    window_s: float,
    clock: Callable[[], datetime],
    stopping: asyncio.Event,
) -> None:
    """Sweep every ``sweep_every(window_s)`` until ``stopping`` is set; one failed sweep (the
    database away) never stops the loop."""
    failing = False
    while not stopping.is_set():
        try:
            await sweep(worker, window_s, clock())
            if failing:
                log.warning("re-page sweep: working again")
            failing = False
        except Exception as exc:
            if not failing:
                log.warning("re-page sweep failed (%s); trying again", type(exc).__name__)
            failing = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), sweep_every(window_s))
