"""Every supervision session of a scope, newest first, a page at a time, with people by name and
the join latency judged against 30 s and 90 s: the supervisor's session list.

Filtered and paged in the database (a keyset on ``requested_at`` and the id, so a page deep in a
year costs what the first one does). A session is in a period by ``requested_at``. Its band is
``band_of`` its join latency once it joined or ended (ended without a join: unmeasured); a session
still waiting has none, and a band filter leaves it out.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from signaling.accounts.roles import Role
from signaling.common.errors import InvalidInput
from signaling.record import words
from signaling.reports.percentiles import seconds_between
from signaling.reports.scope import BAND_LIMITS_S, Band, Scope, band_of
from signaling.sessions.state import SessionState, cancel_reason_of
from signaling.storage.models import Facility, Privilege, Room, SupervisionSession, User, UserRole

MAX_PAGE = 100

BAND_WORDS = {
    Band.UNDER_30: "best in class",
    Band.S30_60: "within 60 s",
    Band.S60_90: "within 90 s",
    Band.OVER_90: "over 90 s: a risk",
    Band.UNMEASURED: "unmeasured: a failure",
}


def latency_words(latency_s: float | None, band: Band | None) -> str:
    """``"14.2 s best in class"``, ``"unmeasured: a failure"``; ``"waiting"`` with no band yet."""
    if band is None:
        return "waiting"
    if latency_s is None:
        return BAND_WORDS[band]
    return f"{words.seconds(latency_s)} {BAND_WORDS[band]}"


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the next page holds sessions requested before it (ties by id)."""

    requested_at: datetime
    session_id: str

    def encode(self) -> str:
        raw = f"{self.requested_at.isoformat()}|{self.session_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """A cursor this module gave out; InvalidInput for anything else."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            at, session_id = raw.split("|")
            requested_at = datetime.fromisoformat(at)
            uuid.UUID(session_id)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidInput(
                "after: expected the 'next' value of a previous page of this list"
            ) from None
        if requested_at.tzinfo is None:
            raise InvalidInput("after: expected the 'next' value of a previous page of this list")
        return cls(requested_at, session_id)


@dataclass(frozen=True)
class SessionRow:
    id: str
    requested_at: datetime
    facility: str
    facility_timezone: str
    room: str
    modality: str
    technologist: str
    radiologist: str | None  # who took it (joined), by name
    state: str
    outcome: str | None
    cancel_reason: str | None
    joined_at: datetime | None
    ended_at: datetime | None
    latency_s: float | None
    band: Band | None

    @property
    def latency_words(self) -> str:
        return latency_words(self.latency_s, self.band)


@dataclass(frozen=True)
class SessionPage:
    rows: tuple[SessionRow, ...]
    total: int  # every session the scope matches
    next: str | None  # the cursor of the page after this one; None on the last


def _band_condition(band: Band, latency: ColumnElement[float]) -> ColumnElement[bool]:
    joined = SupervisionSession.joined_at.is_not(None)
    if band is Band.UNMEASURED:
        return and_(
            SupervisionSession.joined_at.is_(None),
            SupervisionSession.state == SessionState.ENDED.value,
        )
    if band is Band.OVER_90:
        return and_(joined, latency >= BAND_LIMITS_S[Band.S60_90][1])
    low, high = BAND_LIMITS_S[band]
    return and_(joined, latency >= low, latency < high)


def _where(db: AsyncSession, scope: Scope) -> list[ColumnElement[bool]]:
    f = scope.filters
    where: list[ColumnElement[bool]] = [
        SupervisionSession.facility_id.in_(sorted(scope.facility_ids)),
        SupervisionSession.requested_at >= scope.period.start,
        SupervisionSession.requested_at < scope.period.end,
    ]
    if f.room_ids is not None:
        where.append(SupervisionSession.room_id.in_(sorted(f.room_ids)))
    if f.modality is not None:
        where.append(Room.modality == f.modality)
    if f.radiologist_id is not None:
        where.append(SupervisionSession.radiologist_id == f.radiologist_id)
    if f.outcome is not None:
        where.append(SupervisionSession.outcome == f.outcome)
    if f.band is not None:
        latency = seconds_between(
            db,
            cast(ColumnElement[object], SupervisionSession.requested_at),
            cast(ColumnElement[object], SupervisionSession.joined_at),
        )
        where.append(_band_condition(f.band, latency))
    return where


