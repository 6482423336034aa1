"""``POST /api/sessions/{id}/monitor``: a participant page's offer of its monitored copy.

The page sends a small copy of its camera and microphone (about one frame a second, downscaled) to
the server, which checks it (``signaling.checks.monitors``, ``media.monitor``). Non-trickle: the page
waits for ICE gathering to complete, so its offer carries its candidates, and the answer carries
the server's. Only candidates at the address the request came from (or at the TURN relay) are
used: 422 ``no_usable_candidate`` when the offer has none.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from media.candidates import NoUsableCandidate as NoCandidateLeft
from media.monitor import MonitorError
from signaling.checks.monitors import MonitorPool
from signaling.clock import utc_now
from signaling.common.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MonitorOff,
    NoUsableCandidate,
)
from signaling.http.deps import ClientAddress, CurrentUser, ServicesDep
from signaling.sessions import supervision
from signaling.sessions.state import SessionState

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api")

# A browser's offer for one audio and one video section with host candidates is 4-8 KB; with
# many interfaces or TURN candidates, more. Past this it is not an offer we want.
MAX_SDP_CHARS = 32 * 1024


class MonitorOffer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sdp: str = Field(
        min_length=1,
        max_length=MAX_SDP_CHARS,
        pattern=r"^v=0\r?\n",
        description="the page's SDP offer, with its candidates (ICE gathering complete)",
    )


def _pool(request: Request) -> MonitorPool:
    pool: MonitorPool = request.app.state.monitors
    return pool


@router.post("/sessions/{session_id}/monitor")
async def monitor_offer(
    session_id: str,
    body: MonitorOffer,
    principal: CurrentUser,
    services: ServicesDep,
    request: Request,
    client: ClientAddress,
) -> dict[str, Any]:
    """Answer the offer of the session's technologist or radiologist (one monitor each per
    worker; a new offer renews it). 409 ``monitor_off`` when the facility has the monitor off."""
    async with services.db() as db:
        s = await supervision.visible_session(db, principal, session_id, utc_now())
        role = supervision.participant_role(s, principal)
        if role is None:
            raise Forbidden("only the session's technologist and radiologist send media to check")
        if s.state == SessionState.ENDED.value:
            raise Conflict(f"session {session_id} has ended")
        if not s.facility.monitor_media:
            raise MonitorOff(
                f"the media monitor is off for {s.facility.name}: client evidence alone decides"
            )
    try:
        answer = await _pool(request).offer(
            session_id, role, principal.id, body.sdp, services.ice_servers(principal.id), client
        )
    except NoCandidateLeft as exc:
        raise NoUsableCandidate(f"body.sdp: {exc}") from exc
    except MonitorError as exc:
        raise InvalidInput(f"body.sdp: {exc}") from exc
    return {"sdp": answer}
