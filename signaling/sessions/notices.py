"""What the participants and the radiologist lobby are told when a session changes.

Told after the change is committed: a bus that cannot be reached loses the notice (logged), never
the change, and never fails the request that made it; pages read the session again when their
socket comes back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from signaling.common.errors import BusUnavailable
from signaling.common.switchboard import Switchboard
from signaling.sessions.supervision import session_json
from signaling.storage.models import SupervisionSession

log = logging.getLogger(__name__)


async def _tell(what: str, session_id: str, publishing: Awaitable[None]) -> None:
    try:
        await publishing
    except BusUnavailable:
        log.warning("session %s: %s not told: the message bus is unavailable", session_id, what)


async def session_changed(hub: Switchboard, s: SupervisionSession) -> None:
    message = {"kind": "session", "session": session_json(s, with_accession=True)}
    await _tell("the change", s.id, hub.to_session(s.id, message))


async def request_opened(hub: Switchboard, s: SupervisionSession) -> None:
    message = {
        "kind": "request_opened",
        "facility_id": s.facility_id,
        "request": session_json(s, with_accession=False),
    }
    await _tell("the open request", s.id, hub.to_lobby(message))


async def request_closed(hub: Switchboard, s: SupervisionSession, reason: str) -> None:
    message = {
        "kind": "request_closed",
        "facility_id": s.facility_id,
        "session_id": s.id,
        "reason": reason,
    }
    await _tell("the closed request", s.id, hub.to_lobby(message))


async def covered(hub: Switchboard, s: SupervisionSession, paged_user_ids: list[int]) -> None:
    """Tell everyone who was paged that the session is covered, and by whom."""
    by = s.radiologist.full_name if s.radiologist else "a radiologist"
    for user_id in paged_user_ids:
        if user_id != s.radiologist_id:
            message = {"kind": "covered", "session_id": s.id, "by": by}
            await _tell("covered", s.id, hub.to_user(user_id, message))
