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

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from paging.engine import Engine
from signaling.accounts.principal import Principal
from signaling.checks import preflight
from signaling.clock import utc_now
from signaling.common.switchboard import Switchboard
from signaling.sessions import call_record, notices, supervision
from signaling.sessions.supervision import Via
from signaling.storage.database import SessionFactory
from signaling.storage.models import SupervisionSession


class Worker(Protocol):
    """What a response needs of the worker (``signaling.services.Services`` is one): handed in by
    transport, so this domain never imports the root."""

    @property
    def db(self) -> SessionFactory: ...

    @property
    def hub(self) -> Switchboard: ...

    @property
    def pager(self) -> Engine: ...

    @property
    def preflight_valid_for(self) -> timedelta: ...


@dataclass(frozen=True)
class Accepted:
    """An accept recorded in a transaction, to announce once that transaction has committed."""

    session: SupervisionSession
    new: bool  # False: it was already standing, a repeat changed nothing


async def accept(
    worker: Worker, principal: Principal, session_id: str, via: str = Via.WEB
) -> SupervisionSession:
    async with worker.db() as db, db.begin():
        accepted = await record_accept(worker, db, principal, session_id, utc_now(), via)
    await announce_accept(worker, accepted)
    return accepted.session


async def record_accept(
    worker: Worker,
    db: AsyncSession,
    principal: Principal,
    session_id: str,
    now: datetime,
    via: str = Via.WEB,
) -> Accepted:
    """The accept inside the caller's transaction (a webhook claims its event in the same one);
    after committing, the caller hands the result to ``announce_accept``."""
    s, new = await supervision.accept(db, principal, session_id, now, via)
    if new:
        await worker.pager.hold(db, s.id, now)
    return Accepted(s, new)


async def announce_accept(worker: Worker, accepted: Accepted) -> None:
    """Tell participants, the lobby and the pager about a committed accept (if it was new)."""
    if not accepted.new:
        return
    s = accepted.session
    await notices.session_changed(worker.hub, s)
    await notices.request_opened(worker.hub, s)  # the lobby shows who has accepted
    await worker.pager.tell(s.id, "accepted")


async def join(
    worker: Worker,
    principal: Principal,
    session_id: str,
    via: str = Via.WEB,
    *,
    device_id: str | None = None,
) -> SupervisionSession:
    """Take the session; where the facility requires it, only from a device with a passed
    pre-flight check (refusing rolls the take back; an accept that stood before still stands)."""
    async with worker.db() as db, db.begin():
        now = utc_now()
        s, took = await supervision.join(db, principal, session_id, now, via)
        if took:
            await preflight.require(
                db, principal.id, s.facility, device_id, now, worker.preflight_valid_for
            )
        paged = await worker.pager.stop(db, s.id, "joined", now) if took else []
    if took:
        await notices.request_closed(worker.hub, s, "taken")
        await notices.session_changed(worker.hub, s)
        await notices.covered(worker.hub, s, paged)
        await worker.pager.tell(s.id, "joined")
    return s


async def release(worker: Worker, principal: Principal, session_id: str) -> SupervisionSession:
    async with worker.db() as db, db.begin():
        now = utc_now()
        s, took = await supervision.release(db, principal, session_id, now)
        if took:
            await worker.pager.repage(
                db, s.id, now, "handed back before the call was up", released=True
            )
        elif await supervision.standing_accepts(db, s.id) == 0:
            await worker.pager.resume(db, s.id)
    worker.pager.poke()
    await notices.session_changed(worker.hub, s)
    await notices.request_opened(worker.hub, s)
    await worker.pager.tell(s.id, "released")
    return s


async def media_lost(
    worker: Worker, session_id: str, radiologist_id: int, live_before: datetime
) -> SupervisionSession | None:
    """Page again because the radiologist's media has not been seen live since before
    ``live_before`` (``radiologist_watch``); None if the session was not (or no longer) joined with
    that radiologist, or the evidence is fresh again."""
    async with worker.db() as db, db.begin():
        now = utc_now()
        s = await call_record.media_lost(db, session_id, radiologist_id, live_before, now)
        if s is None:
            return None
        assert s.radiologist_live_at is not None
        lost_s = (now - s.radiologist_live_at).total_seconds()
        await worker.pager.repage(db, s.id, now, f"radiologist's media gone {lost_s:.0f} s")
    worker.pager.poke()
    await notices.session_changed(worker.hub, s)
    await notices.request_opened(worker.hub, s)
    await worker.pager.tell(s.id, "repaged")
    return s
