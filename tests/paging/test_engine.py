"""The paging engine against a real database: tiers in seconds, empty tiers skipped at once, holds,
stops, exhaustion, retries, two workers racing and a worker that dies."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paging.carrier import CarrierError
from paging.engine import LEASE, Engine, Page, PageStatus, Recipient, Resolution, Skip
from paging.policy import Channel, EscalationPolicy, Target, TargetKind, Tier
from paging.store import pages, runs, timers
from signaling.storage.database import make_engine, make_session_factory

T0 = datetime(2026, 11, 22, 3, 0, 0, tzinfo=UTC)
DIAZ = Recipient(4, "Dr Ray Diaz", "+15550000004")
PATEL = Recipient(5, "Dr Anya Patel", "+15550000005")
NO_PHONE = Recipient(6, "Dr No Phone", None)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def policy(
    *tiers: tuple[float, str],
    channels: tuple[Channel, ...] = (Channel.IN_APP, Channel.SMS),
    repeat: int = 0,
) -> EscalationPolicy:
    """Tiers as (delay, schedule name); the test directory maps schedule names to people."""
    return EscalationPolicy(
        tiers=tuple(
            Tier(
                delay_s=delay,
                targets=(Target(kind=TargetKind.SCHEDULE, schedule=name),),
                channels=channels,
            )
            for delay, name in tiers
        ),
        repeat=repeat,
    )


@dataclass
class Roster:
    """Stands in for the service's directory: who each schedule means, checked at firing time."""

    on_call: dict[str, list[Recipient]] = field(default_factory=dict)
    skipped: dict[str, list[Skip]] = field(default_factory=dict)
    fail: bool = False
    supervising: list[Recipient] = field(default_factory=list)

    async def resolve(
        self, db: AsyncSession, facility_id: int, target: Target, now: datetime
    ) -> Resolution:
        if self.fail:
            raise RuntimeError("the directory is unreachable")
        name = target.schedule or ""
        return Resolution(tuple(self.on_call.get(name, [])), tuple(self.skipped.get(name, [])))

    async def supervisors(self, db: AsyncSession, facility_id: int) -> tuple[Recipient, ...]:
        return tuple(self.supervising)


@dataclass
class Recorder:
    """A channel that records what it was asked to send; may fail on request."""

    sent: list[Page] = field(default_factory=list)
    fail_with: CarrierError | None = None
    delay_s: float = 0.0

    async def send(self, page: Page) -> str:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(page)
        return f"REF{len(self.sent)}"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()


def pager(
    db: async_sessionmaker[AsyncSession],
    roster: Roster,
    channels: dict[Channel, Recorder],
    worker: str = "w1",
    **kw: object,
) -> Engine:
    return Engine(db, roster, channels, worker=worker, **kw)  # type: ignore[arg-type]


async def start(engine: Engine, db: async_sessionmaker[AsyncSession], pol: EscalationPolicy) -> str:
    """Open paging at T0 as the service does: tiers due at once fire in the same transaction, and
    their pages are sent after the commit."""
    session_id = str(uuid.uuid4())
    async with db() as s, s.begin():
        fresh = await engine.start(s, session_id, 1, pol, T0)
    await engine.deliver(fresh, T0)
    return session_id


async def page_rows(
    db: async_sessionmaker[AsyncSession], session_id: str
) -> list[tuple[str, int, str, str, str | None]]:
    async with db() as s:
        rows = await s.execute(
            select(pages.c.user_name, pages.c.tier, pages.c.channel, pages.c.status, pages.c.detail)
            .where(pages.c.session_id == session_id)
            .order_by(pages.c.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_tiers_fire_at_their_second_and_page_every_channel(
    db: async_sessionmaker[AsyncSession],
) -> None:
    """T+0 pages the primary on in-app and SMS; the backup waits until T+10 s, not a moment before."""
    roster = Roster({"primary": [DIAZ], "backup": [PATEL]})
    in_app, sms = Recorder(), Recorder()
    engine = pager(db, roster, {Channel.IN_APP: in_app, Channel.SMS: sms})
    session_id = await start(engine, db, policy((0, "primary"), (10, "backup")))
    await engine.advance(at(0))
    assert [(p.user_name, p.channel) for p in in_app.sent + sms.sent] == [
        ("Dr Ray Diaz", Channel.IN_APP),
        ("Dr Ray Diaz", Channel.SMS),
    ]
    assert sms.sent[0].address == "+15550000004"
    await engine.advance(at(9.999))
    assert len(in_app.sent) == 1
    await engine.advance(at(10))
    assert [p.user_name for p in in_app.sent] == ["Dr Ray Diaz", "Dr Anya Patel"]
    assert [r[3] for r in await page_rows(db, session_id)] == ["sent"] * 4


async def test_an_empty_tier_is_skipped_at_once(db: async_sessionmaker[AsyncSession]) -> None:
    """Nobody on call for the primary: the backup is paged at T+0, not at T+10 s."""
    roster = Roster(
        {"backup": [PATEL]}, skipped={"primary": [Skip(4, "Dr Ray Diaz", "not on shift")]}
    )
    in_app = Recorder()
    engine = pager(db, roster, {Channel.IN_APP: in_app, Channel.SMS: Recorder()})
    session_id = await start(engine, db, policy((0, "primary"), (10, "backup")))
    await engine.advance(at(0))
    assert [p.user_name for p in in_app.sent] == ["Dr Anya Patel"]
    rows = await page_rows(db, session_id)
    assert ("Dr Ray Diaz", 0, "-", "skipped", "not on shift") in rows


async def test_people_without_a_phone_are_skipped_on_phone_channels(
    db: async_sessionmaker[AsyncSession],
) -> None:
    """No mobile number: paged in-app, and the record says why SMS was skipped."""
    in_app, sms = Recorder(), Recorder()
    engine = pager(db, Roster({"primary": [NO_PHONE]}), {Channel.IN_APP: in_app, Channel.SMS: sms})
    session_id = await start(engine, db, policy((0, "primary")))
    await engine.advance(at(0))
    assert len(in_app.sent) == 1
    assert sms.sent == []
    assert ("Dr No Phone", 0, "sms", "skipped", "no mobile number") in await page_rows(
        db, session_id
    )


async def test_a_person_is_paged_once_per_tier_even_if_targeted_twice(
    db: async_sessionmaker[AsyncSession],
) -> None:
    """A tier naming the same person through two targets pages them once per channel."""
    both = EscalationPolicy(
        tiers=(
            Tier(
                delay_s=0,
                targets=(
                    Target(kind=TargetKind.SCHEDULE, schedule="a"),
                    Target(kind=TargetKind.SCHEDULE, schedule="b"),
                ),
                channels=(Channel.IN_APP,),
            ),
        ),
        repeat=0,
    )
    in_app = Recorder()
    engine = pager(db, Roster({"a": [DIAZ], "b": [DIAZ]}), {Channel.IN_APP: in_app})
    await start(engine, db, both)
    await engine.advance(at(0))
    await engine.advance(at(0.5))
    assert [p.user_name for p in in_app.sent] == ["Dr Ray Diaz"]


async def test_accepting_holds_the_next_tier_for_the_grace_window(
    db: async_sessionmaker[AsyncSession],
) -> None:
    """An accept at T+5 s holds the T+10 s tier until T+35 s; without a join escalation resumes."""
    in_app = Recorder()
    notes: list[str] = []

    async def notify(_session: str, what: str) -> None:
        notes.append(what)

    engine = pager(
        db,
        Roster({"primary": [DIAZ], "backup": [PATEL]}),
        {Channel.IN_APP: in_app},
        notify=notify,
        grace=timedelta(seconds=30),
    )
    session_id = await start(
        engine, db, policy((0, "primary"), (10, "backup"), channels=(Channel.IN_APP,))
    )
    await engine.advance(at(0))
    async with db() as s, s.begin():
        await engine.hold(s, session_id, at(5))
    await engine.advance(at(10))
    await engine.advance(at(34.9))
    assert [p.user_name for p in in_app.sent] == ["Dr Ray Diaz"]
    await engine.advance(at(35))
    assert [p.user_name for p in in_app.sent] == ["Dr Ray Diaz", "Dr Anya Patel"]
    assert "resumed" in notes


async def test_stop_cancels_what_is_pending_and_names_who_was_paged(
    db: async_sessionmaker[AsyncSession],
) -> None:
    """A join stops paging: later tiers never fire, and the paged people are returned to be told."""
    in_app = Recorder()
    engine = pager(db, Roster({"primary": [DIAZ], "backup": [PATEL]}), {Channel.IN_APP: in_app})
    session_id = await start(
        engine, db, policy((0, "primary"), (10, "backup"), channels=(Channel.IN_APP,))
    )
    await engine.advance(at(0))
    async with db() as s, s.begin():
        paged = await engine.stop(s, session_id, "joined", at(3))
    assert paged == [DIAZ.user_id]
    await engine.advance(at(100))
    assert [p.user_name for p in in_app.sent] == ["Dr Ray Diaz"]
    async with db() as s:
        outcomes = list(
            await s.scalars(
                select(timers.c.outcome)
                .where(timers.c.session_id == session_id)
                .order_by(timers.c.id)
            )
        )
    assert outcomes == ["fired", "cancelled", "cancelled"]


async def test_exhaustion_stops_paging_and_says_so(db: async_sessionmaker[AsyncSession]) -> None:
    """When tiers and repeats run out, the run stops as exhausted and the service is told."""
    notes: list[tuple[str, str]] = []

    async def notify(session: str, what: str) -> None:
        notes.append((session, what))

    in_app = Recorder()
    engine = pager(db, Roster({"primary": [DIAZ]}), {Channel.IN_APP: in_app}, notify=notify)
    pol = policy((0, "primary"), channels=(Channel.IN_APP,), repeat=1)
    session_id = await start(engine, db, pol)
    for second in (0, 20, 40, 60):
        await engine.advance(at(second))
    assert len(in_app.sent) == 2  # once per round
    assert (session_id, "exhausted") in notes
    async with db() as s:
        run = (await s.execute(select(runs).where(runs.c.session_id == session_id))).one()
    assert (run.state, run.stop_reason) == ("stopped", "exhausted")


async def test_retryable_failures_are_retried_and_final_ones_recorded(
    db: async_sessionmaker[AsyncSession],
) -> None:
    """A carrier outage is retried a second later; a refused number is recorded as failed."""
    flaky = Recorder(fail_with=CarrierError("carrier unreachable", retryable=True))
    refused = Recorder(fail_with=CarrierError("invalid number", retryable=False))
    engine = pager(db, Roster({"primary": [DIAZ]}), {Channel.IN_APP: flaky, Channel.SMS: refused})
    session_id = await start(engine, db, policy((0, "primary")))
    await engine.advance(at(0))
    flaky.fail_with = None
    await engine.advance(at(0.5))
    assert flaky.sent == []
    await engine.advance(at(1))
    assert [p.attempts for p in flaky.sent] == [2]
    rows = {r[2]: r for r in await page_rows(db, session_id)}
    assert rows["in_app"][3] == "sent"
    assert rows["sms"][3:] == ("failed", "invalid number")


async def test_a_final_failure_moves_the_person_to_the_next_channel_at_once(
    db: async_sessionmaker[AsyncSession],
) -> None:
    """The SMS is refused for good: the same person is called in the same round of work; when the
    call fails too, every channel has been tried and nothing more is sent for that tier."""
    refused = Recorder(fail_with=CarrierError("invalid number", retryable=False))
    voice = Recorder(fail_with=CarrierError("call refused", retryable=False))
    engine = pager(db, Roster({"primary": [DIAZ]}), {Channel.SMS: refused, Channel.VOICE: voice})
    session_id = await start(engine, db, policy((0, "primary"), channels=(Channel.SMS,)))
    await engine.advance(at(0))
    await engine.advance(at(0.05))
    rows = [(r[2], r[3], r[4]) for r in await page_rows(db, session_id)]
    assert rows == [
        ("sms", "failed", "invalid number"),
        ("voice", "failed", "call refused"),
    ]
    await engine.advance(at(5))
    assert len(await page_rows(db, session_id)) == 2


async def test_a_carrier_callback_failure_moves_on_once(
    db: async_sessionmaker[AsyncSession],
) -> None:
    """page_failed (a status callback: undelivered) fails the page once and pages the next
    channel; the same callback again changes nothing; after a stop, nothing moves on."""
    sms, voice = Recorder(), Recorder()
    engine = pager(db, Roster({"primary": [DIAZ]}), {Channel.SMS: sms, Channel.VOICE: voice})
    session_id = await start(engine, db, policy((0, "primary"), channels=(Channel.SMS,)))
    await engine.advance(at(0))
    page_id = sms.sent[0].id
    assert await engine.page_failed(page_id, "carrier: undelivered", at(1)) == session_id
    assert await engine.page_failed(page_id, "carrier: undelivered", at(1.1)) is None
    await engine.advance(at(1.2))
    assert [(p.user_name, p.address) for p in voice.sent] == [("Dr Ray Diaz", "+15550000004")]
    # after a join, a late failure of the call is recorded but pages nobody further
    async with db() as s, s.begin():
        await engine.stop(s, session_id, "joined", at(2))
    assert await engine.page_failed(voice.sent[0].id, "carrier: no-answer", at(3)) == session_id
    await engine.advance(at(4))
    statuses = [(r[2], r[3]) for r in await page_rows(db, session_id)]
    assert statuses == [("sms", "failed"), ("voice", "failed")]


async def test_running_out_alerts_supervisors_through_the_outbox(
    db: async_sessionmaker[AsyncSession],
) -> None:
    """The final action pages every supervisor in-app and by SMS (one alert per channel, however
    many workers advance); a supervisor without a mobile is recorded as skipped on SMS."""
    in_app, sms = Recorder(), Recorder()
    roster = Roster({"primary": [DIAZ]}, supervising=[PATEL, NO_PHONE])
    first = pager(db, roster, {Channel.IN_APP: in_app, Channel.SMS: sms}, worker="w1")
    second = pager(db, roster, {Channel.IN_APP: in_app, Channel.SMS: sms}, worker="w2")
    session_id = await start(first, db, policy((0, "primary"), channels=(Channel.IN_APP,)))
    await first.advance(at(0))
    await asyncio.gather(first.advance(at(25)), second.advance(at(25)))
    alerts = [(p.user_name, p.channel, p.purpose) for p in in_app.sent + sms.sent if p.tier < 0]
    assert sorted(alerts) == [
        ("Dr Anya Patel", Channel.IN_APP, "alert"),
        ("Dr Anya Patel", Channel.SMS, "alert"),
        ("Dr No Phone", Channel.IN_APP, "alert"),
    ]
    rows = [r for r in await page_rows(db, session_id) if r[1] < 0]
    assert ("Dr No Phone", -1, "sms", "skipped", "no sms for this supervisor") in rows


async def test_repage_starts_again_from_the_first_tier_with_new_keys(
    db: async_sessionmaker[AsyncSession],
) -> None:
    """After a stop (joined), repage runs the policy snapshot again from now: the first tier
    pages the same person again (a new round, so a new idempotency key), the later ones follow."""
    in_app = Recorder()
    engine = pager(db, Roster({"primary": [DIAZ], "backup": [PATEL]}), {Channel.IN_APP: in_app})
    session_id = await start(
        engine, db, policy((0, "primary"), (10, "backup"), channels=(Channel.IN_APP,))
    )
    await engine.advance(at(0))
    async with db() as s, s.begin():
        await engine.stop(s, session_id, "joined", at(3))
    async with db() as s, s.begin():
        assert await engine.repage(s, session_id, at(5), "handed back")
    await engine.advance(at(5))
    await engine.advance(at(14.9))
    assert [(p.user_name, p.round) for p in in_app.sent] == [("Dr Ray Diaz", 0), ("Dr Ray Diaz", 1)]
    await engine.advance(at(15))
    assert [p.user_name for p in in_app.sent][-1] == "Dr Anya Patel"
    async with db() as s:
        run = (await s.execute(select(runs).where(runs.c.session_id == session_id))).one()
    assert (run.state, run.repaged) == ("active", 1)


async def test_two_workers_racing_send_each_page_exactly_once(
    db: async_sessionmaker[AsyncSession],
) -> None:
    """Two workers advancing at the same moments never fire a tier or send a page twice."""
    sent = Recorder(delay_s=0.01)
    roster = Roster({"primary": [DIAZ, PATEL], "backup": [NO_PHONE]})
    first = pager(db, roster, {Channel.IN_APP: sent}, worker="w1")
    second = pager(db, roster, {Channel.IN_APP: sent}, worker="w2")
    sessions = [
        await start(first, db, policy((0, "primary"), (10, "backup"), channels=(Channel.IN_APP,)))
        for _ in range(5)
    ]
    for second_mark in (0, 0.1, 10, 10.1):
        await asyncio.gather(first.advance(at(second_mark)), second.advance(at(second_mark)))
    keys = [p.key for p in sent.sent]
    assert len(keys) == len(set(keys)) == 5 * 3
    for session_id in sessions:
        assert all(r[3] == "sent" for r in await page_rows(db, session_id))


async def test_a_page_claimed_by_a_dead_worker_is_sent_after_its_lease(
    db: async_sessionmaker[AsyncSession],
) -> None:
    """A worker opens paging (tier 0 fires in that transaction, its page claimed by the worker)
    and dies before sending: another worker sends the page once the short lease lapses, not
    before, and once."""
    sent = Recorder()
    dead = pager(db, Roster({"primary": [DIAZ]}), {Channel.IN_APP: Recorder()}, worker="dead")
    alive = pager(db, Roster({"primary": [DIAZ]}), {Channel.IN_APP: sent}, worker="alive")
    session_id = str(uuid.uuid4())
    async with db() as s, s.begin():
        claimed = await dead.start(
            s, session_id, 1, policy((0, "primary"), channels=(Channel.IN_APP,)), T0
        )
    assert [p.user_name for p in claimed] == ["Dr Ray Diaz"]  # ... and the worker is killed
    assert [r[3] for r in await page_rows(db, session_id)] == ["sending"]
    await alive.advance(at(0) + LEASE / 2)
    assert sent.sent == []
    await alive.advance(at(0) + LEASE + timedelta(milliseconds=1))
    assert [(p.key, p.attempts) for p in sent.sent] == [(claimed[0].key, 2)]
    await alive.advance(at(5))
    assert len(sent.sent) == 1
    assert [r[3] for r in await page_rows(db, session_id)] == ["sent"]


async def test_a_tier_whose_worker_failed_midway_is_fired_by_another(
    db: async_sessionmaker[AsyncSession],
) -> None:
    """A firing that fails half-way rolls back whole; the next worker fires the tier once."""
    roster = Roster({"primary": [DIAZ]}, fail=True)
    sent = Recorder()
    broken = pager(db, roster, {Channel.IN_APP: Recorder()}, worker="broken")
    session_id = await start(broken, db, policy((0, "primary"), channels=(Channel.IN_APP,)))
    with pytest.raises(RuntimeError):
        await broken.advance(at(0))
    assert await page_rows(db, session_id) == []
    roster.fail = False
    await pager(db, roster, {Channel.IN_APP: sent}, worker="w2").advance(at(0.05))
    assert [p.user_name for p in sent.sent] == ["Dr Ray Diaz"]


async def test_policy_is_a_snapshot(db: async_sessionmaker[AsyncSession]) -> None:
    """The run keeps the policy it started with, whatever the facility's policy becomes."""
    engine = pager(db, Roster(), {Channel.IN_APP: Recorder()})
    original = policy((0, "primary"), (10, "backup"))
    session_id = await start(engine, db, original)
    async with db() as s:
        stored = await s.scalar(select(runs.c.policy).where(runs.c.session_id == session_id))
    assert EscalationPolicy.model_validate(stored) == original
    assert PageStatus.SENT == "sent"
