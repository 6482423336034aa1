"""Supervision sessions: open, accept, release, report ICE and media, end; who may see which.

Every function takes the caller's database session and ``now``; the caller commits. Changes that two
workers may race on (accept, media reports, joining) are single conditional UPDATEs, so exactly one
wins on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paging.engine import PAGING_PURPOSES
from paging.policy import Channel
from paging.store import pages
from signaling.accounts.principal import Principal
from signaling.accounts.roles import Role
from signaling.clock import iso_ms
from signaling.common.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RoomBusy,
    TooManyOpen,
)
from signaling.directory.queries import eligible_facility_ids
from signaling.sessions import coverage
from signaling.sessions.state import (
    CancelReason,
    Outcome,
    SessionState,
    cancel_reason_of,
    next_state,
)
from signaling.sessions.state import SessionEvent as Event
from signaling.storage.models import (
    Room,
    SessionAccept,
    SessionEvent,
    SessionRepage,
    SupervisionSession,
    User,
)

log = logging.getLogger(__name__)

OPEN_STATES = (SessionState.REQUESTED, SessionState.PAGING)


class Participant:
    TECHNOLOGIST = "technologist"
    RADIOLOGIST = "radiologist"


def _ms(start: datetime, end: datetime | None) -> int | None:
    return round((end - start).total_seconds() * 1000) if end is not None else None


def _repage_json(r: SessionRepage) -> dict[str, Any]:
    """One re-page and the join that answered it, its latency counted from the re-page."""
    return {
        "at": iso_ms(r.repaged_at),
        "reason": r.reason,
        "detail": r.detail,
        "radiologist": (
            {"id": r.radiologist.id, "full_name": r.radiologist.full_name}
            if r.radiologist
            else None
        ),
        "joined_at": iso_ms(r.joined_at),
        "join_latency_ms": _ms(r.repaged_at, r.joined_at),
    }


def session_json(s: SupervisionSession, *, with_accession: bool) -> dict[str, Any]:
    """The session as the API and the sockets show it. ``join_latency_ms`` is the first join's,
    from the request; each re-page has its own (``repages``); ``paging_since`` is when the current
    paging round started (the request, or the latest re-page): the pages count 30/90 s from it."""
    latency = _ms(s.requested_at, s.joined_at)
    paging_since = s.repages[-1].repaged_at if s.repages else (s.paging_at or s.requested_at)
    body: dict[str, Any] = {
        "id": s.id,
        "state": s.state,
        "outcome": s.outcome,
        "cancel_reason": cancel_reason_of(s.cancel_reason),
        "facility": {
            "id": s.facility.id,
            "code": s.facility.code,
            "name": s.facility.name,
            "state": s.facility.state,
            "timezone": s.facility.timezone,
            "monitor_media": s.facility.monitor_media,
        },
        "room": {
            "id": s.room.id,
            "code": s.room.code,
            "name": s.room.name,
            "modality": s.room.modality,
        },
        "technologist": {"id": s.technologist.id, "full_name": s.technologist.full_name},
        "radiologist": (
            {
                "id": s.radiologist.id,
                "full_name": s.radiologist.full_name,
                "credentials": s.radiologist.credentials,
            }
            if s.radiologist
            else None
        ),
        "accepts": [
            {
                "radiologist": {"id": a.user.id, "full_name": a.user.full_name},
                "via": a.via,
                "accepted_at": iso_ms(a.accepted_at),
            }
            for a in s.accepts
            if a.ended_at is None
        ],
        "requested_at": iso_ms(s.requested_at),
        "paging_at": iso_ms(s.paging_at),
        "accepted_at": iso_ms(s.accepted_at),
        "ice_connected_at": iso_ms(s.ice_connected_at),
        "joined_at": iso_ms(s.joined_at),
        "ended_at": iso_ms(s.ended_at),
        "join_latency_ms": latency,
        "ended_by": _ended_by(s),
        "paging_since": iso_ms(paging_since),
        "repages": [_repage_json(r) for r in s.repages],
        "coverage": s.coverage,
    }
    if with_accession:
        body["accession_number"] = s.accession_number
    return body


def _ended_by(s: SupervisionSession) -> dict[str, Any] | None:
    """Who ended the session, and as what: the other side is told "Dr Diaz ended the session"."""
    if s.ended_by is None:
        return None
    if s.ended_by_id == s.technologist_id:
        role = Participant.TECHNOLOGIST
    elif s.ended_by_id == s.radiologist_id:
        role = Participant.RADIOLOGIST
    else:
        role = "staff"  # a supervisor or an admin, from their console or the API
    return {"id": s.ended_by.id, "full_name": s.ended_by.full_name, "role": role}


def participant_role(s: SupervisionSession, principal: Principal) -> str | None:
    if s.technologist_id == principal.id:
        return Participant.TECHNOLOGIST
    if s.radiologist_id == principal.id:
        return Participant.RADIOLOGIST
    return None


def new_event(
    s: SupervisionSession,
    kind: str,
    now: datetime,
    actor: Principal | None,
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    detail: str | None = None,
) -> SessionEvent:
    return SessionEvent(
        session_id=s.id,
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        at=now,
        actor_id=actor.id if actor else None,
        detail=detail,
    )


def _transition(
    db: AsyncSession, s: SupervisionSession, event: Event, now: datetime, actor: Principal | None
) -> None:
    old = SessionState(s.state)
    new = next_state(old, event)
    s.state = new.value
    db.add(new_event(s, "transition", now, actor, from_state=old.value, to_state=new.value))
    log.info("session %s: %s -> %s", s.id, old.value, new.value)


async def load(db: AsyncSession, session_id: str, *, fresh: bool = False) -> SupervisionSession:
    query = select(SupervisionSession).where(SupervisionSession.id == session_id)
    if fresh:
        query = query.execution_options(populate_existing=True)
    found = await db.scalar(query)
    if found is None:
        raise NotFound(f"no supervision session {session_id}")
    return found


async def may_see(
    db: AsyncSession, principal: Principal, s: SupervisionSession, now: datetime
) -> bool:
    if principal.has(Role.ADMIN) or participant_role(s, principal):
        return True
    if (
        principal.has(Role.SUPERVISOR, Role.TECHNOLOGIST)
        and s.facility_id in principal.facility_ids
    ):
        return True
    if principal.has(Role.RADIOLOGIST) and s.radiologist_id is None and s.state in OPEN_STATES:
        return s.facility_id in await eligible_facility_ids(db, principal.id, now)
    return False


async def _load_by_id(db: AsyncSession, session_id: str) -> SupervisionSession:
    try:
        uuid.UUID(session_id)
    except ValueError:
        raise NotFound(f"no supervision session {session_id[:40]!r}") from None
    return await load(db, session_id)


async def visible_session(
    db: AsyncSession, principal: Principal, session_id: str, now: datetime
) -> SupervisionSession:
    """The session if ``principal`` may see it; NotFound otherwise (no probing for ids)."""
    s = await _load_by_id(db, session_id)
    if not await may_see(db, principal, s, now):
        raise NotFound(f"no supervision session {session_id} that you may see")
    return s


def shows_accession(principal: Principal, s: SupervisionSession) -> bool:
    return (
        bool(participant_role(s, principal))
        or principal.has(Role.SUPERVISOR, Role.ADMIN)
        or (principal.has(Role.TECHNOLOGIST) and s.facility_id in principal.facility_ids)
    )


@dataclass(frozen=True)
class OpenLimits:
    """Open (not ended) sessions at once, per technologist and per room; 0 is no limit."""

    per_technologist: int = 0
    per_room: int = 0


async def _open_count(db: AsyncSession, *where: Any) -> int:
    query = select(func.count()).select_from(SupervisionSession)
    query = query.where(SupervisionSession.state != SessionState.ENDED.value, *where)
    return int(await db.scalar(query) or 0)


async def _check_limits(
    db: AsyncSession, principal: Principal, room: Room, limits: OpenLimits
) -> None:
    if limits.per_room:
        count = await _open_count(db, SupervisionSession.room_id == room.id)
        if count >= limits.per_room:
            raise RoomBusy(
                f"room {room.name} already has {count} open supervision session"
                f"{'s' if count != 1 else ''} (at most {limits.per_room}); end it before "
                "opening another"
            )
    if limits.per_technologist:
        count = await _open_count(db, SupervisionSession.technologist_id == principal.id)
        if count >= limits.per_technologist:
            raise TooManyOpen(
                f"you already have {count} open supervision sessions (at most "
                f"{limits.per_technologist}); end one before opening another"
            )


async def open_session(
    db: AsyncSession,
    principal: Principal,
    room_id: int,
    accession_number: str,
    now: datetime,
    limits: OpenLimits = OpenLimits(),
) -> SupervisionSession:
    """A technologist asks for supervision: requested, then paging at once. Refused (RoomBusy,
    TooManyOpen) when the room or the technologist already has ``limits`` open sessions."""
    if not principal.has(Role.TECHNOLOGIST):
        raise Forbidden("only technologists open supervision sessions")
    # Locked (PostgreSQL; SQLite has one writer), person then room, so two workers opening at
    # once count one after the other.
    await db.scalar(select(User.id).where(User.id == principal.id).with_for_update())
    await db.scalar(select(Room.id).where(Room.id == room_id).with_for_update())
    room = await db.get(Room, room_id)
    if room is None or not room.active:
        raise NotFound(f"no active room {room_id}")
    if room.facility_id not in principal.facility_ids:
        raise Forbidden(f"you do not work at the facility of room {room_id}")
    await _check_limits(db, principal, room, limits)
    s = SupervisionSession(
        id=str(uuid.uuid4()),
        facility_id=room.facility_id,
        room_id=room.id,
        technologist_id=principal.id,
        accession_number=accession_number,
        state=SessionState.REQUESTED.value,
        requested_at=now,
    )
    db.add(s)
    await db.flush()  # the session row first: its events refer to it
    db.add(new_event(s, "transition", now, principal, to_state=SessionState.REQUESTED.value))
    _transition(db, s, Event.PAGE, now, principal)
    s.paging_at = now
    await db.flush()
    return await load(db, s.id, fresh=True)


class Via:
    WEB = "web"
    SMS = "sms"
    VOICE = "voice"


def _taken_conflict(s: SupervisionSession) -> Conflict:
    if s.state == SessionState.ENDED.value:
        return Conflict("this request has ended")
    taker = s.radiologist.full_name if s.radiologist else "another radiologist"
    return Conflict(f"already joined by {taker}")


async def _open_for(
    db: AsyncSession, principal: Principal, session_id: str, now: datetime, verb: str
) -> SupervisionSession:
    """The session if ``principal`` may accept or join it now; NotFound / Conflict otherwise."""
    if not principal.has(Role.RADIOLOGIST):
        raise Forbidden(f"only radiologists {verb} supervision requests")
    s = await _load_by_id(db, session_id)
    # Eligibility, not visibility: a request someone else just took is no longer listed, but an
    # eligible radiologist pressing Accept deserves "already joined by Dr X", not "not found".
    if s.radiologist_id != principal.id and s.facility_id not in await eligible_facility_ids(
        db, principal.id, now
    ):
        raise NotFound(f"no supervision session {session_id} that you may see")
    return s


async def _active_accept(db: AsyncSession, session_id: str, user_id: int) -> SessionAccept | None:
    return await db.scalar(
        select(SessionAccept).where(
            SessionAccept.session_id == session_id, SessionAccept.user_id == user_id
        )
    )


# The page channel an accept answers (an accept from the console answers the in-app page).
VIA_CHANNEL = {
    Via.WEB: Channel.IN_APP.value,
    Via.SMS: Channel.SMS.value,
    Via.VOICE: Channel.VOICE.value,
}


async def _paged_at(
    db: AsyncSession, session_id: str, user_id: int, via: str, now: datetime
) -> datetime | None:
    """When this person was first sent a page for the session on the accept's channel."""
    first: datetime | None = await db.scalar(
        select(func.min(pages.c.sent_at)).where(
            pages.c.session_id == session_id,
            pages.c.user_id == user_id,
            pages.c.channel == VIA_CHANNEL.get(via, via),
            pages.c.purpose.in_(PAGING_PURPOSES),
            pages.c.sent_at <= now,
        )
    )
    return first


