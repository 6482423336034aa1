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
- ``stat`` (a contrast reaction and nobody verified live) fires **every tier at once**, each person on
  every channel, as one new round, then lets the policy escalate again from the next round. Its
  firing is itself a durable timer (kind ``stat``), so a STAT that fails half-way is fired by the
  loop, like a tier. The facility's supervisors are alerted of it in the same transaction.
- Supervisors' alerts (purpose ``alert``, ``AlertKind``: paging ran out, or a reaction's STAT) go
  through the same outbox, in-app and by SMS, one row per person and channel.
- ``lateness`` tallies, per worker, how late each due timer was claimed (seconds past its ``due_at``):
  the service publishes it as a metric (``paging.lateness``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paging.carrier import CarrierError
from paging.lateness import Lateness
from paging.policy import (
    Channel,
    EscalationPolicy,
    FinalAction,
    Target,
    exhausted_at_s,
    firings,
)
from paging.store import database_unavailable, pages, runs, timers

log = logging.getLogger(__name__)

# A claim outlives scheduling hiccups of a loaded 2-core machine (a lapsed lease sends a page
# twice); a worker that dies mid-send costs its pages at most this long.
LEASE = timedelta(seconds=3)
RENEW_EVERY_S = 0.5
POLL_S = 0.05
BATCH = 50
MAX_IN_FLIGHT = 20  # batches of pages being sent at once by one worker


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

    async def supervisors(self, db: AsyncSession, facility_id: int) -> tuple[Recipient, ...]:
        """Who is told when paging runs out (the final action)."""
        ...


class Purpose:
    PAGE = "page"  # asks a radiologist to supervise
    ALERT = "alert"  # tells supervisors that paging ran out, or that a reaction summoned help
    STAT = "stat"  # a contrast reaction: asks a radiologist to come now (its own wording)


# Pages that ask a radiologist to come: they fail over, and their people are told when it is covered.
PAGING_PURPOSES = (Purpose.PAGE, Purpose.STAT)


class TimerKind:
    TIER = "tier"  # a tier of the policy fires (ordinary pages)
    EXHAUSTED = "exhausted"  # the final action
    STAT = "stat"  # every tier at once, every channel (``Engine.stat``)
    STAT_TIER = "stat_tier"  # a tier of the rounds after a STAT: the tier's channels, STAT wording


# A STAT pages every person on each of these that is configured, whatever their tier's channels.
STAT_CHANNELS = (Channel.IN_APP, Channel.SMS, Channel.VOICE)
# A second STAT for the same session within this long pages nobody again (a reaction recorded, then
# its severity set, or two people pressing at once): the first one's rounds are already escalating.
STAT_AGAIN_AFTER = timedelta(seconds=30)

ALERT_CHANNELS = (Channel.IN_APP, Channel.SMS)


class AlertKind:
    """What a supervisors' alert (purpose ``alert``) tells; its outbox rows say it by their tier."""

    EXHAUSTED = "exhausted"  # paging ran out and nobody joined (the final action)
    REACTION = "reaction"  # a contrast reaction with nobody supervising live: a STAT went out


ALERT_TIER = -1  # the tier of an ``exhausted`` alert's rows
REACTION_ALERT_TIER = -2  # the tier of a ``reaction`` alert's rows
ALERT_TIERS = {AlertKind.EXHAUSTED: ALERT_TIER, AlertKind.REACTION: REACTION_ALERT_TIER}


def alert_kind(tier: int) -> str:
    """The ``AlertKind`` of an alert row by its tier (ValueError for a tier no alert has)."""
    for kind, alert_tier in ALERT_TIERS.items():
        if alert_tier == tier:
            return kind
    raise ValueError(
        f"tier {tier} is not an alert's: expected one of {sorted(ALERT_TIERS.values())}"
    )


# A failed or undelivered page moves its person to the next of these not yet tried in that tier.
FAILOVER_ORDER = (Channel.SMS, Channel.VOICE, Channel.IN_APP)


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
    purpose: str = Purpose.PAGE


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


def alert_key(session_id: str, kind: str, round_: int, user_id: int, channel: str) -> str:
    """One alert of ``kind`` to one person on one channel. ``round_`` tells a session's alerts of
    one kind apart (it ran out again after a re-page; a second STAT): a reaction alert's is its
    STAT's round, an exhaustion's the first round number not yet used when it fired."""
    return f"{session_id}/alert-{kind}/{round_}/{user_id}/{channel}"


def _page_row(
    *,
    key: str,
    session_id: str,
    user_id: int,
    name: str,
    channel: str,
    tier: int,
    round_: int,
    status: str,
    now: datetime,
    detail: str | None = None,
    address: str | None = None,
    purpose: str = Purpose.PAGE,
) -> dict[str, Any]:
    return {
        "key": key,
        "session_id": session_id,
        "user_id": user_id,
        "user_name": name,
        "channel": channel,
        "purpose": purpose,
        "tier": tier,
        "round": round_,
        "status": status,
        "detail": detail,
        "address": address,
        "created_at": now,
        "due_at": now,
        "attempts": 0,
    }


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
        # Set by ``run``: wake the loops at once instead of at the next poll.
        self._running = False
        self._clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._tiers_due = asyncio.Event()
        self._outbox_due = asyncio.Event()
        self._sending: set[asyncio.Task[None]] = set()
        self._database_down_since: float | None = None  # monotonic; set while unreachable
        # How late this worker took up each due timer it claimed (``paging.lateness``).
        self.lateness = Lateness()

    def poke(self) -> None:
        """Work may be due now (a session opened, an accept lapsed): look without waiting for the
        next poll. Other workers still find it within one poll."""
        self._tiers_due.set()

    # --- called by the service, inside its own transactions ---------------------------------

    async def start(
        self,
        db: AsyncSession,
        session_id: str,
        facility_id: int,
        policy: EscalationPolicy,
        now: datetime,
    ) -> list[Page]:
        """Begin paging ``session_id`` (caller commits): snapshot the policy, write every timer,
        and fire the tiers due at once in this same transaction, their pages already claimed by
        this worker. After committing, hand the returned pages to ``deliver``; should the process
        die first, their lease lapses and any worker sends them."""
        await db.execute(
            insert(runs).values(
                session_id=session_id,
                facility_id=facility_id,
                policy=policy.model_dump(mode="json"),
                started_at=now,
                state=RunState.ACTIVE,
            )
        )
        ids = await self._write_timers(db, session_id, policy, now, 0)
        fresh: list[Page] = []
        for firing, timer_id in zip(firings(policy), ids, strict=False):
            if firing.at_s > 0:
                break
            try:
                fired = await self._fire_tier(
                    db, session_id, facility_id, policy, firing.tier, firing.round, now
                )
            except Exception:
                # Opening the session must not fail with its first tier: the timer stays due
                # and the pager loop fires it (and retries) at its next poll.
                log.exception("session %s: the first tier failed; the pager retries", session_id)
                break
            await db.execute(
                update(timers)
                .where(timers.c.id == timer_id)
                .values(done_at=now, outcome="fired" if fired else "skipped_empty")
            )
            if not fired:
                await self._pull_next_forward(db, session_id, now)
            fresh += fired
        return fresh

    async def deliver(self, fresh: list[Page], now: datetime) -> None:
        """Send pages this worker claimed in a committed transaction (``start``): in the
        background when running, else before returning."""
        if not fresh:
            return
        if self._running:
            self._send_in_background(fresh, now)
        else:
            await self._deliver(fresh, now)

    @staticmethod
    async def _write_timers(
        db: AsyncSession,
        session_id: str,
        policy: EscalationPolicy,
        now: datetime,
        base: int,
        kind: str = TimerKind.TIER,
    ) -> list[int]:
        """Every firing's timer (of ``kind``) and the exhaustion timer, counted from ``now``; their
        ids, in ``firings`` order."""
        rows: list[dict[str, Any]] = [
            {
                "session_id": session_id,
                "kind": kind,
                "tier": f.tier,
                "round": base + f.round,
                "due_at": now + timedelta(seconds=f.at_s),
            }
            for f in firings(policy)
        ]
        rows.append(
            {
                "session_id": session_id,
                "kind": TimerKind.EXHAUSTED,
                "tier": None,
                "round": None,
                "due_at": now + timedelta(seconds=exhausted_at_s(policy)),
            }
        )
        ids = await db.execute(
            insert(timers).returning(timers.c.id, sort_by_parameter_order=True), rows
        )
        return list(ids.scalars())

    async def hold(self, db: AsyncSession, session_id: str, now: datetime) -> None:
        """Someone accepted: no further tier fires until the grace window ends (caller commits)."""
        await db.execute(
            update(runs)
            .where(runs.c.session_id == session_id, runs.c.state != RunState.STOPPED)
            .values(state=RunState.HELD, held_until=now + self.grace)
        )

    async def resume(self, db: AsyncSession, session_id: str) -> None:
        """Every accepting radiologist released: escalation goes on at once (caller commits)."""
        await db.execute(
            update(runs)
            .where(runs.c.session_id == session_id, runs.c.state == RunState.HELD)
            .values(state=RunState.ACTIVE, held_until=None)
        )

    async def repage(
        self,
        db: AsyncSession,
        session_id: str,
        now: datetime,
        reason: str,
        *,
        released: bool = False,
    ) -> bool:
        """Page again from the first tier (the radiologist who joined handed the session back, or
        their media is gone): new rounds of the session's own policy snapshot, from ``now``.
        Rounds continue the session's numbering, so every new page has a new idempotency key.
        A hand-back (``released``) pages again but is not counted as a re-page: ``repaged``
        counts only radiologists lost from a joined session. Returns False if the session was
        never paged (caller commits)."""
        run = (await db.execute(select(runs).where(runs.c.session_id == session_id))).first()
        if run is None:
            return False
        policy = EscalationPolicy.model_validate(run.policy)
        base = await _next_round(db, session_id)
        await _lock_pending_timers(db, session_id)
        await _supersede_pending_timers(db, session_id, now)
        await db.execute(
            update(runs)
            .where(runs.c.session_id == session_id)
            .values(
                state=RunState.ACTIVE,
                held_until=None,
                stopped_at=None,
                stop_reason=None,
                repaged=runs.c.repaged + (0 if released else 1),
            )
        )
        await self._write_timers(db, session_id, policy, now, base)
        log.info("session %s: paging again from round %d (%s)", session_id, base, reason)
        return True

    async def stat(
        self,
        db: AsyncSession,
        session_id: str,
        now: datetime,
        *,
        facility_id: int | None = None,
        policy: EscalationPolicy | None = None,
    ) -> list[Page]:
        """A contrast reaction and no radiologist verified live: page **every tier now**, as one new
        round, each person once (under the first tier that names them) on every configured channel
        (in-app, SMS, voice) whatever their tier's channels, with purpose ``STAT``; who is skipped
        is recorded with the reason, as a tier does. In the caller's transaction: the caller
        commits, then hands the returned pages to ``deliver`` (as after ``start``).

        The run becomes ``active`` again whatever it was (held, stopped, exhausted: the caller asks
        only for a session still open); pending timers are superseded, and the snapshot's rounds
        are written again from one round after now (the tiers' own channels, STAT wording) with
        the exhaustion after them, so escalation goes on if nobody acts. A session never paged (no
        run) is paged with ``policy`` at ``facility_id`` (then both are required: ValueError
        otherwise; ``signaling.pager.summons.stat`` passes the facility's).

        A call within ``STAT_AGAIN_AFTER`` of the session's last STAT pages nobody and returns [].
        Calls at once are serialised on the session's timers and run (row locks on PostgreSQL;
        SQLite has one writer). If resolving who to page fails, the STAT's own timer stays due and
        the pager loop fires it at its next poll: the caller's transaction goes on."""
        await _lock_pending_timers(db, session_id)
        run = await _locked_run(db, session_id)
        if run is None:
            if facility_id is None or policy is None:
                raise ValueError(
                    f"session {session_id} was never paged: a STAT needs its facility_id and policy"
                )
            dialect = sqlite if db.get_bind().dialect.name == "sqlite" else postgresql
            await db.execute(
                dialect.insert(runs)
                .values(
                    session_id=session_id,
                    facility_id=facility_id,
                    policy=policy.model_dump(mode="json"),
                    started_at=now,
                    state=RunState.ACTIVE,
                )
                .on_conflict_do_nothing(index_elements=[runs.c.session_id])
            )
            run = await _locked_run(db, session_id)
            assert run is not None
        last = await db.scalar(
            select(timers.c.due_at)
            .where(timers.c.session_id == session_id, timers.c.kind == TimerKind.STAT)
            .order_by(timers.c.due_at.desc())
            .limit(1)
        )
        if last is not None and now - last < STAT_AGAIN_AFTER:
            log.info(
                "session %s: STAT again %.1f s after the last one: nobody is paged twice",
                session_id,
                (now - last).total_seconds(),
            )
            return []
        snapshot = EscalationPolicy.model_validate(run.policy)
        base = await _next_round(db, session_id)
        await _supersede_pending_timers(db, session_id, now)
        await db.execute(
            update(runs)
            .where(runs.c.session_id == session_id)
            .values(state=RunState.ACTIVE, held_until=None, stopped_at=None, stop_reason=None)
        )
        timer_id = await db.scalar(
            insert(timers)
            .values(session_id=session_id, kind=TimerKind.STAT, tier=None, round=base, due_at=now)
            .returning(timers.c.id)
        )
        after = now + timedelta(seconds=snapshot.round_s)
        await self._write_timers(db, session_id, snapshot, after, base + 1, TimerKind.STAT_TIER)
        try:
            fresh = await self._fire_stat(db, session_id, run.facility_id, snapshot, base, now)
        except Exception:
            log.exception("session %s: the STAT failed; the pager retries", session_id)
            return []
        await db.execute(
            update(timers)
            .where(timers.c.id == timer_id)
            .values(done_at=now, outcome="fired" if fresh else "skipped_empty")
        )
        if not fresh:
            await self._pull_next_forward(db, session_id, now)
        return fresh

    async def stop(
        self, db: AsyncSession, session_id: str, reason: str, now: datetime
    ) -> list[int]:
        """Stop paging (joined, cancelled): cancel pending timers and pages. Returns the ids of
        people who were paged (sent) so the service can tell them the case is covered."""
        await _lock_pending_timers(db, session_id)
        await db.execute(
            update(timers)
            .where(timers.c.session_id == session_id, timers.c.done_at.is_(None))
            .values(done_at=now, outcome="cancelled")
        )
        await db.execute(
            update(runs)
            .where(runs.c.session_id == session_id, runs.c.state != RunState.STOPPED)
            .values(state=RunState.STOPPED, stopped_at=now, stop_reason=reason)
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
            .where(
                pages.c.session_id == session_id,
                pages.c.status == PageStatus.SENT,
                pages.c.purpose.in_(PAGING_PURPOSES),
            )
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
        """When the next timer or pending page is due, if any."""
        async with self.db() as db:
            timer = await _next_timer_due(db)
            page = await db.scalar(
                select(pages.c.due_at)
                .where(pages.c.status == PageStatus.PENDING)
                .order_by(pages.c.due_at)
                .limit(1)
            )
        due = [d for d in (timer, page) if d is not None]
        return min(due) if due else None

    async def run(self, clock: Callable[[], datetime], stopping: asyncio.Event) -> None:
        """Until ``stopping`` is set: tiers and sends in two loops, so pages already due never wait
        behind tier work, each woken at once by work of this worker and polling every ``POLL_S``
        for everyone else's; pages are sent concurrently, at most ``MAX_IN_FLIGHT`` batches at a
        time; one failed round never stops a loop."""

        async def fire(now: datetime) -> float:
            while await self._fire_one_timer(now):
                now = clock()
            # Sleep until the next timer is due, if that is sooner than the next poll: a tier
            # fires on its due time, not up to a poll later.
            async with self.db() as db:
                due = await _next_timer_due(db)
            return POLL_S if due is None else (due - clock()).total_seconds()

        async def wake_on_stop() -> None:
            await stopping.wait()
            self._tiers_due.set()
            self._outbox_due.set()

        self._running, self._clock = True, clock
        waker = asyncio.create_task(wake_on_stop())
        try:
            await asyncio.gather(
                self._loop("tiers", fire, self._tiers_due, clock, stopping),
                self._loop("outbox", self._dispatch_some, self._outbox_due, clock, stopping),
            )
        finally:
            waker.cancel()
            if self._sending:
                await asyncio.gather(*self._sending, return_exceptions=True)
            self._running = False

    async def _loop(
        self,
        name: str,
        work: Callable[[datetime], Awaitable[object]],
        wake: asyncio.Event,
        clock: Callable[[], datetime],
        stopping: asyncio.Event,
    ) -> None:
        """Do ``work``, then wait to be woken, for the next poll, or for as many seconds as
        ``work`` returned if that is sooner."""
        while not stopping.is_set():
            wake.clear()
            wait = POLL_S
            try:
                soonest = await work(clock())
                if isinstance(soonest, float):
                    wait = min(POLL_S, max(0.002, soonest))  # (no spinning on a locked one)
                self._database_back()
            except Exception as exc:
                if database_unavailable(exc):
                    self._database_gone(exc)
                else:
                    log.exception("pager %s: a round of %s failed; trying again", self.worker, name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), wait)

    def _database_gone(self, exc: BaseException) -> None:
        """One line when the database goes (not a traceback every poll); tiers and pages due
        meanwhile stay in their tables and go out once it is back."""
        if self._database_down_since is None:
            self._database_down_since = time.monotonic()
            log.warning(
                "pager %s: the database is unavailable (%s: %s); paging waits for it",
                self.worker,
                type(exc).__name__,
                str(exc).splitlines()[0][:200] if str(exc) else "",
            )

    def _database_back(self) -> None:
        if self._database_down_since is not None:
            down = time.monotonic() - self._database_down_since
            self._database_down_since = None
            log.warning(
                "pager %s: the database is back after %.1f s; paging goes on", self.worker, down
            )

    # --- tiers --------------------------------------------------------------------------------

    async def _fire_one_timer(self, now: datetime) -> bool:
        notices: list[tuple[str, str]] = []
        fresh: list[Page] = []
        async with self.db() as db, db.begin():
            candidate = await db.execute(
                select(
                    timers.c.id,
                    timers.c.session_id,
                    timers.c.kind,
                    timers.c.tier,
                    timers.c.round,
                    timers.c.due_at,
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
            self.lateness.observe((now - row.due_at).total_seconds())
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
            elif row.kind == TimerKind.EXHAUSTED:
                await db.execute(
                    update(runs)
                    .where(runs.c.session_id == row.session_id)
                    .values(state=RunState.STOPPED, stopped_at=now, stop_reason="exhausted")
                )
                policy = EscalationPolicy.model_validate(run.policy)
                if policy.final_action is FinalAction.NOTIFY_SUPERVISORS:
                    await self._alert_supervisors(
                        db,
                        row.session_id,
                        run.facility_id,
                        now,
                        AlertKind.EXHAUSTED,
                        await _next_round(db, row.session_id),
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
                # A STAT's own timer is still due only if its attempt in the caller's
                # transaction failed: fired here, as the tier loop retries any tier.
                if row.kind == TimerKind.STAT:
                    fresh = await self._fire_stat(
                        db, row.session_id, run.facility_id, policy, row.round, now
                    )
                else:
                    purpose = Purpose.STAT if row.kind == TimerKind.STAT_TIER else Purpose.PAGE
                    fresh = await self._fire_tier(
                        db,
                        row.session_id,
                        run.facility_id,
                        policy,
                        row.tier,
                        row.round,
                        now,
                        purpose,
                    )
                await self._set_outcome(db, row.id, "fired" if fresh else "skipped_empty")
                if not fresh:
                    await self._pull_next_forward(db, row.session_id, now)
                notices.append((row.session_id, "tier_fired"))
        # Claimed by this worker in the tier's own transaction: sent now, not after a poll.
        await self.deliver(fresh, now)
        for session_id, what in notices:
            await self.tell(session_id, what)
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
        purpose: str = Purpose.PAGE,
    ) -> list[Page]:
        """Write the tier's pages, already claimed by this worker (``sending``, with a lease), and
        the skipped rows; return the pages to send."""
        tier = policy.tiers[tier_index]
        recipients: dict[int, tuple[int, Recipient]] = {}
        skipped: dict[int, tuple[int, Skip]] = {}
        for target in tier.targets:
            resolution = await self.directory.resolve(db, facility_id, target, now)
            for person in resolution.recipients:
                recipients[person.user_id] = (tier_index, person)
            for skip in resolution.skipped:
                skipped.setdefault(skip.user_id, (tier_index, skip))
        return await self._write_pages(
            db,
            session_id,
            round_,
            recipients,
            skipped,
            tier.channels,
            purpose,
            now,
            f"tier {tier_index}",
        )

    async def _fire_stat(
        self,
        db: AsyncSession,
        session_id: str,
        facility_id: int,
        policy: EscalationPolicy,
        round_: int,
        now: datetime,
    ) -> list[Page]:
        """Every tier's people now, as ``_fire_tier`` writes one tier's: each person once, under
        the first tier that names them, on every channel of ``STAT_CHANNELS``; and the facility's
        supervisors alerted that a contrast reaction summoned help (a ``reaction`` alert, in the
        same outbox as the exhausted one, whether or not anybody could be paged)."""
        recipients: dict[int, tuple[int, Recipient]] = {}
        skipped: dict[int, tuple[int, Skip]] = {}
        resolved: dict[Target, Resolution] = {}  # a target named by several tiers is asked once
        for tier_index, tier in enumerate(policy.tiers):
            for target in tier.targets:
                resolution = resolved.get(target)
                if resolution is None:
                    resolution = await self.directory.resolve(db, facility_id, target, now)
                    resolved[target] = resolution
                for person in resolution.recipients:
                    recipients.setdefault(person.user_id, (tier_index, person))
                for skip in resolution.skipped:
                    skipped.setdefault(skip.user_id, (tier_index, skip))
        fresh = await self._write_pages(
            db, session_id, round_, recipients, skipped, STAT_CHANNELS, Purpose.STAT, now, "STAT"
        )
        await self._alert_supervisors(db, session_id, facility_id, now, AlertKind.REACTION, round_)
        return fresh

    async def _write_pages(
        self,
        db: AsyncSession,
        session_id: str,
        round_: int,
        recipients: Mapping[int, tuple[int, Recipient]],
        skipped: Mapping[int, tuple[int, Skip]],
        channels: Sequence[Channel],
        purpose: str,
        now: datetime,
        what: str,
    ) -> list[Page]:
        """One page per person (with the tier they are paged under) and channel, claimed by this
        worker, plus a skipped row for each channel they cannot get and each person skipped (not
        paged by another target); keys already written in this round are left alone."""
        existing = set(
            await db.scalars(
                select(pages.c.key).where(pages.c.session_id == session_id, pages.c.round == round_)
            )
        )
        rows: list[dict[str, Any]] = []

        def add(
            tier: int,
            user_id: int,
            name: str,
            channel: str,
            status: str,
            *,
            detail: str | None = None,
            address: str | None = None,
        ) -> None:
            key = page_key(session_id, tier, round_, user_id, channel)
            if key not in existing:
                existing.add(key)
                rows.append(
                    _page_row(
                        key=key,
                        session_id=session_id,
                        user_id=user_id,
                        name=name,
                        channel=channel,
                        tier=tier,
                        round_=round_,
                        status=status,
                        now=now,
                        detail=detail,
                        address=address,
                        purpose=purpose,
                    )
                )

        for tier, person in recipients.values():
            for channel in channels:
                if channel in (Channel.SMS, Channel.VOICE) and not person.mobile:
                    add(
                        tier,
                        person.user_id,
                        person.name,
                        channel.value,
                        PageStatus.SKIPPED,
                        detail="no mobile number",
                    )
                elif channel not in self.senders:
                    add(
                        tier,
                        person.user_id,
                        person.name,
                        channel.value,
                        PageStatus.SKIPPED,
                        detail=f"{channel.value} is not configured",
                    )
                else:
                    add(
                        tier,
                        person.user_id,
                        person.name,
                        channel.value,
                        PageStatus.SENDING,
                        address=person.mobile,
                    )
        for user_id, (tier, skip) in skipped.items():
            if user_id not in recipients:
                add(tier, skip.user_id, skip.name, "-", PageStatus.SKIPPED, detail=skip.reason)
        sending = [r for r in rows if r["status"] == PageStatus.SENDING]
        for r in sending:
            r["attempts"], r["lease_until"] = 1, self._lease_from(now) + LEASE
        fresh: list[Page] = []
        if sending:
            ids = await db.execute(insert(pages).returning(pages.c.id, pages.c.key), sending)
            by_key = {key: page_id for page_id, key in ids.all()}
            fresh = [
                Page(
                    id=by_key[r["key"]],
                    key=r["key"],
                    session_id=session_id,
                    user_id=r["user_id"],
                    user_name=r["user_name"],
                    channel=Channel(r["channel"]),
                    address=r["address"],
                    tier=r["tier"],
                    round=round_,
                    purpose=purpose,
                )
                for r in sending
            ]
        skipped_rows = [r for r in rows if r["status"] != PageStatus.SENDING]
        if skipped_rows:
            await db.execute(insert(pages), skipped_rows)
        log.info(
            "session %s: %s round %d fired: %d pages, %d skipped",
            session_id,
            what,
            round_,
            len(fresh),
            len(skipped_rows),
        )
        return fresh

    def _lease_from(self, now: datetime) -> datetime:
        """Leases count from the real moment of the claim when running (``now`` may be the start
        of a long round), from the given time under ``advance``."""
        return self._clock() if self._running else now

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

    async def _alert_supervisors(
        self,
        db: AsyncSession,
        session_id: str,
        facility_id: int,
        now: datetime,
        kind: str,
        round_: int,
    ) -> None:
        """Every supervisor of the facility, in-app and by SMS, through the outbox (durable, at
        least once, one row per person and channel): paging ran out (``AlertKind.EXHAUSTED``, the
        final action) or a contrast reaction summoned help (``AlertKind.REACTION``). Rows already
        written under the same keys (a firing retried) are left as they are."""
        rows = []
        for person in await self.directory.supervisors(db, facility_id):
            for channel in ALERT_CHANNELS:
                usable = channel in self.senders and (channel is Channel.IN_APP or person.mobile)
                rows.append(
                    _page_row(
                        key=alert_key(session_id, kind, round_, person.user_id, channel.value),
                        session_id=session_id,
                        user_id=person.user_id,
                        name=person.name,
                        channel=channel.value,
                        tier=ALERT_TIERS[kind],
                        round_=round_,
                        status=PageStatus.PENDING if usable else PageStatus.SKIPPED,
                        now=now,
                        detail=None if usable else f"no {channel.value} for this supervisor",
                        address=person.mobile if channel is Channel.SMS else None,
                        purpose=Purpose.ALERT,
                    )
                )
        if rows:
            dialect = sqlite if db.get_bind().dialect.name == "sqlite" else postgresql
            await db.execute(
                dialect.insert(pages).on_conflict_do_nothing(index_elements=[pages.c.key]), rows
            )
            log.info("session %s: %s alert to %d supervisor rows", session_id, kind, len(rows))
        else:
            log.warning(
                "session %s: %s alert, but the facility has no supervisor", session_id, kind
            )

    async def _failover(self, db: AsyncSession, failed: Any, now: datetime) -> bool:
        """A page failed for good: page that person on their next channel at once, unless every
        channel was already tried in that tier or paging has stopped. Idempotent on the key."""
        if failed.purpose not in PAGING_PURPOSES:
            return False
        state = await db.scalar(select(runs.c.state).where(runs.c.session_id == failed.session_id))
        if state is None or state == RunState.STOPPED:
            return False
        tried = set(
            await db.scalars(
                select(pages.c.channel).where(
                    pages.c.session_id == failed.session_id,
                    pages.c.tier == failed.tier,
                    pages.c.round == failed.round,
                    pages.c.user_id == failed.user_id,
                )
            )
        )
        for channel in FAILOVER_ORDER:
            if channel.value in tried or channel not in self.senders:
                continue
            if channel is not Channel.IN_APP and not failed.address:
                continue
            key = page_key(failed.session_id, failed.tier, failed.round, failed.user_id, channel)
            await db.execute(
                insert(pages).values(
                    _page_row(
                        key=key,
                        session_id=failed.session_id,
                        user_id=failed.user_id,
                        name=failed.user_name,
                        channel=channel.value,
                        tier=failed.tier,
                        round_=failed.round,
                        status=PageStatus.PENDING,
                        now=now,
                        detail=f"{failed.channel} failed",
                        address=None if channel is Channel.IN_APP else failed.address,
                        purpose=failed.purpose,
                    )
                )
            )
            log.info(
                "page %s via %s failed; paging user %s via %s now",
                failed.id,
                failed.channel,
                failed.user_id,
                channel.value,
            )
            return True
        return False

    async def page_failed(self, page_id: int, detail: str, now: datetime) -> str | None:
        """A carrier says a sent page was not delivered (failed, undelivered, no answer, a
        machine answered): record it once and move the person to their next channel at once.
        Repeated or late callbacks change nothing. Returns the session id if this call changed it."""
        async with self.db() as db, db.begin():
            moved = await db.execute(
                update(pages)
                .where(
                    pages.c.id == page_id,
                    pages.c.status.in_([PageStatus.SENT, PageStatus.SENDING]),
                )
                .values(status=PageStatus.FAILED, detail=detail[:200], lease_until=None)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                return None
            failed = (await db.execute(select(pages).where(pages.c.id == page_id))).one()
            await self._failover(db, failed, now)
        self._outbox_due.set()
        await self.tell(failed.session_id, "page_failed")
        return str(failed.session_id)

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
                        lease_until=self._lease_from(now) + LEASE,
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
                            purpose=row.purpose,
                        )
                    )
        return claimed

    async def _dispatch(self, now: datetime) -> int:
        """Claim due pages and send them; returns when they are sent and recorded."""
        claimed = await self._claim(now)
        if claimed:
            await self._deliver(claimed, now)
        return len(claimed)

    async def _dispatch_some(self, now: datetime) -> None:
        """Claim due pages and send them in the background, so a slow carrier call never holds up
        the next claim; looks again at once while there is more to claim."""
        while len(self._sending) < MAX_IN_FLIGHT:
            claimed = await self._claim(now)
            if not claimed:
                return
            self._send_in_background(claimed, now)
            if len(claimed) < BATCH:
                return
            now = self._clock()  # a lease counts from the moment of its claim

    def _send_in_background(self, claimed: list[Page], now: datetime) -> None:
        task = asyncio.create_task(self._deliver(claimed, now))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _deliver(self, claimed: list[Page], now: datetime) -> None:
        """Send a claimed batch; each page's outcome is recorded (and told) as soon as its own send
        returns, so one carrier request that hangs keeps nobody else's page at ``sending``."""
        renewing = asyncio.create_task(self._renew([p.id for p in claimed], self._lease_from(now)))
        try:
            # Every send runs to its end (its lease renewed meanwhile) even if recording another
            # failed; the first such failure is raised once all are done.
            results = await asyncio.gather(
                *(self._send_and_record(page, now) for page in claimed), return_exceptions=True
            )
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _send_and_record(self, page: Page, now: datetime) -> None:
        ref, error, retryable = await self._send(page)
        async with self.db() as db, db.begin():
            recorded = await db.execute(self._record(page, now, ref, error, retryable))
            final = error is not None and not (retryable and page.attempts < self.max_attempts)
            if final and recorded.rowcount == 1:  # type: ignore[attr-defined]
                row = (await db.execute(select(pages).where(pages.c.id == page.id))).one()
                await self._failover(db, row, now)
                self._outbox_due.set()
        await self.tell(page.session_id, "pages_sent")

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

    async def tell(self, session_id: str, what: str) -> None:
        """Tell the service what changed for a session (a note; readers fetch what they show)."""
        try:
            await self.notify(session_id, what)
        except Exception:
            log.exception("pager: telling the service about %s for %s failed", what, session_id)


async def _supersede_pending_timers(db: AsyncSession, session_id: str, now: datetime) -> None:
    """Paging starts over (a re-page, a STAT): the session's timers not yet fired never will."""
    await db.execute(
        update(timers)
        .where(timers.c.session_id == session_id, timers.c.done_at.is_(None))
        .values(done_at=now, outcome="superseded")
    )


async def _lock_pending_timers(db: AsyncSession, session_id: str) -> None:
    """Lock a session's pending timers, in id order, before its run: the order firing takes them
    (a timer, then its run, then the next timer), so a join or re-page racing a firing waits for it
    instead of deadlocking with it on PostgreSQL. (SQLite has no row locks; it ignores this.)"""
    await db.execute(
        select(timers.c.id)
        .where(timers.c.session_id == session_id, timers.c.done_at.is_(None))
        .order_by(timers.c.id)
        .with_for_update()
    )


async def _next_timer_due(db: AsyncSession) -> datetime | None:
    return await db.scalar(
        select(timers.c.due_at).where(timers.c.done_at.is_(None)).order_by(timers.c.due_at).limit(1)
    )


async def _locked_run(db: AsyncSession, session_id: str) -> Any:
    """The session's run, locked until the caller commits (after its pending timers: see
    ``_lock_pending_timers``); None if the session was never paged."""
    return (
        await db.execute(select(runs).where(runs.c.session_id == session_id).with_for_update())
    ).first()


async def _next_round(db: AsyncSession, session_id: str) -> int:
    """The first round number no timer of the session has used (rounds only ever grow, so every
    new page has a new idempotency key)."""
    last = await db.scalar(
        select(timers.c.round)
        .where(timers.c.session_id == session_id, timers.c.round.is_not(None))
        .order_by(timers.c.round.desc())
        .limit(1)
    )
    return (last or 0) + 1
