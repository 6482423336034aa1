"""HTTP API about one facility: who is on call there now."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from signaling.clock import utc_now
from signaling.http.deps import ROW_ID_MAX, CurrentUser, Db
from signaling.pager.on_call import on_call_now, visible_facility

router = APIRouter(prefix="/api")
FacilityId = Annotated[int, Path(ge=1, le=ROW_ID_MAX, description="a facility's id")]


@router.get("/facilities/{facility_id}/on-call")
async def on_call(facility_id: FacilityId, principal: CurrentUser, db: Db) -> dict[str, Any]:
    """Each schedule covering the facility: who is on call now, until when, whether each could be
    paged right now (and why not); and the escalation policy in force. Names, never numbers."""
    facility = await visible_facility(db, principal, facility_id)
    return {"on_call": await on_call_now(db, facility, utc_now())}
