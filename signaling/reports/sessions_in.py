"""Which supervision sessions a report reads: those of the scope's facilities requested in its
period, narrowed by its filters, ended (a session still open has no outcome yet: reports leave it
out and say how many there were).

The latency band is judged in SQL only on PostgreSQL, where seconds are exact; SQLite's
``julianday`` arithmetic could put a join of exactly 30 s on the wrong side of the line, so there
the band is judged in Python on the exact datetimes (``band_matches``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports.percentiles import is_postgres, seconds_between
from signaling.reports.scope import Band, Scope, band_of
from signaling.sessions.state import SessionState
from signaling.storage.models import Facility, Room, SupervisionSession

S = SupervisionSession


def column(attribute: Any) -> ColumnElement[object]:
    """A mapped attribute as the plain column ``seconds`` takes."""
    return cast("ColumnElement[object]", attribute.expression)


def latency_s(db: AsyncSession) -> ColumnElement[float]:
    """Join latency in seconds (NULL: never joined), in the database's own arithmetic."""
    return seconds_between(db, S.requested_at.expression, S.joined_at.expression)


def _band_condition(db: AsyncSession, band: Band) -> ColumnElement[bool]:
    if band is Band.UNMEASURED:
        return S.joined_at.is_(None)
    latency = latency_s(db)
    if band is Band.OVER_90:
        return latency >= 90.0
    limits = {Band.UNDER_30: (None, 30.0), Band.S30_60: (30.0, 60.0), Band.S60_90: (60.0, 90.0)}
    low, high = limits[band]
    below = latency < high
    return below if low is None else and_(latency >= low, below)


def conditions(db: AsyncSession, scope: Scope, *, ended: bool = True) -> list[ColumnElement[bool]]:
    """WHERE terms over ``SupervisionSession`` (joined with its ``Room`` for the modality) for the
    sessions of ``scope``: ended ones, or with ``ended=False`` the ones still open. The band is in
    SQL on PostgreSQL only; on SQLite call ``band_matches`` on each row read."""
    f = scope.filters
    terms: list[ColumnElement[bool]] = [
        S.facility_id.in_(sorted(scope.facility_ids)),
        S.requested_at >= scope.period.start,
        S.requested_at < scope.period.end,
        S.state == SessionState.ENDED.value if ended else S.state != SessionState.ENDED.value,
    ]
    if f.room_ids is not None:
        terms.append(S.room_id.in_(sorted(f.room_ids)))
    if f.modality is not None:
        terms.append(Room.modality == f.modality)
    if f.radiologist_id is not None:
        terms.append(S.radiologist_id == f.radiologist_id)
    if f.outcome is not None:
        terms.append(S.outcome == f.outcome)
    if ended and f.band is not None and is_postgres(db):
        terms.append(_band_condition(db, f.band))
    return terms


def band_matches(
    db: AsyncSession, scope: Scope, requested_at: datetime, joined_at: datetime | None
) -> bool:
    """Whether a row read passes the band filter where SQL did not judge it (SQLite)."""
    band = scope.filters.band
    if band is None or is_postgres(db):
        return True
    return band_of(exact_latency_s(requested_at, joined_at)) is band


def exact_latency_s(requested_at: datetime, joined_at: datetime | None) -> float | None:
    return None if joined_at is None else (joined_at - requested_at).total_seconds()


async def still_open(db: AsyncSession, scope: Scope) -> int:
    """How many sessions of ``scope`` (band aside: they have none yet) are not ended."""
    query = (
        select(func.count())
        .select_from(S)
        .join(Room, Room.id == S.room_id)
        .where(*conditions(db, scope, ended=False))
    )
    return int(await db.scalar(query) or 0)


async def facility_names(db: AsyncSession, scope: Scope) -> tuple[str, ...]:
    """The names of the facilities ``scope`` reads, sorted."""
    names = await db.scalars(
        select(Facility.name)
        .where(Facility.id.in_(sorted(scope.facility_ids)))
        .order_by(Facility.name)
    )
    return tuple(names)