async def _record_accept(
    db: AsyncSession, s: SupervisionSession, principal: Principal, via: str, now: datetime
) -> bool:
    """Store the accept; False if it was already standing (a repeated keypress or reply)."""
    existing = await _active_accept(db, s.id, principal.id)
    if existing is not None and existing.ended_at is None:
        return False
    paged_at = await _paged_at(db, s.id, principal.id, via, now)
    if existing is None:
        db.add(
            SessionAccept(
                session_id=s.id, user_id=principal.id, via=via, accepted_at=now, paged_at=paged_at
            )
        )
    else:  # accepted, released, and now accepting again
        existing.via, existing.accepted_at, existing.ended_at, existing.end_reason = (
            via,
            now,
            None,
            None,
        )
        existing.paged_at = paged_at
    db.add(new_event(s, "accepted", now, principal, detail=via))
    await db.flush()
    return True


async def accept(
    db: AsyncSession, principal: Principal, session_id: str, now: datetime, via: str = Via.WEB
) -> tuple[SupervisionSession, bool]:
    """An eligible radiologist promises to join (console, SMS reply, keypress).

    Accepting is not joining: several radiologists may accept the same request; the first to
    ``join`` takes it. Returns the session and whether this accept is new (a repeat changes nothing).
    """
    s = await _open_for(db, principal, session_id, now, "accept")
    if s.radiologist_id == principal.id:
        return s, False
    if s.state != SessionState.PAGING.value or s.radiologist_id is not None:
        raise _taken_conflict(s)
    new = await _record_accept(db, s, principal, via, now)
    return await load(db, session_id, fresh=True), new


