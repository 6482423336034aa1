"""The rows a report reads, as SQL to join: the scope's ended sessions (a CTE, read once), the
pages sent to radiologists while they were open, and the radiologists' accepts.

Pages and accepts are written while their session is open, so they are read by time as well as
by session: from the period's start to the last of its sessions' ends (``Window``, with minutes
of slack for the workers' clocks). On PostgreSQL both have a covering index (migration 0009),
and the planner picks: one range by time for tens of thousands of sessions (all facilities for a
month), a probe per session for a few (one facility's year); each a hash join and a hash
aggregate, not a sort."""

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


@dataclass(frozen=True)
class Window:
    """When rows written during the scoped sessions can have been written."""

    start: datetime
    end: datetime


async def window(db: AsyncSession, scope: Scope) -> Window:
    """From the period's start to the last end of its ended sessions, widened by the slack."""
    last_end = await db.scalar(
        select(func.max(S.ended_at))
        .join(Room, Room.id == S.room_id)
        .where(*sessions_in.conditions(db, scope))
    )
    return Window(scope.period.start - CLOCK_SLACK, (last_end or scope.period.start) + CLOCK_SLACK)


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
            p.created_at >= during.start,
            p.created_at <= during.end,
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
        .where(a.accepted_at >= during.start, a.accepted_at <= during.end)
        .subquery("accepts")
    )
