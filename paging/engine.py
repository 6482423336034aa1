"""The paging engine: durable timers and an outbox, advanced in seconds, safe across workers.

Contract
- ``start`` writes the run, its policy snapshot and every timer **in the caller's transaction**, the
  same one that opens the session: paging cannot be lost between "session opened" and "pager told".
- ``advance(now)`` does all due work: fires due tiers (resolving targets and eligibility *at that
  moment*, recording who was skipped and why, writing one outbox row per person and channel), then
  sends due pages through the carriers. Time is a parameter; only ``run`` reads the clock.
- A tier firing is one transaction that claims its timer with a conditional UPDATE (PostgreSQL: after
  ``SELECT ... FOR UPDATE SKIP LOCKED``): if the worker dies, the transaction rolls back and any
  other worker fires the tier on its next poll.
- Pages are claimed with a short lease that the sending worker renews while the carrier call is under
  way; a dead worker's lease lapses within ``LEASE`` and another worker sends the page.
  **Delivery is at-least-once with idempotency keys** (docs/paging.md): each page has a unique key
  (session, tier, round, person, channel), so a tier can never create the same page twice, and a page
  is re-sent only if its worker died between the carrier accepting it and the database recording so.
- An empty tier is never waited out: the next timer of that session is pulled forward to now.
- ``hold`` (someone accepted) defers tiers until the grace window ends; ``stop`` (joined, cancelled)
  cancels every pending timer and page of the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paging.carrier import CarrierError
from paging.policy import Channel, EscalationPolicy, Target, exhausted_at_s, firings
from paging.store import pages, runs, timers

log = logging.getLogger(__name__)

LEASE = timedelta(milliseconds=750)
RENEW_EVERY_S = 0.25
POLL_S = 0.05
BATCH = 50


class RunState:
    ACTIVE = "active"
    HELD = "held"
    STOPPED = "stopped"


class PageStatus:
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Recipient:
    user_id: int
    name: str
    mobile: str | None  # E.164, for SMS and voice


@dataclass(frozen=True)
class Skip:
    user_id: int
    name: str
    reason: str


@dataclass(frozen=True)
class Resolution:
    recipients: tuple[Recipient, ...]
    skipped: tuple[Skip, ...] = ()


class Directory(Protocol):
    """Who a target means right now at a facility, with eligibility checked (the service provides it)."""

    async def resolve(
        self, db: AsyncSession, facility_id: int, target: Target, now: datetime
    ) -> Resolution: ...


@dataclass(frozen=True)
class Page:
    id: int
    key: str
    session_id: str
    user_id: int
    user_name: str
    channel: Channel
    address: str | None
    tier: int
    round: int
    attempts: int = 1


class Sender(Protocol):
    """One channel's delivery: in-app, or SMS / voice through a carrier."""

    async def send(self, page: Page) -> str:
        """Deliver ``page``; returns a reference (e.g. a Twilio SID). Raises CarrierError."""
        ...


Notify = Callable[[str, str], Awaitable[None]]  # (session_id, what happened)


async def _nothing(_session_id: str, _what: str) -> None:
    return None


def page_key(session_id: str, tier: int, round_: int, user_id: int, channel: str) -> str:
    return f"{session_id}/{round_}/{tier}/{user_id}/{channel}"