async def session_list(
    db: AsyncSession, scope: Scope, *, limit: int = 50, after: Cursor | None = None
) -> SessionPage:
    """One page of ``scope``'s sessions, newest first: at most ``limit`` (1..``MAX_PAGE``),
    those requested before ``after`` when given; with how many match in all."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit: expected 1 to {MAX_PAGE} sessions a page, got {limit}")
    if not scope.facility_ids:
        return SessionPage((), 0, None)
    where = _where(db, scope)
    total = int(
        await db.scalar(
            select(func.count())
            .select_from(SupervisionSession)
            .join(Room, Room.id == SupervisionSession.room_id)
            .where(*where)
        )
        or 0
    )
    if after is not None:
        where.append(
            or_(
                SupervisionSession.requested_at < after.requested_at,
                and_(
                    SupervisionSession.requested_at == after.requested_at,
                    SupervisionSession.id < after.session_id,
                ),
            )
        )
    tech, rad = aliased(User), aliased(User)
    found = (
        await db.execute(
            select(
                SupervisionSession.id,
                SupervisionSession.requested_at,
                Facility.name.label("facility"),
                Facility.timezone,
                Room.name.label("room"),
                Room.modality,
                tech.full_name.label("technologist"),
                rad.full_name.label("radiologist"),
                SupervisionSession.state,
                SupervisionSession.outcome,
                SupervisionSession.cancel_reason,
                SupervisionSession.joined_at,
                SupervisionSession.ended_at,
            )
            .join(Facility, Facility.id == SupervisionSession.facility_id)
            .join(Room, Room.id == SupervisionSession.room_id)
            .join(tech, tech.id == SupervisionSession.technologist_id)
            .outerjoin(rad, rad.id == SupervisionSession.radiologist_id)
            .where(*where)
            .order_by(SupervisionSession.requested_at.desc(), SupervisionSession.id.desc())
            .limit(limit + 1)
        )
    ).all()
    rows = tuple(_row(r) for r in found[:limit])
    more = len(found) > limit
    last = rows[-1] if rows else None
    cursor = Cursor(last.requested_at, last.id).encode() if more and last else None
    return SessionPage(rows, total, cursor)


def _row(r: Any) -> SessionRow:
    latency = (r.joined_at - r.requested_at).total_seconds() if r.joined_at else None
    measured = r.joined_at is not None or r.state == SessionState.ENDED.value
    return SessionRow(
        id=r.id,
        requested_at=r.requested_at,
        facility=r.facility,
        facility_timezone=r.timezone,
        room=r.room,
        modality=r.modality,
        technologist=r.technologist,
        radiologist=r.radiologist,
        state=r.state,
        outcome=r.outcome,
        cancel_reason=cancel_reason_of(r.cancel_reason),
        joined_at=r.joined_at,
        ended_at=r.ended_at,
        latency_s=latency,
        band=band_of(latency) if measured else None,
    )


@dataclass(frozen=True)
class Choices:
    """What the list's filters offer within the readable facilities: people by name."""

    facilities: tuple[dict[str, Any], ...]  # id, code, name, timezone, rooms (id, name, modality)
    modalities: tuple[str, ...]
    radiologists: tuple[dict[str, Any], ...]  # id, name


async def choices(db: AsyncSession, facility_ids: Collection[int]) -> Choices:
    """The facilities (with their rooms), modalities and radiologists privileged at any of
    ``facility_ids`` or who took a session there, sorted by name."""
    if not facility_ids:
        return Choices((), (), ())
    ids = sorted(facility_ids)
    facilities = (
        await db.scalars(select(Facility).where(Facility.id.in_(ids)).order_by(Facility.name))
    ).all()
    rooms = (
        await db.scalars(select(Room).where(Room.facility_id.in_(ids)).order_by(Room.name))
    ).all()
    privileged = select(Privilege.user_id).where(Privilege.facility_id.in_(ids))
    took = select(SupervisionSession.radiologist_id).where(
        SupervisionSession.facility_id.in_(ids), SupervisionSession.radiologist_id.is_not(None)
    )
    people = (
        await db.execute(
            select(User.id, User.full_name)
            .join(UserRole, UserRole.user_id == User.id)
            .where(
                UserRole.role == Role.RADIOLOGIST, or_(User.id.in_(privileged), User.id.in_(took))
            )
            .order_by(User.full_name, User.id)
        )
    ).all()
    return Choices(
        facilities=tuple(
            {
                "id": f.id,
                "code": f.code,
                "name": f.name,
                "timezone": f.timezone,
                "rooms": [
                    {"id": r.id, "name": r.name, "modality": r.modality}
                    for r in rooms
                    if r.facility_id == f.id
                ],
            }
            for f in facilities
        ),
        modalities=tuple(sorted({r.modality for r in rooms})),
        radiologists=tuple({"id": i, "name": name} for i, name in people),
    )