async def join(
    db: AsyncSession, principal: Principal, session_id: str, now: datetime, via: str = Via.WEB
) -> tuple[SupervisionSession, bool]:
    """The radiologist enters the session from a console: the first to join takes it, atomically.

    Joining implies accepting. Returns the session and whether this call took it (False when the
    caller had already taken it). Other radiologists' accepts are superseded.
    """
    s = await _open_for(db, principal, session_id, now, "join")
    if s.radiologist_id == principal.id:
        return s, False
    accepted = await _active_accept(db, session_id, principal.id)
    if accepted is None or accepted.ended_at is not None:
        if s.state != SessionState.PAGING.value or s.radiologist_id is not None:
            raise _taken_conflict(s)
        await _record_accept(db, s, principal, via, now)
        accepted = await _active_accept(db, session_id, principal.id)
    assert accepted is not None
    taken = await db.execute(
        update(SupervisionSession)
        .where(
            SupervisionSession.id == session_id,
            SupervisionSession.state == SessionState.PAGING.value,
            SupervisionSession.radiologist_id.is_(None),
        )
        .values(radiologist_id=principal.id, accepted_at=accepted.accepted_at)
    )
    s = await load(db, session_id, fresh=True)
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise _taken_conflict(s)
    await db.execute(
        update(SessionAccept)
        .where(
            SessionAccept.session_id == session_id,
            SessionAccept.user_id != principal.id,
            SessionAccept.ended_at.is_(None),
        )
        .values(ended_at=now, end_reason="superseded")
    )
    accepted.ended_at, accepted.end_reason = now, "joined"
    db.add(new_event(s, "joined_request", now, principal, detail=accepted.via))
    log.info("session %s: taken by radiologist %s", session_id, principal.id)
    return await load(db, session_id, fresh=True), True


