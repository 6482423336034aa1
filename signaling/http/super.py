"""HTTP API of the supervisor's console (``/super``): the alerts inbox, the live board of open
sessions and the session list. Parse, call the domain, map to JSON; no logic of its own.

Supervisors read their own facilities, admins every one, anybody else is refused (403): decided
once, by ``signaling.reports.scope``. Names of people, never phone numbers or patient identifiers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from signaling.clock import iso_ms, utc_now
from signaling.common.errors import InvalidInput
from signaling.http.deps import ROW_ID_MAX, CurrentUser, Db
from signaling.pager import alerts, board
from signaling.reports import session_list
from signaling.reports.scope import Band, Filters, Period, readable_facilities, scope_for
from signaling.sessions.state import Outcome

router = APIRouter(prefix="/api/super", tags=["supervisor"])
DEFAULT_DAYS = 30
RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]


def _alert_json(a: alerts.Alert) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind,
        "round": a.round,
        "session_id": a.session_id,
        "facility": a.facility,
        "facility_timezone": a.facility_timezone,
        "room": a.room,
        "modality": a.modality,
        "raised_at": iso_ms(a.raised_at),
        "session": {
            "state": a.session_state,
            "outcome": a.session_outcome,
            "cancel_reason": a.cancel_reason,
            "radiologist": a.radiologist,
            "joined_at": iso_ms(a.joined_at),
        },
        "delivered": a.delivered,
        "deliveries": [
            {
                "person": d.person,
                "channel": d.channel,
                "status": d.status,
                "detail": d.detail,
                "at": iso_ms(d.at),
            }
            for d in a.deliveries
        ],
        "acknowledged": (
            {"by": a.acknowledged.by, "at": iso_ms(a.acknowledged.at)} if a.acknowledged else None
        ),
        "record": f"/api/sessions/{a.session_id}/record.html",
    }


@router.get("/alerts")
async def list_alerts(
    principal: CurrentUser,
    db: Db,
    limit: int = Query(default=50, ge=1, le=alerts.MAX_ALERTS),
    before: int | None = Query(default=None, ge=1, le=ROW_ID_MAX, description="an alert's id"),
) -> dict[str, Any]:
    """The supervisors' alerts at your facilities, newest first: paging ran out (``exhausted``)
    or a contrast reaction paged every tier STAT (``reaction``); where, when, the session's state
    now, how each supervisor was reached (in-app ``sent``: a page of theirs showed it) and who
    acknowledged it."""
    facility_ids = await readable_facilities(db, principal)
    found = await alerts.recent_alerts(db, facility_ids, limit=limit, before=before)
    return {
        "alerts": [_alert_json(a) for a in found],
        "before": found[-1].id if len(found) == limit else None,
    }


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge_alert(alert_id: RowId, principal: CurrentUser, db: Db) -> dict[str, Any]:
    """You have seen to this alert: recorded in its session's log (who, when). Acknowledging it
    again changes nothing and says who did first. 404 for an alert not at your facilities."""
    facility_ids = await readable_facilities(db, principal)
    alert, now_acknowledged = await alerts.acknowledge(
        db, principal, facility_ids, alert_id, utc_now()
    )
    return {"alert": _alert_json(alert), "acknowledged_now": now_acknowledged}


@router.get("/board")
async def live_board(principal: CurrentUser, db: Db) -> dict[str, Any]:
    """Every open session at your facilities, longest waiting first, with what the pager did
    (who is paged, who accepted, whether paging ran out). Poll it every few seconds."""
    facility_ids = await readable_facilities(db, principal)
    return board.board_json(await board.open_board(db, facility_ids, utc_now()))


def _row_json(r: session_list.SessionRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "requested_at": iso_ms(r.requested_at),
        "facility": r.facility,
        "facility_timezone": r.facility_timezone,
        "room": r.room,
        "modality": r.modality,
        "technologist": r.technologist,
        "radiologist": r.radiologist,
        "state": r.state,
        "outcome": r.outcome,
        "cancel_reason": r.cancel_reason,
        "joined_at": iso_ms(r.joined_at),
        "ended_at": iso_ms(r.ended_at),
        "join_latency_s": None if r.latency_s is None else round(r.latency_s, 3),
        "band": r.band.value if r.band else None,
        "latency_words": r.latency_words,
        "record": f"/api/sessions/{r.id}/record.html",
    }


@router.get("/sessions")
async def list_sessions(
    principal: CurrentUser,
    db: Db,
    facility: Annotated[list[int] | None, Query(description="facility ids (repeat)")] = None,
    room: Annotated[list[int] | None, Query(description="room ids (repeat)")] = None,
    modality: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9]{1,10}$")] = None,
    radiologist: Annotated[int | None, Query(ge=1, le=ROW_ID_MAX)] = None,
    outcome: Outcome | None = None,
    band: Band | None = None,
    start: Annotated[datetime | None, Query(description="requested at or after (ISO-8601)")] = None,
    end: Annotated[datetime | None, Query(description="requested before (ISO-8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=session_list.MAX_PAGE)] = 50,
    after: Annotated[str | None, Query(max_length=200, description="a page's ``next``")] = None,
) -> dict[str, Any]:
    """Sessions at your facilities, newest first, a page at a time (``next`` to ``after`` for the
    one after). Filters: facility, room, modality, the radiologist who took it, outcome, join
    latency band (``unmeasured``: ended without a join), the period of the request (default the
    last 30 days; times with a zone; at most 367 days). Each row links its printable record."""
    for name, ids in (("facility", facility), ("room", room)):
        if ids and not all(1 <= i <= ROW_ID_MAX for i in ids):
            raise InvalidInput(f"{name}: expected ids from 1 to {ROW_ID_MAX}")
        if ids and len(ids) > 100:
            raise InvalidInput(f"{name}: at most 100 ids, got {len(ids)}")
    end = end or utc_now()
    start = start or end - timedelta(days=DEFAULT_DAYS)
    filters = Filters(
        facility_ids=frozenset(facility) if facility else None,
        room_ids=frozenset(room) if room else None,
        modality=modality.upper() if modality else None,
        radiologist_id=radiologist,
        outcome=outcome.value if outcome else None,
        band=band,
    )
    scope = await scope_for(db, principal, Period(start, end), filters)
    cursor = session_list.Cursor.decode(after) if after else None
    found = await session_list.session_list(db, scope, limit=limit, after=cursor)
    return {
        "start": iso_ms(scope.period.start),
        "end": iso_ms(scope.period.end),
        "total": found.total,
        "next": found.next,
        "sessions": [_row_json(r) for r in found.rows],
    }


@router.get("/choices")
async def filter_choices(principal: CurrentUser, db: Db) -> dict[str, Any]:
    """What the session list's filters offer at your facilities: facilities with their rooms,
    modalities, radiologists (by name), outcomes and latency bands."""
    facility_ids = await readable_facilities(db, principal)
    found = await session_list.choices(db, facility_ids)
    return {
        "facilities": list(found.facilities),
        "modalities": list(found.modalities),
        "radiologists": list(found.radiologists),
        "outcomes": [o.value for o in Outcome],
        "bands": [{"key": b.value, "label": session_list.BAND_WORDS[b]} for b in Band],
    }
