"""Accept, join and release, with the pager and the notices they cause: one place for the API and
the carrier webhooks.

- accept: a promise to join (console, SMS reply, keypress). Several radiologists may accept; each new
  accept holds further tiers for the grace window. Paging goes on when it lapses.
- join: the first radiologist to join takes the session atomically; paging stops, every page still
  pending is cancelled and everyone who was paged is told it is covered, and by whom.
- release: an accept withdrawn (paging resumes when no accept stands), or a joined radiologist handing
  the session back before the call is up (paging starts again from the first tier).
- media_lost: the joined radiologist's video and audio stayed gone past the window: paging starts
  again from the first tier; the radiologist may join again like anyone paged.
"""

from __future__ import annotations

from signaling import call_record, notify, preflight, supervision
from signaling.clock import utc_now
from signaling.directory import Principal
from signaling.models import SupervisionSession
from signaling.services import Services
from signaling.supervision import Via


async def accept(
    services: Services, principal: Principal, session_id: str, via: str = Via.WEB
) -> SupervisionSession:
    async with services.db() as db, db.begin():
        now = utc_now()
        s, new = await supervision.accept(db, principal, session_id, now, via)
        if new:
            await services.pager.hold(db, s.id, now)
    if new:
        await notify.session_changed(services.hub, s)
        await notify.request_opened(services.hub, s)  # the lobby shows who has accepted
        await services.pager.tell(s.id, "accepted")
    return s


async def join(
    services: Services,
    principal: Principal,
    session_id: str,
    via: str = Via.WEB,
    *,
    device_id: str | None = None,
) -> SupervisionSession:
    """Take the session; where the facility requires it, only from a device with a passed
    pre-flight check (refusing rolls the take back; an accept that stood before still stands)."""
    async with services.db() as db, db.begin():
        now = utc_now()
        s, took = await supervision.join(db, principal, session_id, now, via)
        if took:
            await preflight.require(
                db, principal.id, s.facility, device_id, now, services.preflight_valid_for
            )
        paged = await services.pager.stop(db, s.id, "joined", now) if took else []
    if took:
        await notify.request_closed(services.hub, s, "taken")
        await notify.session_changed(services.hub, s)
        await notify.covered(services.hub, s, paged)
        await services.pager.tell(s.id, "joined")
    return s


async def release(services: Services, principal: Principal, session_id: str) -> SupervisionSession:
    async with services.db() as db, db.begin():
        now = utc_now()
        s, took = await supervision.release(db, principal, session_id, now)
        if took:
            await services.pager.repage(db, s.id, now, "handed back before the call was up")
        elif await supervision.standing_accepts(db, s.id) == 0:
            await services.pager.resume(db, s.id)
    services.pager.poke()
    await notify.session_changed(services.hub, s)
    await notify.request_opened(services.hub, s)
    await services.pager.tell(s.id, "released")
    return s


async def media_lost(
    services: Services, technologist: Principal, session_id: str, radiologist_id: int, lost_s: float
) -> SupervisionSession | None:
    """Page again because the radiologist's media is gone; None if the session was not (or no
    longer) joined with that radiologist."""
    async with services.db() as db, db.begin():
        now = utc_now()
        s = await call_record.media_lost(db, session_id, radiologist_id, lost_s, now, technologist)
        if s is None:
            return None
        await services.pager.repage(db, s.id, now, f"radiologist's media gone {lost_s:.0f} s")
    services.pager.poke()
    await notify.session_changed(services.hub, s)
    await notify.request_opened(services.hub, s)
    await services.pager.tell(s.id, "repaged")
    return s