async def standing_accepts(db: AsyncSession, session_id: str) -> int:
    """How many accepts still stand (not released, superseded or turned into a join)."""
    count = await db.scalar(
        select(func.count())
        .select_from(SessionAccept)
        .where(SessionAccept.session_id == session_id, SessionAccept.ended_at.is_(None))
    )
    return int(count or 0)


async def release(
    db: AsyncSession, principal: Principal, session_id: str, now: datetime
) -> tuple[SupervisionSession, bool]:
    """The radiologist hands the request back before the call is up.

    Returns the session and whether the radiologist had taken it (joined), in which case paging
    starts again; otherwise only their accept is withdrawn.
    """
    s = await _load_by_id(db, session_id)
    accepted = await _active_accept(db, session_id, principal.id)
    took = s.radiologist_id == principal.id
    if not took and (accepted is None or accepted.ended_at is not None):
        if not await may_see(db, principal, s, now):
            raise NotFound(f"no supervision session {session_id} that you may see")
        raise Forbidden("only a radiologist who accepted may release")
    if s.state != SessionState.PAGING.value:
        raise Conflict(f"expected a session still paging to release, but it is {s.state}")
    if accepted is not None and (took or accepted.ended_at is None):
        accepted.ended_at, accepted.end_reason = now, "released"
    if took:
        s.radiologist_id, s.accepted_at, s.radiologist_media_at, s.technologist_media_at = (
            None,
            None,
            None,
            None,
        )
        db.add(
            SessionRepage(
                session_id=s.id,
                repaged_at=now,
                reason="handed_back",
                detail=f"radiologist {principal.id} handed the session back before the call was up",
            )
        )
    db.add(new_event(s, "released", now, principal, detail="joined" if took else "accepted"))
    await db.flush()
    return await load(db, session_id, fresh=True), took


