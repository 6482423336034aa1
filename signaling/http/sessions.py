"""HTTP JSON API of rooms, sessions and requests: parse, call the domain, map results and errors.
No logic of its own."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from signaling.checks import preflight
from signaling.clock import iso_ms, utc_now
from signaling.directory.queries import facility_policy, rooms_for
from signaling.http.deps import ROW_ID_MAX, CurrentUser, Db, Radiologist, ServicesDep, Technologist
from signaling.pager.summary import paging_summary
from signaling.record import actions, facts
from signaling.reports import marks
from signaling.sessions import coverage, notices, responders, supervision
from signaling.sessions.state import CancelReason, Outcome

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api")
ACCESSION = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenSessionBody(_Body):
    room_id: int = Field(ge=1, le=ROW_ID_MAX)
    accession_number: str = Field(pattern=ACCESSION, description="the exam's accession number")
    device_id: str | None = Field(
        default=None, pattern=preflight.DEVICE_ID, description="for the pre-flight requirement"
    )


class JoinBody(_Body):
    device_id: str | None = Field(
        default=None, pattern=preflight.DEVICE_ID, description="for the pre-flight requirement"
    )


class EndSessionBody(_Body):
    outcome: Outcome
    reason: CancelReason | None = None
    note: str | None = Field(default=None, max_length=500)


@router.get("/rooms")
async def rooms(principal: Technologist, db: Db) -> dict[str, Any]:
    return {
        "rooms": [
            {
                "id": r.id,
                "code": r.code,
                "name": r.name,
                "modality": r.modality,
                "facility": {
                    "id": r.facility.id,
                    "name": r.facility.name,
                    "state": r.facility.state,
                },
            }
            for r in await rooms_for(db, principal)
        ]
    }


@router.post("/sessions", status_code=status.HTTP_201_CREATED)
async def open_session(
    body: OpenSessionBody, principal: Technologist, services: ServicesDep
) -> dict[str, Any]:
    async with services.db() as db, db.begin():
        now = utc_now()
        settings = services.settings
        limits = supervision.OpenLimits(
            per_technologist=settings.technologist_open_sessions_max,
            per_room=settings.room_open_sessions_max,
        )
        s = await supervision.open_session(
            db, principal, body.room_id, body.accession_number, now, limits
        )
        # After the room checks (their errors come first); refusing rolls the session back.
        await preflight.require(
            db, principal.id, s.facility, body.device_id, now, services.preflight_valid_for
        )
        # Paging starts in the same transaction: a session never exists without its pager.
        policy = await facility_policy(db, s.facility_id)
        # The tiers due at once fire in this transaction too; their pages go out right after it.
        fresh = await services.pager.start(db, s.id, s.facility_id, policy, now)
    await services.pager.deliver(fresh, now)
    services.pager.poke()  # an empty first tier pulled the next one forward: fire it now
    await notices.request_opened(services.hub, s)
    return {"session": supervision.session_json(s, with_accession=True)}


@router.get("/sessions")
async def list_sessions(
    principal: CurrentUser,
    db: Db,
    limit: int = Query(default=50, ge=1, le=500),
    mine: bool = Query(default=False, description="only sessions where you take part"),
    open: bool = Query(default=False, description="only sessions that have not ended"),
) -> dict[str, Any]:
    found = await supervision.list_sessions(db, principal, limit, mine=mine, open_only=open)
    return {
        "sessions": [
            supervision.session_json(s, with_accession=supervision.shows_accession(principal, s))
            for s in found
        ]
    }


@router.get("/sessions/{session_id}")
async def get_session(session_id: str, principal: CurrentUser, db: Db) -> dict[str, Any]:
    s = await supervision.visible_session(db, principal, session_id, utc_now())
    return {
        "session": supervision.session_json(
            s, with_accession=supervision.shows_accession(principal, s)
        )
    }


@router.get("/sessions/{session_id}/coverage")
async def session_coverage(session_id: str, principal: CurrentUser, db: Db) -> dict[str, Any]:
    """Seconds of verified two-way live supervision and every gap (so far, while it runs)."""
    now = utc_now()
    s = await supervision.visible_session(db, principal, session_id, now)
    return {"coverage": await coverage.coverage_of(db, s, now)}


@router.get("/sessions/{session_id}/events")
async def session_events(session_id: str, principal: CurrentUser, db: Db) -> dict[str, Any]:
    await supervision.visible_session(db, principal, session_id, utc_now())
    return {
        "events": [
            {
                "kind": e.kind,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "at": iso_ms(e.at),
                "actor_id": e.actor_id,
                "detail": e.detail,
            }
            for e in await supervision.events_of(db, session_id)
        ]
    }


@router.get("/sessions/{session_id}/paging")
async def session_paging(session_id: str, principal: CurrentUser, db: Db) -> dict[str, Any]:
    """Who has been paged, accepted or skipped for this session (names, never numbers)."""
    await supervision.visible_session(db, principal, session_id, utc_now())
    return {"paging": await paging_summary(db, session_id)}


@router.get("/requests")
async def open_requests(principal: Radiologist, db: Db) -> dict[str, Any]:
    found = await supervision.open_requests(db, principal, utc_now())
    return {"requests": [supervision.session_json(s, with_accession=False) for s in found]}


@router.post("/sessions/{session_id}/accept")
async def accept(session_id: str, principal: Radiologist, services: ServicesDep) -> dict[str, Any]:
    """A promise to join: holds further tiers for the grace window. Several may accept."""
    s = await responders.accept(services, principal, session_id)
    return {"session": supervision.session_json(s, with_accession=s.radiologist_id == principal.id)}


@router.post("/sessions/{session_id}/join")
async def join(
    session_id: str, principal: Radiologist, services: ServicesDep, body: JoinBody | None = None
) -> dict[str, Any]:
    """Take the session (accepting it if not yet): the first radiologist to join wins; 409 after.
    428 where the facility requires a passed pre-flight check on this device and there is none."""
    device_id = body.device_id if body is not None else None
    s = await responders.join(services, principal, session_id, device_id=device_id)
    async with services.db() as db, db.begin():
        # Joining a session with a reaction under way is the radiologist's first action on it.
        await actions.intervene(db, principal, session_id, "joined", utc_now())
    return {"session": supervision.session_json(s, with_accession=True)}


@router.post("/sessions/{session_id}/release")
async def release(session_id: str, principal: Radiologist, services: ServicesDep) -> dict[str, Any]:
    s = await responders.release(services, principal, session_id)
    return {"session": supervision.session_json(s, with_accession=False)}


@router.post("/sessions/{session_id}/end")
async def end(
    session_id: str, body: EndSessionBody, principal: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    async with services.db() as db, db.begin():
        now = utc_now()
        s = await supervision.end(
            db, principal, session_id, body.outcome, body.reason, body.note, now
        )
        await facts.refresh(db, s)  # completeness depends on the end too
        await marks.session_ended(db, s)
        await services.pager.stop(db, s.id, s.outcome or "ended", now)
    await notices.session_changed(services.hub, s)
    await notices.request_closed(services.hub, s, "ended")
    return {"session": supervision.session_json(s, with_accession=True)}
