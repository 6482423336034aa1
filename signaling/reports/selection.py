"""Which sessions the paging health, coverage and reactions reports count: those of the scope's
facilities requested in its period that have ended, narrowed by its filters (as
``sessions_in`` reads them for every report). Sessions still open are left out and said so.

These reports read their period and the previous one (their cards' comparison) in one pass over
each table (``Window``): each row is labelled with the period it falls in (``NOW`` or
``BEFORE``). The latency band is judged in SQL on PostgreSQL; on SQLite, whose ``julianday``
arithmetic could put a join of exactly 30 s on the wrong side, on the exact datetimes in Python,
the sessions it keeps then named by id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports import sessions_in
from signaling.reports.percentiles import is_postgres, seconds_between
from signaling.reports.scope import BAND_LIMITS_S, Band, Scope, band_of
from signaling.sessions.state import SessionState
from signaling.storage.models import Room, SupervisionSession

S = SupervisionSession
ENDED = SessionState.ENDED.value
NOW, BEFORE = "now", "before"
# How long after the last session of a window ended a row of it may still be written (a page's
# status from a carrier's late callback, the workers' clocks): bounds the rows of the pager and of
# the accepts a report reads by their own times.
SLACK = timedelta(hours=1)


def seconds(db: AsyncSession, start: Any, end: Any) -> ColumnElement[float]:
    """``percentiles.seconds_between`` over ORM attributes or any columns."""
    return seconds_between(db, sessions_in.column(start), sessions_in.column(end))


def rounded(value: float | None, places: int = 3) -> float | None:
    """Seconds as the reports show them (to the millisecond: both databases agree to far better;
    sums of many to the tenth)."""
    return None if value is None else round(float(value), places)


def _band(db: AsyncSession, band: Band) -> ColumnElement[bool]:
    if band is Band.UNMEASURED:
        return S.joined_at.is_(None)
    latency = seconds(db, S.requested_at, S.joined_at)
    if band is Band.OVER_90:
        return and_(S.joined_at.is_not(None), latency >= 90.0)
    low, high = BAND_LIMITS_S[band]
    return and_(S.joined_at.is_not(None), latency >= low, latency < high)


async def _conditions(
    db: AsyncSession, scope: Scope, start: datetime, end: datetime
) -> list[ColumnElement[bool]]:
    """The ended sessions of ``scope``'s facilities and filters requested in [start, end)."""
    f = scope.filters
    where: list[ColumnElement[bool]] = [
        S.facility_id.in_(sorted(scope.facility_ids)),
        S.requested_at >= start,
        S.requested_at < end,
        S.state == ENDED,
    ]
    if f.room_ids is not None:
        where.append(S.room_id.in_(sorted(f.room_ids)))
    if f.modality is not None:
        where.append(S.room_id.in_(select(Room.id).where(Room.modality == f.modality)))
    if f.radiologist_id is not None:
        where.append(S.radiologist_id == f.radiologist_id)
    if f.outcome is not None:
        where.append(S.outcome == f.outcome)
    if f.band is not None and is_postgres(db):
        where.append(_band(db, f.band))
    elif f.band is not None:
        rows = await db.execute(select(S.id, S.requested_at, S.joined_at).where(*where))
        kept = [
            sid
            for sid, requested, joined in rows
            if band_of(sessions_in.exact_latency_s(requested, joined)) is f.band
        ]
        where.append(S.id.in_(kept))
    return where


@dataclass(frozen=True)
class Window:
    """The ended sessions of a scope's period and of the previous one, read together."""

    where: list[ColumnElement[bool]]  # conditions on SupervisionSession
    # True for a session of this period, False for the previous one (a boolean groups faster
    # than a label: read it back with ``label``)
    period: ColumnElement[bool]
    start: datetime  # the previous period's start
    end: datetime  # this period's end


def label(in_this_period: object) -> str:
    """``NOW`` or ``BEFORE`` for a value of ``Window.period`` as a database returns it."""
    return NOW if in_this_period else BEFORE


async def window(db: AsyncSession, scope: Scope) -> Window:
    start = scope.previous().period.start
    where = await _conditions(db, scope, start, scope.period.end)
    return Window(where, S.requested_at >= scope.period.start, start, scope.period.end)


async def written_until(db: AsyncSession, w: Window) -> datetime | None:
    """A time after which no row of the window's sessions is written (the last end plus
    ``SLACK``); None when the window has no session. A row of a session is written between its
    request and its end, so the pager's rows are read by time range, not by every session id."""
    last: datetime | None = await db.scalar(select(func.max(S.ended_at)).where(*w.where))
    return None if last is None else last + SLACK


async def open_note(db: AsyncSession, scope: Scope) -> tuple[str, ...]:
    """The note these reports carry when sessions of their period are still open (in the words
    of the other reports)."""
    n = await sessions_in.still_open(db, scope)
    if not n:
        return ()
    return (f"{n} session{'s' if n != 1 else ''} still open, left out.",)


def per_1000(count: int, exams: int) -> float | None:
    """``count`` per 1,000 ``exams`` (None when there were none)."""
    return None if exams == 0 else 1000.0 * count / exams


def share(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole
