"""The supervisors' alerts as their inbox shows them: read from the pager's outbox (purpose
``alert``), with where, what kind, how each was delivered, the session's state now, and who
acknowledged it.

One alert is one event of one session: every row the pager wrote for it (each supervisor, each
channel) has the same session, kind (its tier) and round. Its id is the smallest of those rows'
ids. An acknowledgement is appended to the session's own log (a ``session_events`` row of kind
``alert_acknowledged``, sealed into its record like every other entry): who handled it and when,
never overwritten. The facilities a caller may read are decided by the caller (``facility_ids``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.engine import Purpose, alert_kind
from paging.store import pages
from signaling.accounts.principal import Principal
from signaling.common.errors import NotFound
from signaling.sessions.state import cancel_reason_of
from signaling.storage.models import SessionEvent, SupervisionSession, User

ACKNOWLEDGED = "alert_acknowledged"  # the session event that records an acknowledgement
MAX_ALERTS = 200


@dataclass(frozen=True)
class Delivery:
    """One supervisor on one channel: ``status`` as the outbox has it (``sent`` in-app: a page
    of theirs showed it; ``sent`` by SMS: the carrier took it), ``detail`` why not."""

    person: str
    channel: str
    status: str
    detail: str | None
    at: datetime | None


@dataclass(frozen=True)
class Acknowledgement:
    by: str
    at: datetime


@dataclass(frozen=True)
class Alert:
    id: int
    kind: str  # paging.engine.AlertKind
    round: int
    session_id: str
    facility: str
    facility_timezone: str
    room: str
    modality: str
    raised_at: datetime
    session_state: str  # now
    session_outcome: str | None
    cancel_reason: str | None
    radiologist: str | None  # who took the session, if anybody did since
    joined_at: datetime | None
    deliveries: tuple[Delivery, ...]
    acknowledged: Acknowledgement | None

    @property
    def delivered(self) -> bool:
        """Whether any supervisor was reached: a page of theirs showed it, or an SMS went out."""
        return any(d.status == "sent" for d in self.deliveries)


def _in(facility_ids: Collection[int]) -> Any:
    return SupervisionSession.facility_id.in_(list(facility_ids))


async def recent_alerts(
    db: AsyncSession,
    facility_ids: Collection[int],
    *,
    limit: int = 50,
    before: int | None = None,
) -> list[Alert]:
    """The alerts at ``facility_ids``, newest first, at most ``limit`` (``before``: only those
    whose id is smaller, for the page after)."""
    if not facility_ids:
        return []
    first_id = func.min(pages.c.id)
    groups = (
        select(pages.c.session_id, pages.c.tier, pages.c.round, first_id.label("id"))
        .join(SupervisionSession, SupervisionSession.id == pages.c.session_id)
        .where(pages.c.purpose == Purpose.ALERT, _in(facility_ids))
        .group_by(pages.c.session_id, pages.c.tier, pages.c.round)
        .order_by(first_id.desc())
        .limit(min(limit, MAX_ALERTS))
    )
    if before is not None:
        groups = groups.having(first_id < before)
    found = (await db.execute(groups)).all()
    return await _alerts(db, [(g.session_id, g.tier, g.round, g.id) for g in found])


async def _alerts(db: AsyncSession, groups: list[tuple[str, int, int, int]]) -> list[Alert]:
    if not groups:
        return []
    session_ids = sorted({g[0] for g in groups})
    rows = (
        await db.execute(
            select(pages)
            .where(pages.c.session_id.in_(session_ids), pages.c.purpose == Purpose.ALERT)
            .order_by(pages.c.id)
        )
    ).all()
    delivered: dict[tuple[str, int, int], list[Delivery]] = defaultdict(list)
    raised: dict[tuple[str, int, int], datetime] = {}
    for r in rows:
        key = (r.session_id, r.tier, r.round)
        raised.setdefault(key, r.created_at)
        delivered[key].append(
            Delivery(r.user_name, r.channel, r.status, r.detail, r.sent_at or r.created_at)
        )
    sessions = {
        s.id: s
        for s in (
            await db.scalars(
                select(SupervisionSession).where(SupervisionSession.id.in_(session_ids))
            )
        ).all()
    }
    acks = await _acknowledgements(db, session_ids)
    alerts = []
    for session_id, tier, round_, alert_id in groups:
        s = sessions[session_id]
        key = (session_id, tier, round_)
        alerts.append(
            Alert(
                id=alert_id,
                kind=alert_kind(tier),
                round=round_,
                session_id=session_id,
                facility=s.facility.name,
                facility_timezone=s.facility.timezone,
                room=s.room.name,
                modality=s.room.modality,
                raised_at=raised[key],
                session_state=s.state,
                session_outcome=s.outcome,
                cancel_reason=cancel_reason_of(s.cancel_reason),
                radiologist=s.radiologist.full_name if s.radiologist else None,
                joined_at=s.joined_at,
                deliveries=tuple(delivered[key]),
                acknowledged=acks.get((session_id, alert_id)),
            )
        )
    return alerts


async def _acknowledgements(
    db: AsyncSession, session_ids: list[str]
) -> dict[tuple[str, int], Acknowledgement]:
    """The first acknowledgement of each alert of these sessions, by (session, alert id)."""
    found = (
        await db.execute(
            select(SessionEvent, User.full_name)
            .join(User, User.id == SessionEvent.actor_id)
            .where(SessionEvent.session_id.in_(session_ids), SessionEvent.kind == ACKNOWLEDGED)
            .order_by(SessionEvent.id)
        )
    ).all()
    acks: dict[tuple[str, int], Acknowledgement] = {}
    for event, name in found:
        alert_id = (event.body or {}).get("alert")
        if isinstance(alert_id, int):
            acks.setdefault((event.session_id, alert_id), Acknowledgement(name, event.at))
    return acks


async def alert_of(db: AsyncSession, facility_ids: Collection[int], alert_id: int) -> Alert:
    """The alert one of whose rows has id ``alert_id``, if it is at ``facility_ids``; NotFound
    otherwise (the same answer for one elsewhere: no probing)."""
    row = (
        await db.execute(
            select(pages.c.session_id, pages.c.tier, pages.c.round)
            .join(SupervisionSession, SupervisionSession.id == pages.c.session_id)
            .where(pages.c.id == alert_id, pages.c.purpose == Purpose.ALERT, _in(facility_ids))
        )
    ).first()
    if row is None or not facility_ids:
        raise NotFound(f"no alert {alert_id} that you may see")
    first = await db.scalar(
        select(func.min(pages.c.id)).where(
            pages.c.session_id == row.session_id,
            pages.c.tier == row.tier,
            pages.c.round == row.round,
            pages.c.purpose == Purpose.ALERT,
        )
    )
    assert first is not None
    [alert] = await _alerts(db, [(row.session_id, row.tier, row.round, int(first))])
    return alert


async def acknowledge(
    db: AsyncSession,
    principal: Principal,
    facility_ids: Collection[int],
    alert_id: int,
    now: datetime,
) -> tuple[Alert, bool]:
    """``principal`` has seen to the alert (caller commits): appended to its session's log. An
    alert already acknowledged keeps its first acknowledgement (who, when). Returns the alert as
    it now stands and whether this call acknowledged it; NotFound for one not at
    ``facility_ids``."""
    alert = await alert_of(db, facility_ids, alert_id)
    if alert.acknowledged is not None:
        return alert, False
    db.add(
        SessionEvent(
            session_id=alert.session_id,
            kind=ACKNOWLEDGED,
            at=now,
            actor_id=principal.id,
            detail=f"{alert.kind} alert",
            body={"alert": alert.id, "kind": alert.kind, "round": alert.round},
        )
    )
    await db.flush()
    return await alert_of(db, facility_ids, alert.id), True
