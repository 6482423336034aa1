"""HTTP routes of the pre-flight check ("Test camera, microphone and network"): parse, call, map.

``POST /api/preflight/checks`` (offer in, answer out), then after ``capture_s``
``POST /api/preflight/checks/{id}/finish`` (the page's network figures in, the verdict out), and
``GET /api/preflight/checks`` (the caller's latest result on each device). See docs/protocol.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from signaling.checks import preflight
from signaling.checks.preflight import DEVICE_ID, Network
from signaling.checks.preflight_runner import PreflightRunner
from signaling.clock import utc_now
from signaling.http.deps import ROW_ID_MAX, ClientAddress, Clinician, Db, ServicesDep
from signaling.storage.models import Facility, Privilege

router = APIRouter(prefix="/api/preflight")
MAX_SDP = 32_000  # a browser's offer with two tracks and its candidates is 3-8 kB


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartBody(_Body):
    sdp: str = Field(
        min_length=1, max_length=MAX_SDP, description="the page's offer, all candidates"
    )
    device_id: str = Field(pattern=DEVICE_ID, description="the random id this browser keeps")
    device_label: str = Field(default="", max_length=200, description="e.g. the browser and OS")


class FinishBody(_Body):
    rtt_ms: float | None = Field(default=None, ge=0, le=60_000)
    loss: float | None = Field(default=None, ge=0, le=1, description="lost / sent, 0..1")
    candidate: Literal["host", "srflx", "prflx", "relay"] | None = None


def _runner(request: Request) -> PreflightRunner:
    runner: PreflightRunner = request.app.state.preflight
    return runner


Runner = Annotated[PreflightRunner, Depends(_runner)]


@router.post("/checks", status_code=status.HTTP_201_CREATED)
async def start_check(
    body: StartBody,
    principal: Clinician,
    services: ServicesDep,
    runner: Runner,
    client: ClientAddress,
) -> dict[str, Any]:
    """Answer the page's offer: the server watches its camera and microphone for ``capture_s``
    (422 ``no_usable_candidate`` when no candidate is at the caller's address or the relay)."""
    check_id, answer = await runner.start(
        principal.id,
        body.device_id,
        body.device_label,
        body.sdp,
        services.ice_servers(principal.id),
        client,
    )
    return {"check_id": check_id, "sdp": answer, "capture_s": runner.capture_s}


@router.post("/checks/{check_id}/finish")
async def finish_check(
    body: FinishBody,
    principal: Clinician,
    services: ServicesDep,
    runner: Runner,
    check_id: int = Path(ge=1, le=ROW_ID_MAX),
) -> dict[str, Any]:
    """The page's network figures in; the combined verdict out (and stored)."""
    network = Network(body.rtt_ms, body.loss, body.candidate)
    row = await runner.finish(principal.id, check_id, network)
    return {"check": preflight.check_json(row, services.preflight_valid_for, utc_now())}


@router.get("/checks")
async def latest_checks(
    principal: Clinician,
    services: ServicesDep,
    db: Db,
    device_id: str | None = Query(default=None, pattern=DEVICE_ID),
) -> dict[str, Any]:
    """The caller's latest check on each device (``device_id``: that device's only), how long a
    pass counts, and which of the caller's facilities require one."""
    rows = await preflight.latest_per_device(db, principal.id)
    if device_id is not None:
        rows = [row for row in rows if row.device_id == device_id]
    privileged = await db.scalars(
        select(Privilege.facility_id).where(Privilege.user_id == principal.id)
    )
    mine = set(principal.facility_ids) | set(privileged)
    requiring = await db.scalars(
        select(Facility.name)
        .where(Facility.id.in_(mine), Facility.require_preflight.is_(True))
        .order_by(Facility.name)
    )
    now, valid_for = utc_now(), services.preflight_valid_for
    return {
        "checks": [preflight.check_json(row, valid_for, now) for row in rows],
        "valid_h": services.settings.preflight_valid_h,
        "required_by": list(requiring),
    }