async def end(
    db: AsyncSession,
    principal: Principal,
    session_id: str,
    outcome: Outcome,
    reason: CancelReason | None,
    note: str | None,
    now: datetime,
) -> SupervisionSession:
    """End a session: completed (after a join) or cancelled with a reason."""
    s = await visible_session(db, principal, session_id, now)
    role = participant_role(s, principal)
    if role is None and not principal.has(Role.ADMIN, Role.SUPERVISOR):
        raise Forbidden("only the session's participants, supervisors and admins end a session")
    if outcome is Outcome.CANCELLED and reason is None:
        raise InvalidInput(
            "a cancelled session needs a reason: one of "
            + ", ".join(reason.value for reason in CancelReason)
        )
    if outcome is Outcome.COMPLETED and reason is not None:
        raise InvalidInput("a reason goes with a cancellation, not with a completed session")
    if role == Participant.RADIOLOGIST and outcome is Outcome.CANCELLED:
        raise Forbidden("a radiologist releases a request instead of cancelling it")
    _transition(
        db, s, Event.COMPLETE if outcome is Outcome.COMPLETED else Event.CANCEL, now, principal
    )
    s.outcome = outcome.value
    s.cancel_reason = reason.value if reason else None
    s.cancel_note = note
    s.ended_at = now
    s.ended_by_id = principal.id
    coverage.store(s, await coverage.coverage_of(db, s, now))
    await db.execute(
        update(SessionAccept)
        .where(SessionAccept.session_id == s.id, SessionAccept.ended_at.is_(None))
        .values(ended_at=now, end_reason="session_ended")
    )
    await db.flush()
    return await load(db, s.id, fresh=True)


def _open_query() -> Select[SupervisionSession]:
    return (
        select(SupervisionSession)
        .where(
            SupervisionSession.state == SessionState.PAGING.value,
            SupervisionSession.radiologist_id.is_(None),
        )
        .order_by(SupervisionSession.requested_at)
    )


async def open_requests(
    db: AsyncSession, principal: Principal, now: datetime
) -> Sequence[SupervisionSession]:
    """Open requests a radiologist may accept now, oldest first."""
    eligible = await eligible_facility_ids(db, principal.id, now)
    if not eligible:
        return []
    return (
        await db.scalars(_open_query().where(SupervisionSession.facility_id.in_(eligible)))
    ).all()


async def list_sessions(
    db: AsyncSession,
    principal: Principal,
    limit: int,
    *,
    mine: bool = False,
    open_only: bool = False,
) -> Sequence[SupervisionSession]:
    """Newest first, within the caller's scope; ``mine``: only where the caller is a participant;
    ``open_only``: only sessions that have not ended."""
    query = select(SupervisionSession).order_by(SupervisionSession.requested_at.desc()).limit(limit)
    if mine:
        query = query.where(
            (SupervisionSession.technologist_id == principal.id)
            | (SupervisionSession.radiologist_id == principal.id)
        )
    if open_only:
        query = query.where(SupervisionSession.state != SessionState.ENDED.value)
    if principal.has(Role.ADMIN):
        pass
    elif principal.has(Role.SUPERVISOR, Role.TECHNOLOGIST):
        query = query.where(SupervisionSession.facility_id.in_(principal.facility_ids))
    else:
        query = query.where(SupervisionSession.radiologist_id == principal.id)
    return (await db.scalars(query)).all()


async def events_of(db: AsyncSession, session_id: str) -> Sequence[SessionEvent]:
    return (
        await db.scalars(
            select(SessionEvent)
            .where(SessionEvent.session_id == session_id)
            .order_by(SessionEvent.id)
        )
    ).all()
