"""What the live call did, in the session's record: the first ICE connection, each side's media
verified (and the join it completes, which also answers the latest re-page), every change of the
link, and the joined radiologist's media lost past the window (the session goes back to paging, and
the re-page is kept with the join that answers it).

Like ``signaling.sessions.supervision``: every function takes the caller's database session and ``now``; the
caller commits; changes that two workers may race on are single conditional UPDATEs.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.accounts.principal import Principal
from signaling.sessions.state import SessionEvent as Event
from signaling.sessions.state import SessionState, next_state
from signaling.sessions.supervision import Participant, load, new_event, participant_role
from signaling.storage.models import SessionEvent, SessionRepage, SupervisionSession

log = logging.getLogger(__name__)


async def record_ice(
    db: AsyncSession, s: SupervisionSession, principal: Principal, state: str, now: datetime
) -> bool:
    """Store the first ICE connection; True if this report was the first."""
    if state not in ("connected", "completed") or s.ice_connected_at is not None:
        return False
    first = await db.execute(
        update(SupervisionSession)
        .where(SupervisionSession.id == s.id, SupervisionSession.ice_connected_at.is_(None))
        .values(ice_connected_at=now)
    )
    if first.rowcount == 1:  # type: ignore[attr-defined]
        db.add(new_event(s, "ice_connected", now, principal, detail=participant_role(s, principal)))
        return True
    return False


async def record_media(
    db: AsyncSession,
    s: SupervisionSession,
    principal: Principal,
    video: bool,
    audio: bool,
    now: datetime,
) -> bool:
    """Store one side's report that remote video decodes and remote audio arrives.

    Returns True when this report completed the pair and moved the session to ``joined``. Commit the
    report before calling ``try_join`` so that of two workers reporting at once, the later sees both.
    """
    role = participant_role(s, principal)
    if not (video and audio) or role is None or s.state != SessionState.PAGING.value:
        return False
    if s.radiologist_id is None:
        return False
    column = (
        SupervisionSession.technologist_media_at
        if role == Participant.TECHNOLOGIST
        else SupervisionSession.radiologist_media_at
    )
    first = await db.execute(
        update(SupervisionSession)
        .where(SupervisionSession.id == s.id, column.is_(None))
        .values({column: now})
    )
    if first.rowcount == 1:  # type: ignore[attr-defined]
        db.add(new_event(s, "media_verified", now, principal, detail=role))
        return True
    return False


async def try_join(
    db: AsyncSession, session_id: str, now: datetime, actor: Principal
) -> SupervisionSession | None:
    """Move to ``joined`` if both media reports are stored; the session if this call did it."""
    joined = await db.execute(
        update(SupervisionSession)
        .where(
            SupervisionSession.id == session_id,
            SupervisionSession.state == SessionState.PAGING.value,
            SupervisionSession.radiologist_id.is_not(None),
            SupervisionSession.technologist_media_at.is_not(None),
            SupervisionSession.radiologist_media_at.is_not(None),
        )
        # a radiologist back after a re-page keeps the first join: latency counts to that one;
        # the radiologist's media evidence starts afresh with this join
        .values(
            state=SessionState.JOINED.value,
            joined_at=func.coalesce(SupervisionSession.joined_at, now),
            radiologist_live_at=None,
        )
    )
    if joined.rowcount != 1:  # type: ignore[attr-defined]
        return None
    s = await load(db, session_id, fresh=True)
    await _answer_repage(db, s, now)
    db.add(
        new_event(
            s,
            "transition",
            now,
            actor,
            from_state=SessionState.PAGING.value,
            to_state=SessionState.JOINED.value,
        )
    )
    log.info("session %s: paging -> joined", session_id)
    return s


async def _answer_repage(db: AsyncSession, s: SupervisionSession, now: datetime) -> None:
    """The session is joined again: the latest re-page not yet answered gets this join."""
    latest = await db.scalar(
        select(func.max(SessionRepage.id)).where(SessionRepage.session_id == s.id)
    )
    if latest is None:
        return
    await db.execute(
        update(SessionRepage)
        .where(SessionRepage.id == latest, SessionRepage.joined_at.is_(None))
        .values(joined_at=now, radiologist_id=s.radiologist_id)
    )
    await db.refresh(s, ["repages"])


async def media_lost(
    db: AsyncSession,
    session_id: str,
    radiologist_id: int,
    live_before: datetime,
    now: datetime,
    actor: Principal | None = None,
) -> SupervisionSession | None:
    """The joined radiologist's media has not been seen live since before ``live_before``
    (``radiologist_watch``): the session goes back to paging without them (they may join again,
    as may anyone paged), and the re-page is recorded. Returns the session if this call made the
    change; None if it was no longer joined with that radiologist (ended, or already done by
    another worker) or fresh evidence arrived meanwhile. ``actor`` None: the server did it."""
    moved = await db.execute(
        update(SupervisionSession)
        .where(
            SupervisionSession.id == session_id,
            SupervisionSession.state == SessionState.JOINED.value,
            SupervisionSession.radiologist_id == radiologist_id,
            SupervisionSession.radiologist_live_at < live_before,
        )
        .values(
            state=next_state(SessionState.JOINED, Event.MEDIA_LOST).value,
            radiologist_id=None,
            technologist_media_at=None,
            radiologist_media_at=None,
        )
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return None
    s = await load(db, session_id, fresh=True)
    assert s.radiologist_live_at is not None
    lost_s = (now - s.radiologist_live_at).total_seconds()
    detail = f"radiologist {radiologist_id}: video and audio gone for {lost_s:.0f} s"
    db.add(new_event(s, "media_lost", now, actor, detail=detail))
    db.add(SessionRepage(session_id=s.id, repaged_at=now, reason="media_lost", detail=detail))
    db.add(
        new_event(
            s,
            "transition",
            now,
            actor,
            from_state=SessionState.JOINED.value,
            to_state=SessionState.PAGING.value,
        )
    )
    log.info("session %s: joined -> paging (radiologist's media gone %.1f s)", session_id, lost_s)
    await db.flush()
    await db.refresh(s, ["repages"])
    return s


async def record_link(
    db: AsyncSession, session_id: str, detail: str, now: datetime, actor: Principal
) -> None:
    """A change of the link's state, as the technologist's socket saw it (``link_watch``)."""
    db.add(
        SessionEvent(session_id=session_id, kind="link", at=now, actor_id=actor.id, detail=detail)
    )
