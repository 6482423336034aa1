"""The logins this worker's sockets hold, re-read from the database every few seconds.

A logout or a disabled account is announced over the bus and closes the sockets at once; this is the
backstop for when the bus did not carry it (Redis down at the time), and how a login that expires
while its socket is open closes that socket: within ``STANDBY_LOGIN_RECHECK_S`` of the end, with one
query per worker per round, however many sockets it holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime
from typing import Protocol

from signaling.accounts import logins
from signaling.accounts.logins import Ended
from signaling.clock import utc_now
from signaling.storage.database import SessionFactory

log = logging.getLogger(__name__)


class Holder(Protocol):
    """A socket holding a login."""

    login_id: int
    login_expires_at: datetime

    def end_login(self, why: Ended) -> None: ...


class LoginCheck:
    def __init__(self, db: SessionFactory, every_s: float) -> None:
        self._db = db
        self._every_s = every_s
        self._holders: dict[int, set[Holder]] = defaultdict(set)

    def add(self, holder: Holder) -> None:
        self._holders[holder.login_id].add(holder)

    def remove(self, holder: Holder) -> None:
        held = self._holders.get(holder.login_id)
        if held is not None:
            held.discard(holder)
            if not held:
                del self._holders[holder.login_id]

    async def run(self, stopping: asyncio.Event) -> None:
        """Re-check every round until ``stopping`` is set; a failed round is logged and retried."""
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), self._every_s)
                return
            except TimeoutError:
                pass
            try:
                await self.recheck(list(self._holders))
            except Exception as exc:  # the database away: keep sockets, try next round
                log.warning("login re-check failed (%s); next round", type(exc).__name__)

    async def recheck(self, login_ids: list[int]) -> None:
        """Read these logins now: close the sockets of those that ended, note the others' expiry."""
        if not login_ids:
            return
        now = utc_now()
        async with self._db() as db:
            standing = await logins.standing(db, login_ids, now)
        for login_id, stand in standing.items():
            for holder in list(self._holders.get(login_id, ())):
                if isinstance(stand, Ended):
                    holder.end_login(stand)
                else:
                    holder.login_expires_at = stand
