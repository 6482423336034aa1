"""Rows inserted directly, as the service would have written them, for hand-computed reports.

Times are seconds after a session's request; ``T0`` (Monday 2 March 2026, 00:00 UTC) starts the
period every test reports on (``WEEK``), and the week before it is the previous period."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.store import pages, timers
from signaling.reports.scope import Period, Scope
from signaling.storage.models import (
    Facility,
    RecordReaction,
    Room,
    SessionAccept,
    SessionEvent,
    SessionRepage,
    SupervisionSession,
    User,
)

T0 = datetime(2026, 3, 2, tzinfo=UTC)
WEEK = Period(T0, T0 + timedelta(days=7))
_keys = itertools.count(1)


@dataclass(frozen=True)
class Directory:
    facility: dict[str, int]  # code -> id
    room: dict[str, int]  # facility code -> its first room's id
    user: dict[str, int]  # username -> id

    def scope(self, *codes: str, period: Period = WEEK) -> Scope:
        return Scope(frozenset(self.facility[c] for c in codes), period)


async def directory(db: AsyncSession) -> Directory:
    facilities = dict((await db.execute(select(Facility.code, Facility.id))).all())
    rooms: dict[str, int] = {}
    for code, fid in facilities.items():
        rooms[code] = min(await db.scalars(select(Room.id).where(Room.facility_id == fid)))
    users = dict((await db.execute(select(User.username, User.id))).all())
    return Directory(facilities, rooms, users)


def at(requested: datetime, seconds: float | None) -> datetime | None:
    return None if seconds is None else requested + timedelta(seconds=seconds)


async def session(
    db: AsyncSession,
    d: Directory,
    facility: str,
    requested: datetime,
    *,
    joined: float | None = None,
    ended: float | None = 600.0,
    outcome: str | None = None,
    cancel_reason: str | None = None,
    radiologist: str | None = None,
    coverage: dict[str, Any] | None = None,
    **facts: Any,
) -> str:
    """One supervision session; ``ended=None`` leaves it open (paging). The outcome defaults to
    completed after a join, cancelled (no coverage) without one."""
    sid = str(uuid.uuid4())
    measured = bool(coverage and coverage.get("measured"))  # as sessions.coverage.store keeps it
    if outcome is None:
        outcome = "completed" if joined is not None else "cancelled"
    if outcome == "cancelled" and cancel_reason is None:
        cancel_reason = "no_coverage"
    db.add(
        SupervisionSession(
            id=sid,
            facility_id=d.facility[facility],
            room_id=d.room[facility],
            technologist_id=d.user["tech"],
            radiologist_id=d.user[radiologist] if radiologist else None,
            accession_number=f"ACC-{sid[:6]}",
            state="ended" if ended is not None else "paging",
            outcome=outcome if ended is not None else None,
            cancel_reason=cancel_reason if ended is not None else None,
            requested_at=requested,
            paging_at=requested,
            joined_at=at(requested, joined),
            ended_at=at(requested, ended),
            coverage=coverage,
            verified_live_s=coverage["verified_live_s"] if measured else None,
            link_gap_count=coverage.get("gap_count", 0) if measured else None,
            **facts,
        )
    )
    await db.flush()
    return sid


async def page(
    db: AsyncSession,
    sid: str,
    requested: datetime,
    user: int,
    channel: str,
    status: str,
    *,
    sent: float | None = None,
    detail: str | None = None,
    purpose: str = "page",
    tier: int = 0,
) -> None:
    await db.execute(
        insert(pages).values(
            key=f"{sid}/{next(_keys)}",
            session_id=sid,
            user_id=user,
            user_name=f"user {user}",
            channel=channel,
            purpose=purpose,
            tier=tier,
            round=0,
            status=status,
            detail=detail,
            created_at=requested,
            due_at=requested,
            attempts=1,
            sent_at=at(requested, sent),
        )
    )


async def timer(
    db: AsyncSession, sid: str, requested: datetime, kind: str, tier: int | None, outcome: str
) -> None:
    await db.execute(
        insert(timers).values(
            session_id=sid,
            kind=kind,
            tier=tier,
            round=0 if tier is not None else None,
            due_at=requested,
            done_at=requested,
            outcome=outcome,
        )
    )


async def accept(
    db: AsyncSession,
    sid: str,
    requested: datetime,
    user: int,
    via: str,
    accepted: float,
    end_reason: str | None,
    *,
    paged: float | None = None,
) -> None:
    """An accept; ``paged``: the first page to that person on its channel, as the service keeps
    it when accepting."""
    db.add(
        SessionAccept(
            session_id=sid,
            user_id=user,
            via=via,
            accepted_at=at(requested, accepted),
            paged_at=at(requested, paged),
            ended_at=at(requested, accepted + 1) if end_reason else None,
            end_reason=end_reason,
        )
    )
    await db.flush()


async def repage(
    db: AsyncSession,
    sid: str,
    requested: datetime,
    reason: str,
    repaged: float,
    rejoined: float | None = None,
) -> None:
    db.add(
        SessionRepage(
            session_id=sid,
            repaged_at=at(requested, repaged),
            reason=reason,
            joined_at=at(requested, rejoined),
        )
    )
    await db.flush()


async def reaction(
    db: AsyncSession,
    sid: str,
    requested: datetime,
    *,
    onset: float,
    severity: str | None,
    intervened: float | None = None,
    premedicated: bool | None = False,
    reaction_type: str | None = "allergic_like",
) -> None:
    """A reaction entry and its facts row, as ``signaling.record.facts`` writes them."""
    onset_at = at(requested, onset)
    assert onset_at is not None
    entry = SessionEvent(session_id=sid, kind="reaction", at=onset_at, body={})
    db.add(entry)
    await db.flush()
    db.add(
        RecordReaction(
            entry_id=entry.id,
            session_id=sid,
            onset_at=onset_at,
            reaction_type=reaction_type,
            severity=severity,
            premedicated=premedicated,
            intervened_at=at(requested, intervened),
        )
    )
    await db.flush()
