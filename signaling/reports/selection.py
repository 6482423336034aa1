"""Which sessions a report counts: those of the scope's facilities requested in its period that have
ended, narrowed by its filters. Sessions still open are left out and said so in a note.

A report reads its period and the previous one (its cards' comparison) in one pass over each table
(``Window``): each row is labelled with the period it falls in (``NOW`` or ``BEFORE``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports.percentiles import is_postgres, seconds_between
from signaling.reports.scope import BAND_LIMITS_S, Band, Scope
from signaling.storage.models import Facility, Room, SupervisionSession

S = SupervisionSession
ENDED = "ended"
NOW, BEFORE = "now", "before"
# How long after the last session of a window ended a row of it may still be written (a page's
# status from a carrier's late callback): bounds the pager's rows a report reads by their times.
SLACK = timedelta(hours=1)


def seconds(db: AsyncSession, start: Any, end: Any) -> ColumnElement[float]:
    """``percentiles.seconds_between`` over ORM attributes or any columns."""
    return seconds_between(db, start, end)


def _band(db: AsyncSession, band: Band) -> ColumnElement[bool]:
    if band is Band.UNMEASURED:
        return S.joined_at.is_(None)
    latency = seconds(db, S.requested_at, S.joined_at)
    if band is Band.OVER_90:
        return and_(S.joined_at.is_not(None), latency >= 90.0)
    low, high = BAND_LIMITS_S[band]
    return and_(S.joined_at.is_not(None), latency >= low, latency < high)


def _conditions(
    db: AsyncSession, scope: Scope, start: datetime, end: datetime
) -> list[ColumnElement[bool]]:
    f = scope.filters
    where: list[ColumnElement[bool]] = [
        S.facility_id.in_(sorted(scope.facility_ids)),
        S.requested_at >= start,
        S.requested_at < end,
    ]
    if f.room_ids is not None:
        where.append(S.room_id.in_(sorted(f.room_ids)))
    if f.modality is not None:
        where.append(S.room_id.in_(select(Room.id).where(Room.modality == f.modality)))
    if f.radiologist_id is not None:
        where.append(S.radiologist_id == f.radiologist_id)
    if f.outcome is not None:
        where.append(S.outcome == f.outcome)
    if f.band is not None:
        where.append(_band(db, f.band))
    return where


def in_scope(db: AsyncSession, scope: Scope) -> list[ColumnElement[bool]]:
    """Conditions on ``SupervisionSession`` for the scope's sessions, open or ended."""
    return _conditions(db, scope, scope.period.start, scope.period.end)


def ended_in(db: AsyncSession, scope: Scope) -> list[ColumnElement[bool]]:
    """Conditions for the sessions a report counts: the scope's, ended."""
    return [*in_scope(db, scope), S.state == ENDED]


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


def window(db: AsyncSession, scope: Scope) -> Window:
    start = scope.previous().period.start
    where = [*_conditions(db, scope, start, scope.period.end), S.state == ENDED]
    return Window(where, S.requested_at >= scope.period.start, start, scope.period.end)


async def written_until(db: AsyncSession, w: Window) -> datetime | None:
    """A time after which no row of the window's sessions is written (the last end plus
    ``SLACK``); None when the window has no session. A row of a session is written between its
    request and its end, so the pager's rows are read by time range, not by every session id."""
    last = await db.scalar(select(func.max(S.ended_at)).where(*w.where))
    return None if last is None else last + SLACK


async def prepare(db: AsyncSession) -> None:
    """Before a report's queries: no JIT on PostgreSQL for this transaction. Compiling a report's
    few large aggregates takes longer than running them (0.3 to 0.8 s each, measured)."""
    if is_postgres(db):
        await db.execute(text("SET LOCAL jit = off"))


async def still_open(db: AsyncSession, scope: Scope) -> int:
    count = await db.scalar(
        select(func.count()).select_from(S).where(*in_scope(db, scope), S.state != ENDED)
    )
    return int(count or 0)


async def open_note(db: AsyncSession, scope: Scope) -> tuple[str, ...]:
    """The note every report carries when sessions of its period are still open."""
    n = await still_open(db, scope)
    if not n:
        return ()
    return (f"{n} still open: not counted until they end.",)


async def facility_names(db: AsyncSession, scope: Scope) -> tuple[str, ...]:
    names = await db.scalars(
        select(Facility.name)
        .where(Facility.id.in_(sorted(scope.facility_ids)))
        .order_by(Facility.name)
    )
    return tuple(names)


def per_1000(count: int, exams: int) -> float | None:
    """``count`` per 1,000 ``exams`` (None when there were none)."""
    return None if exams == 0 else 1000.0 * count / exams


def share(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole
