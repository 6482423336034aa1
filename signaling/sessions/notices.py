"""What the participants and the radiologist lobby are told when a session changes."""

from __future__ import annotations

from signaling.common.switchboard import Switchboard
from signaling.sessions.supervision import session_json
from signaling.storage.models import SupervisionSession


async def session_changed(hub: Switchboard, s: SupervisionSession) -> None:
    await hub.to_session(s.id, {"kind": "session", "session": session_json(s, with_accession=True)})


async def request_opened(hub: Switchboard, s: SupervisionSession) -> None:
    await hub.to_lobby(
        {
            "kind": "request_opened",
            "facility_id": s.facility_id,
            "request": session_json(s, with_accession=False),
        }
    )


async def request_closed(hub: Switchboard, s: SupervisionSession, reason: str) -> None:
    await hub.to_lobby(
        {
            "kind": "request_closed",
            "facility_id": s.facility_id,
            "session_id": s.id,
            "reason": reason,
        }
    )


async def covered(hub: Switchboard, s: SupervisionSession, paged_user_ids: list[int]) -> None:
    """Tell everyone who was paged that the session is covered, and by whom."""
    by = s.radiologist.full_name if s.radiologist else "a radiologist"
    for user_id in paged_user_ids:
        if user_id != s.radiologist_id:
            await hub.to_user(user_id, {"kind": "covered", "session_id": s.id, "by": by})