class Engine:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        directory: Directory,
        senders: Mapping[Channel, Sender],
        *,
        worker: str,
        grace: timedelta = timedelta(seconds=30),
        notify: Notify = _nothing,
        max_attempts: int = 3,
    ) -> None:
        self.db = db
        self.directory = directory
        self.senders = senders
        self.worker = worker
        self.grace = grace
        self.notify = notify
        self.max_attempts = max_attempts

    # --- called by the service, inside its own transactions ---------------------------------

    async def start(
        self,
        db: AsyncSession,
        session_id: str,
        facility_id: int,
        policy: EscalationPolicy,
        now: datetime,
    ) -> None:
        """Begin paging ``session_id``: snapshot the policy and write every timer (caller commits)."""
        await db.execute(
            insert(runs).values(
                session_id=session_id,
                facility_id=facility_id,
                policy=policy.model_dump(mode="json"),
                started_at=now,
                state=RunState.ACTIVE,
            )
        )
        rows: list[dict[str, Any]] = [
            {
                "session_id": session_id,
                "kind": "tier",
                "tier": f.tier,
                "round": f.round,
                "due_at": now + timedelta(seconds=f.at_s),
            }
            for f in firings(policy)
        ]
        rows.append(
            {
                "session_id": session_id,
                "kind": "exhausted",
                "tier": None,
                "round": None,
                "due_at": now + timedelta(seconds=exhausted_at_s(policy)),
            }
        )
        await db.execute(insert(timers), rows)

    async def hold(self, db: AsyncSession, session_id: str, now: datetime) -> None:
        """Someone accepted: no further tier fires until the grace window ends (caller commits)."""
        await db.execute(
            update(runs)
            .where(runs.c.session_id == session_id, runs.c.state != RunState.STOPPED)
            .values(state=RunState.HELD, held_until=now + self.grace)
        )

    async def resume(self, db: AsyncSession, session_id: str) -> None:
        """The accepting radiologist released: escalation goes on at once (caller commits)."""
        await db.execute(
            update(runs)
            .where(runs.c.session_id == session_id, runs.c.state == RunState.HELD)
            .values(state=RunState.ACTIVE, held_until=None)
        )

    async def stop(
        self, db: AsyncSession, session_id: str, reason: str, now: datetime
    ) -> list[int]:
        """Stop paging (joined, cancelled): cancel pending timers and pages. Returns the ids of
        people who were paged (sent) so the service can tell them the case is covered."""
        await db.execute(
            update(runs)
            .where(runs.c.session_id == session_id, runs.c.state != RunState.STOPPED)
            .values(state=RunState.STOPPED, stopped_at=now, stop_reason=reason)
        )
        await db.execute(
            update(timers)
            .where(timers.c.session_id == session_id, timers.c.done_at.is_(None))
            .values(done_at=now, outcome="cancelled")
        )
        await db.execute(
            update(pages)
            .where(
                pages.c.session_id == session_id,
                pages.c.status.in_([PageStatus.PENDING, PageStatus.SENDING]),
            )
            .values(status=PageStatus.CANCELLED, detail=reason)
        )
        paged = await db.scalars(
            select(pages.c.user_id)
            .where(pages.c.session_id == session_id, pages.c.status == PageStatus.SENT)
            .distinct()
        )
        return sorted(paged)

    # --- the engine's own work ----------------------------------------------------------------

    async def advance(self, now: datetime) -> int:
        """Fire every due tier, then send every due page. Returns how many things it did."""
        done = await self._dispatch(now)
        while await self._fire_one_timer(now):
            # Send what this tier created before firing the next one: a backlog of tiers must
            # not hold back pages that are already due.
            done += 1 + await self._dispatch(now)
        return done

    async def next_due(self) -> datetime | None:
        async with self.db() as db:
            timer = await db.scalar(
                select(timers.c.due_at)
                .where(timers.c.done_at.is_(None))
                .order_by(timers.c.due_at)
                .limit(1)
            )
            page = await db.scalar(
                select(pages.c.due_at)
                .where(pages.c.status == PageStatus.PENDING)
                .order_by(pages.c.due_at)
                .limit(1)
            )
        due = [d for d in (timer, page) if d is not None]
        return min(due) if due else None

    async def run(self, clock: Callable[[], datetime], stopping: asyncio.Event) -> None:
        """Poll until ``stopping`` is set: tiers and sends in two loops, so pages already due never
        wait behind tier work; one failed round never stops a loop."""

        async def fire(now: datetime) -> None:
            while await self._fire_one_timer(now):
                pass

        await asyncio.gather(
            self._loop("tiers", fire, clock, stopping),
            self._loop("outbox", self._dispatch, clock, stopping),
        )

    async def _loop(
        self,
        name: str,
        work: Callable[[datetime], Awaitable[object]],
        clock: Callable[[], datetime],
        stopping: asyncio.Event,
    ) -> None:
        while not stopping.is_set():
            try:
                await work(clock())
            except Exception:
                log.exception("pager %s: a round of %s failed; trying again", self.worker, name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), POLL_S)

    # --- tiers --------------------------------------------------------------------------------

    async def _fire_one_timer(self, now: datetime) -> bool:
        notices: list[tuple[str, str]] = []
        async with self.db() as db, db.begin():
            candidate = await db.execute(
                select(
                    timers.c.id, timers.c.session_id, timers.c.kind, timers.c.tier, timers.c.round
                )
                .where(timers.c.done_at.is_(None), timers.c.due_at <= now)
                .order_by(timers.c.due_at, timers.c.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            row = candidate.first()
            if row is None:
                return False
            claimed = await db.execute(
                update(timers)
                .where(timers.c.id == row.id, timers.c.done_at.is_(None))
                .values(done_at=now, outcome="firing")
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return True  # another worker took it; look again
            run = (
                await db.execute(select(runs).where(runs.c.session_id == row.session_id))
            ).first()
            if run is None or run.state == RunState.STOPPED:
                await self._set_outcome(db, row.id, "cancelled")
            elif run.state == RunState.HELD and run.held_until is not None and now < run.held_until:
                await db.execute(
                    update(timers)
                    .where(timers.c.id == row.id)
                    .values(done_at=None, outcome="deferred", due_at=run.held_until)
                )
            elif row.kind == "exhausted":
                await db.execute(
                    update(runs)
                    .where(runs.c.session_id == row.session_id)
                    .values(state=RunState.STOPPED, stopped_at=now, stop_reason="exhausted")
                )
                await self._set_outcome(db, row.id, "exhausted")
                notices.append((row.session_id, "exhausted"))
            else:
                if run.state == RunState.HELD:
                    await db.execute(
                        update(runs)
                        .where(runs.c.session_id == row.session_id)
                        .values(state=RunState.ACTIVE, held_until=None)
                    )
                    notices.append((row.session_id, "resumed"))
                policy = EscalationPolicy.model_validate(run.policy)
                paged = await self._fire_tier(
                    db, row.session_id, run.facility_id, policy, row.tier, row.round, now
                )
                await self._set_outcome(db, row.id, "fired" if paged else "skipped_empty")
                if not paged:
                    await self._pull_next_forward(db, row.session_id, now)
                notices.append((row.session_id, "tier_fired"))
        for session_id, what in notices:
            await self._tell(session_id, what)
        return True

    async def _fire_tier(
        self,
        db: AsyncSession,
        session_id: str,
        facility_id: int,
        policy: EscalationPolicy,
        tier_index: int,
        round_: int,
        now: datetime,
    ) -> int:
        tier = policy.tiers[tier_index]
        recipients: dict[int, Recipient] = {}
        skipped: dict[int, Skip] = {}
        for target in tier.targets:
            resolution = await self.directory.resolve(db, facility_id, target, now)
            for person in resolution.recipients:
                recipients[person.user_id] = person
            for skip in resolution.skipped:
                skipped.setdefault(skip.user_id, skip)
        existing = set(
            await db.scalars(
                select(pages.c.key).where(
                    pages.c.session_id == session_id,
                    pages.c.tier == tier_index,
                    pages.c.round == round_,
                )
            )
        )
        rows: list[dict[str, Any]] = []

        def add(
            user_id: int,
            name: str,
            channel: str,
            status: str,
            *,
            detail: str | None = None,
            address: str | None = None,
        ) -> None:
            key = page_key(session_id, tier_index, round_, user_id, channel)
            if key not in existing:
                existing.add(key)
                rows.append(
                    {
                        "key": key,
                        "session_id": session_id,
                        "user_id": user_id,
                        "user_name": name,
                        "channel": channel,
                        "tier": tier_index,
                        "round": round_,
                        "status": status,
                        "detail": detail,
                        "address": address,
                        "created_at": now,
                        "due_at": now,
                        "attempts": 0,
                    }
                )

        paged = 0
        for person in recipients.values():
            for channel in tier.channels:
                if channel in (Channel.SMS, Channel.VOICE) and not person.mobile:
                    add(
                        person.user_id,
                        person.name,
                        channel.value,
                        PageStatus.SKIPPED,
                        detail="no mobile number",
                    )
                elif channel not in self.senders:
                    add(
                        person.user_id,
                        person.name,
                        channel.value,
                        PageStatus.SKIPPED,
                        detail=f"{channel.value} is not configured",
                    )
                else:
                    add(
                        person.user_id,
                        person.name,
                        channel.value,
                        PageStatus.PENDING,
                        address=person.mobile,
                    )
                    paged += 1
        for skip in skipped.values():
            if skip.user_id not in recipients:
                add(skip.user_id, skip.name, "-", PageStatus.SKIPPED, detail=skip.reason)
        if rows:
            await db.execute(insert(pages), rows)
        log.info(
            "session %s: tier %d round %d fired: %d pages, %d skipped",
            session_id,
            tier_index,
            round_,
            paged,
            len(rows) - paged,
        )
        return paged

    async def _pull_next_forward(self, db: AsyncSession, session_id: str, now: datetime) -> None:
        next_id = await db.scalar(
            select(timers.c.id)
            .where(
                timers.c.session_id == session_id, timers.c.done_at.is_(None), timers.c.due_at > now
            )
            .order_by(timers.c.due_at, timers.c.id)
            .limit(1)
        )
        if next_id is not None:
            await db.execute(update(timers).where(timers.c.id == next_id).values(due_at=now))

    @staticmethod
    async def _set_outcome(db: AsyncSession, timer_id: int, outcome: str) -> None:
        await db.execute(update(timers).where(timers.c.id == timer_id).values(outcome=outcome))

    # --- the outbox ---------------------------------------------------------------------------

    async def _claim(self, now: datetime) -> list[Page]:
        due = or_(
            and_(pages.c.status == PageStatus.PENDING, pages.c.due_at <= now),
            and_(pages.c.status == PageStatus.SENDING, pages.c.lease_until < now),
        )
        claimed: list[Page] = []
        async with self.db() as db, db.begin():
            rows = (
                await db.execute(
                    select(pages)
                    .where(due)
                    .order_by(pages.c.due_at, pages.c.id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                won = await db.execute(
                    update(pages)
                    .where(pages.c.id == row.id, due)
                    .values(
                        status=PageStatus.SENDING,
                        lease_until=now + LEASE,
                        attempts=row.attempts + 1,
                    )
                )
                if won.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(
                        Page(
                            id=row.id,
                            key=row.key,
                            session_id=row.session_id,
                            user_id=row.user_id,
                            user_name=row.user_name,
                            channel=Channel(row.channel),
                            address=row.address,
                            tier=row.tier,
                            round=row.round,
                            attempts=row.attempts + 1,
                        )
                    )
        return claimed

    async def _dispatch(self, now: datetime) -> int:
        claimed = await self._claim(now)
        if not claimed:
            return 0
        renewing = asyncio.create_task(self._renew([p.id for p in claimed], now))
        try:
            results = await asyncio.gather(*(self._send(page) for page in claimed))
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        async with self.db() as db, db.begin():
            for page, (ref, error, retryable) in zip(claimed, results, strict=True):
                await db.execute(self._record(page, now, ref, error, retryable))
        for session_id in sorted({p.session_id for p in claimed}):
            await self._tell(session_id, "pages_sent")
        return len(claimed)

    def _record(
        self, page: Page, now: datetime, ref: str | None, error: str | None, retryable: bool
    ) -> Any:
        sending = and_(pages.c.id == page.id, pages.c.status == PageStatus.SENDING)
        if error is None:
            return (
                update(pages)
                .where(sending)
                .values(status=PageStatus.SENT, sent_at=now, carrier_ref=ref, lease_until=None)
            )
        if retryable and page.attempts < self.max_attempts:
            return (
                update(pages)
                .where(sending)
                .values(
                    status=PageStatus.PENDING,
                    due_at=now + timedelta(seconds=page.attempts),
                    lease_until=None,
                    error=error,
                )
            )
        return (
            update(pages)
            .where(sending)
            .values(status=PageStatus.FAILED, error=error, detail=error[:200], lease_until=None)
        )

    async def _send(self, page: Page) -> tuple[str | None, str | None, bool]:
        try:
            return await self.senders[page.channel].send(page), None, False
        except CarrierError as exc:
            log.warning("page %s via %s failed: %s", page.id, page.channel.value, exc)
            return None, str(exc), exc.retryable
        except Exception as exc:
            log.exception("page %s via %s failed unexpectedly", page.id, page.channel.value)
            return None, f"{type(exc).__name__}: {exc}", True

    async def _renew(self, ids: Sequence[int], now: datetime) -> None:
        """Keep the claim alive while the carrier call runs, so only a dead worker loses it."""
        started = time.monotonic()
        while True:
            await asyncio.sleep(RENEW_EVERY_S)
            until = now + timedelta(seconds=time.monotonic() - started) + LEASE
            async with self.db() as db, db.begin():
                await db.execute(
                    update(pages)
                    .where(pages.c.id.in_(ids), pages.c.status == PageStatus.SENDING)
                    .values(lease_until=until)
                )

    async def _tell(self, session_id: str, what: str) -> None:
        try:
            await self.notify(session_id, what)
        except Exception:
            log.exception("pager: telling the service about %s for %s failed", what, session_id)
