"""The rows a report reads, as SQL to join: the scope's ended sessions (a CTE, read once), the
pages sent to radiologists while they were open, and the radiologists' accepts.

Pages and accepts are written while their session is open, so they can be read by time: from the
period's start to the last of its sessions' ends (``Window``, with minutes of slack for the
workers' clocks). For many sessions (all facilities for a month) they are, one range of a
covering index (migrations 0009, 0011); for fewer than ``BY_SESSION_BELOW`` (one facility's year)
they are read by session instead, a probe of a covering index each (migration 0012), since a
range would read the whole service's rows of the period. Each a hash join and a hash aggregate,
not a sort."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import CTE, Subquery, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.store import pages
from signaling.reports import sessions_in
from signaling.reports.scope import Scope
from signaling.storage.models import Room, SessionAccept, SupervisionSession

S = SupervisionSession
CLOCK_SLACK = timedelta(minutes=5)


def sessions(db: AsyncSession, scope: Scope) -> CTE:
    """The ended sessions of ``scope`` (band judged in SQL on PostgreSQL only, see
    ``sessions_in``): id, facility_id, room_id, radiologist_id, requested_at, joined_at,
    ended_at, outcome, and the pager's marks found_tier and accepted_via (``marks``)."""
    return (
        select(
            S.id,
            S.facility_id,
            S.room_id,
            S.radiologist_id,
            S.requested_at,
            S.joined_at,
            S.ended_at,
            S.outcome,
            S.found_tier,
            S.accepted_via,
        )
        .join(Room, Room.id == S.room_id)
        .where(*sessions_in.conditions(db, scope))
        .cte("scoped")
    )


# Fewer scoped sessions than this: their pages and accepts are read by session (a probe of a
# covering index each), more: by time. Measured on a year of 50 facilities: one facility's year
# (29,785 sessions) 1.8 s by time, where the whole service's pages of the year are read and
# hashed, 0.75 s by session; fifty facilities' month (81,963) 1.84 s by time, 2.45 s by session.
# The planner, given both, probed for the month too.
BY_SESSION_BELOW = 40_000


@dataclass(frozen=True)
class Window:
    """When rows written during the scoped sessions can have been written, and how many ended
    sessions the scope has."""

    start: datetime
    end: datetime
    sessions: int = 0

    @property
    def by_session(self) -> bool:
        """Whether to read the sessions' rows by session rather than by time."""
        return self.sessions < BY_SESSION_BELOW


async def window(db: AsyncSession, scope: Scope) -> Window:
    """From the period's start to the last end of its ended sessions, widened by the slack."""
    last_end, count = (
        await db.execute(
            select(func.max(S.ended_at), func.count())
            .join(Room, Room.id == S.room_id)
            .where(*sessions_in.conditions(db, scope))
        )
    ).one()
    return Window(
        scope.period.start - CLOCK_SLACK,
        (last_end or scope.period.start) + CLOCK_SLACK,
        int(count or 0),
    )


def sent_pages(scoped: CTE, during: Window, only: str | None = None) -> Subquery:
    """Pages asking a radiologist to supervise (purpose ``page``) that were sent, for the scoped
    sessions: id, session_id, user_id, tier, sent_at, their marks interrupts and first_to_person
    (``marks``), and the session's radiologist_id, facility_id, requested_at and joined_at.
    ``only``: just the pages with that mark set (each has its own partial index)."""
    p = pages.c
    marked = [] if only is None else [p[only]]
    return (
        select(
            p.id,
            p.session_id,
            p.user_id,
            p.tier,
            p.sent_at,
            p.interrupts,
            p.first_to_person,
            scoped.c.radiologist_id,
            scoped.c.facility_id,
            scoped.c.requested_at,
            scoped.c.joined_at,
        )
        .join(scoped, scoped.c.id == p.session_id)
        .where(
            p.purpose == "page",
            p.status == "sent",
            *([] if during.by_session else [p.created_at.between(during.start, during.end)]),
            *marked,
        )
        .subquery("sent_pages")
    )


def accepts(scoped: CTE, during: Window) -> Subquery:
    """The radiologists' accepts of the scoped sessions: session_id, user_id, via, and the
    session's radiologist_id, requested_at and joined_at."""
    a = SessionAccept
    return (
        select(
            a.session_id,
            a.user_id,
            a.via,
            scoped.c.radiologist_id,
            scoped.c.requested_at,
            scoped.c.joined_at,
        )
        .join(scoped, scoped.c.id == a.session_id)
        .where(*([] if during.by_session else [a.accepted_at.between(during.start, during.end)]))
        .subquery("accepts")
    )
