"""A STAT page (a contrast reaction, nobody supervising live) against a real database and the fake
Twilio: every tier's people at once on every channel, once, whatever the run's state, and the
escalation after it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paging.carrier import CarrierError
from paging.engine import (
    ALERT_TIER,
    REACTION_ALERT_TIER,
    STAT_AGAIN_AFTER,
    AlertKind,
    Engine,
    Page,
    Purpose,
    Recipient,
    Skip,
    alert_kind,
)
from paging.policy import Channel, EscalationPolicy, Target, TargetKind, Tier
from paging.store import pages, runs, timers
from paging.twilio import TwilioCarrier, sms_text, stat_sms_text
from tests.fakes.twilio_server import FakeTwilio, run_fake_twilio
from tests.paging.test_engine import (
    DIAZ,
    NO_PHONE,
    PATEL,
    T0,
    Recorder,
    Roster,
    at,
    db,
    pager,
)

__all__ = ["db"]  # the fixture, shared with test_engine

REEF = Recipient(7, "Dr Rae Reef", "+15550000007")
LINK = "https://standby.example.org/rad"
HOOKS = "https://standby.example.org/twilio"
ACCESSION = "ACC-SECRET-42"


def three_tiers() -> EscalationPolicy:
    """T+0 the primary in-app only, T+10 s the backup by SMS only, T+20 s the pool in-app only:
    a STAT pages them all on every channel regardless, at once."""

    def tier(delay: float, schedule: str, channel: Channel) -> Tier:
        target = Target(kind=TargetKind.SCHEDULE, schedule=schedule)
        return Tier(delay_s=delay, targets=(target,), channels=(channel,))

    return EscalationPolicy(
        tiers=(
            tier(0, "primary", Channel.IN_APP),
            tier(10, "backup", Channel.SMS),
            tier(20, "pool", Channel.IN_APP),
        ),
        repeat=0,
        repeat_after_s=20,
    )


def roster() -> Roster:
    return Roster(
        {"primary": [DIAZ], "backup": [PATEL], "pool": [DIAZ, PATEL, REEF, NO_PHONE]},
        skipped={"pool": [Skip(8, "Dr Old License", "license_expired")]},
        supervising=[Recipient(9, "Sue Pier", "+15550000009")],
    )


@dataclass
class Phone:
    """SMS or voice through the Twilio carrier to the fake, worded by purpose as the service's
    sender words them (the service's own sender is tested in tests/signaling/pager/test_stat.py)."""

    channel: Channel
    carrier: TwilioCarrier

    async def send(self, page: Page) -> str:
        assert page.address is not None
        status = f"{HOOKS}/status/{page.id}"
        if self.channel is Channel.VOICE:
            return await self.carrier.place_call(page.address, f"{HOOKS}/voice/{page.id}", status)
        if page.purpose == Purpose.STAT:
            text = stat_sms_text("North Imaging Center", "CT Room 1", LINK)
        else:
            text = sms_text("North Imaging Center", "urgent", LINK)
        return await self.carrier.send_sms(page.address, text, status)


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with run_fake_twilio() as twilio:
        yield twilio


@pytest.fixture
async def carrier(fake: FakeTwilio) -> AsyncIterator[TwilioCarrier]:
    async with TwilioCarrier(fake.settings()) as twilio:
        twilio.warm()  # its lazy imports inside the first send would be the only stagger
        yield twilio


@dataclass
class Rig:
    engine: Engine
    in_app: Recorder
    session_id: str


@pytest.fixture
async def rig(db: async_sessionmaker[AsyncSession], carrier: TwilioCarrier) -> Rig:
    """Paging opened at T0 with the three tiers (the primary paged in-app at once)."""
    in_app = Recorder()
    channels = {
        Channel.IN_APP: in_app,
        Channel.SMS: Phone(Channel.SMS, carrier),
        Channel.VOICE: Phone(Channel.VOICE, carrier),
    }
    engine = pager(db, roster(), channels)  # type: ignore[arg-type]
    session_id = str(uuid.uuid4())
    async with db() as s, s.begin():
        fresh = await engine.start(s, session_id, 1, three_tiers(), T0)
    await engine.deliver(fresh, T0)
    return Rig(engine, in_app, session_id)


async def stat(
    db: async_sessionmaker[AsyncSession], rig: Rig, seconds: float, **kw: object
) -> list[Page]:
    """A STAT at T0 + ``seconds``, sent after its commit, as the record does."""
    async with db() as s, s.begin():
        fresh = await rig.engine.stat(s, rig.session_id, at(seconds), **kw)  # type: ignore[arg-type]
    await rig.engine.deliver(fresh, at(seconds))
    return fresh


async def run_of(db: async_sessionmaker[AsyncSession], session_id: str) -> tuple[str, str | None]:
    async with db() as s:
        run = (await s.execute(select(runs).where(runs.c.session_id == session_id))).one()
    return run.state, run.stop_reason


async def test_a_stat_pages_every_tier_on_every_channel_at_once(
    db: async_sessionmaker[AsyncSession], rig: Rig, fake: FakeTwilio
) -> None:
    """Two seconds in (only the primary paged, in-app), a STAT reaches the primary, the backup and
    the pool by SMS, call and in-app in the same moment: all sent before the pager advances at all,
    not 10 s and 20 s apart; each person once per channel, none without a phone on SMS or voice."""
    fresh = await stat(db, rig, 2)
    phones = sorted(p.mobile for p in (DIAZ, PATEL, REEF) if p.mobile)
    assert sorted(m.to for m in fake.messages) == phones
    assert sorted(c.to for c in fake.calls) == phones
    stat_in_app = [p for p in rig.in_app.sent if p.purpose == Purpose.STAT]
    assert sorted(p.user_name for p in stat_in_app) == [
        "Dr Anya Patel",
        "Dr No Phone",
        "Dr Rae Reef",
        "Dr Ray Diaz",
    ]
    assert {p.purpose for p in fresh} == {Purpose.STAT}
    assert {p.round for p in fresh} == {1}
    # Each under the first tier that names them: the pool names Dr Diaz and Dr Patel again.
    assert {(p.user_name, p.tier) for p in fresh} == {
        ("Dr Ray Diaz", 0),
        ("Dr Anya Patel", 1),
        ("Dr Rae Reef", 2),
        ("Dr No Phone", 2),
    }
    sent_at = [r.at for r in fake.requests]
    assert len(sent_at) == 6
    assert max(sent_at) - min(sent_at) < timedelta(seconds=5), "staggered like tiers"
    async with db() as s:
        rows = (
            await s.execute(
                select(pages.c.user_name, pages.c.channel, pages.c.status, pages.c.detail)
                .where(pages.c.session_id == rig.session_id, pages.c.purpose == Purpose.STAT)
                .order_by(pages.c.id)
            )
        ).all()
    assert ("Dr No Phone", "sms", "skipped", "no mobile number") in rows
    assert ("Dr No Phone", "voice", "skipped", "no mobile number") in rows
    assert ("Dr Old License", "-", "skipped", "license_expired") in rows
    assert sum(1 for r in rows if r.status == "sent") == 3 * 3 + 1


async def test_the_stat_sms_names_site_and_room_and_carries_no_patient_information(
    db: async_sessionmaker[AsyncSession], rig: Rig, fake: FakeTwilio
) -> None:
    """What the carrier receives for a STAT: its own wording, the login link, no accession."""
    await stat(db, rig, 2)
    body = fake.messages[0].body
    assert body == (
        "STAT: contrast reaction at North Imaging Center, CT Room 1. Supervising radiologist "
        f"needed now. Open: {LINK} Reply 1 or YES to accept."
    )
    assert ACCESSION not in body
    assert len(body) <= 320  # two SMS segments at most


async def test_a_second_stat_moments_later_pages_nobody_again(
    db: async_sessionmaker[AsyncSession], rig: Rig, fake: FakeTwilio
) -> None:
    """The reaction recorded and then its severity set: the second STAT, 3 s after the first,
    pages nobody; one after STAT_AGAIN_AFTER is a new STAT."""
    await stat(db, rig, 2)
    assert await stat(db, rig, 5) == []
    assert len(fake.messages) == len(fake.calls) == 3
    later = 2 + STAT_AGAIN_AFTER.total_seconds() + 1
    again = await stat(db, rig, later)
    assert {p.round for p in again} == {3}  # (round 2: the rounds after the first STAT)
    assert len(fake.messages) == 6


async def test_a_stopped_or_held_run_pages_again(
    db: async_sessionmaker[AsyncSession], rig: Rig, fake: FakeTwilio
) -> None:
    """Paging stopped (a radiologist joined, then their link failed) or held (someone accepted):
    a STAT makes the run active again and pages everyone; pending timers are superseded."""
    async with db() as s, s.begin():
        await rig.engine.stop(s, rig.session_id, "joined", at(3))
    assert await run_of(db, rig.session_id) == ("stopped", "joined")
    assert len(await stat(db, rig, 60)) == 10
    assert await run_of(db, rig.session_id) == ("active", None)
    async with db() as s, s.begin():
        await rig.engine.hold(s, rig.session_id, at(61))
    assert await run_of(db, rig.session_id) == ("held", None)
    assert len(await stat(db, rig, 100)) == 10
    assert await run_of(db, rig.session_id) == ("active", None)
    assert len(fake.messages) == 6
    async with db() as s:
        outcomes = [
            tuple(r)
            for r in await s.execute(
                select(timers.c.kind, timers.c.round, timers.c.outcome)
                .where(timers.c.session_id == rig.session_id)
                .order_by(timers.c.id)
            )
        ]
    # the opening's timers cancelled by the stop; the first STAT's rounds superseded by the second
    assert outcomes[:4] == [
        ("tier", 0, "fired"),
        ("tier", 0, "cancelled"),
        ("tier", 0, "cancelled"),
        ("exhausted", None, "cancelled"),
    ]
    assert ("stat", 1, "fired") in outcomes
    assert ("stat_tier", 2, "superseded") in outcomes
    assert outcomes[-5:] == [
        ("stat", 3, "fired"),
        ("stat_tier", 4, None),
        ("stat_tier", 4, None),
        ("stat_tier", 4, None),
        ("exhausted", None, None),
    ]


async def test_escalation_goes_on_after_a_stat_until_the_supervisors_are_told(
    db: async_sessionmaker[AsyncSession], rig: Rig, fake: FakeTwilio
) -> None:
    """Nobody acts: one round after the STAT (40 s: last tier at 20 s plus 20 s) the policy runs
    again on each tier's own channels, in STAT wording; when it runs out, the supervisors are
    alerted."""
    await stat(db, rig, 2)
    await rig.engine.advance(at(41.9))
    assert [m.to for m in fake.messages[3:]] == ["+15550000009"]  # the STAT's reaction alert
    await rig.engine.advance(at(42))
    followed = [p for p in rig.in_app.sent if p.round == 2]
    assert [(p.user_name, p.purpose) for p in followed] == [("Dr Ray Diaz", Purpose.STAT)]
    await rig.engine.advance(at(52))
    assert [m.to for m in fake.messages[4:]] == [PATEL.mobile]
    assert fake.messages[4].body.startswith("STAT: contrast reaction at")
    assert fake.calls[3:] == []  # the backup's tier pages by SMS only
    await rig.engine.advance(at(62))
    await rig.engine.advance(at(82))
    assert await run_of(db, rig.session_id) == ("stopped", "exhausted")
    assert [m.to for m in fake.messages[-1:]] == ["+15550000009"]


async def test_a_join_after_a_stat_stops_it_and_names_everyone_paged(
    db: async_sessionmaker[AsyncSession], rig: Rig
) -> None:
    """Someone joins: the STAT's rounds are cancelled and everyone the STAT reached is returned
    to be told the case is covered."""
    await stat(db, rig, 2)
    async with db() as s, s.begin():
        paged = await rig.engine.stop(s, rig.session_id, "joined", at(5))
    assert paged == sorted(p.user_id for p in (DIAZ, PATEL, NO_PHONE, REEF))
    before = len(rig.in_app.sent)
    await rig.engine.advance(at(200))
    assert len(rig.in_app.sent) == before


async def test_a_failed_stat_page_fails_over_like_any_page(
    db: async_sessionmaker[AsyncSession], rig: Rig, fake: FakeTwilio
) -> None:
    """In the rounds after a STAT the backup's tier pages by SMS only: its SMS undelivered, Dr Patel
    is called at once, and the call is a STAT too."""
    await stat(db, rig, 2)
    await rig.engine.advance(at(52))
    async with db() as s:
        sms = (
            await s.execute(
                select(pages.c.id).where(
                    pages.c.session_id == rig.session_id,
                    pages.c.round == 2,
                    pages.c.channel == "sms",
                )
            )
        ).scalar_one()
    assert await rig.engine.page_failed(sms, "carrier: undelivered", at(53)) == rig.session_id
    await rig.engine.advance(at(53))
    assert [c.to for c in fake.calls[3:]] == [PATEL.mobile]
    async with db() as s:
        voice = (
            await s.execute(
                select(pages.c.purpose, pages.c.status, pages.c.detail).where(
                    pages.c.session_id == rig.session_id,
                    pages.c.round == 2,
                    pages.c.channel == "voice",
                )
            )
        ).one()
    assert tuple(voice) == (Purpose.STAT, "sent", "sms failed")


async def test_a_session_never_paged_is_paged_from_the_policy_given(
    db: async_sessionmaker[AsyncSession], fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    """No run yet: with the facility and its policy a STAT opens one and pages everyone; without
    them it refuses, naming what is missing, and writes nothing."""
    engine = pager(db, roster(), {Channel.SMS: Phone(Channel.SMS, carrier)})  # type: ignore[dict-item]
    session_id = str(uuid.uuid4())
    with pytest.raises(ValueError, match="never paged"):
        async with db() as s, s.begin():
            await engine.stat(s, session_id, T0)
    async with db() as s:
        assert (
            await s.execute(select(runs).where(runs.c.session_id == session_id))
        ).first() is None
    async with db() as s, s.begin():
        fresh = await engine.stat(s, session_id, T0, facility_id=1, policy=three_tiers())
    await engine.deliver(fresh, T0)
    assert sorted(m.to for m in fake.messages) == sorted(
        p.mobile for p in (DIAZ, PATEL, REEF) if p.mobile
    )
    assert await run_of(db, session_id) == ("active", None)


async def test_a_stat_whose_directory_fails_is_fired_by_the_loop(
    db: async_sessionmaker[AsyncSession], fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    """The directory cannot be read at the moment of the STAT: the caller's transaction still
    commits, and the pager's next round of work pages everyone, as a STAT."""
    people = roster()
    in_app = Recorder()
    channels = {Channel.IN_APP: in_app, Channel.SMS: Phone(Channel.SMS, carrier)}
    engine = pager(db, people, channels)  # type: ignore[arg-type]
    session_id = str(uuid.uuid4())
    async with db() as s, s.begin():
        opened = await engine.start(s, session_id, 1, three_tiers(), T0)
    await engine.deliver(opened, T0)
    people.fail = True
    async with db() as s, s.begin():
        assert await engine.stat(s, session_id, at(2)) == []
    assert fake.messages == []
    people.fail = False
    await engine.advance(at(2.05))
    assert sorted(m.to for m in fake.messages) == sorted(
        [*(p.mobile for p in (DIAZ, PATEL, REEF) if p.mobile), "+15550000009"]
    )  # and the supervisor's reaction alert, written when the STAT finally fired
    assert {p.purpose for p in in_app.sent if p.round == 1} == {Purpose.STAT, Purpose.ALERT}


async def test_a_stat_with_nobody_to_page_tells_the_supervisors_at_once(
    db: async_sessionmaker[AsyncSession], fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    """Nobody eligible anywhere: no round is waited out; the supervisors are alerted at once."""
    nobody = Roster(supervising=[Recipient(9, "Sue Pier", "+15550000009")])
    engine = pager(db, nobody, {Channel.SMS: Phone(Channel.SMS, carrier)})  # type: ignore[dict-item]
    session_id = str(uuid.uuid4())
    async with db() as s, s.begin():
        assert await engine.stat(s, session_id, T0, facility_id=1, policy=three_tiers()) == []
    await engine.advance(at(0))
    assert await run_of(db, session_id) == ("stopped", "exhausted")
    # told twice at once: a reaction summoned help, and nobody could be paged
    assert [m.to for m in fake.messages] == ["+15550000009", "+15550000009"]
    async with db() as s:
        rows = (
            await s.execute(
                select(pages.c.tier, pages.c.channel, pages.c.status)
                .where(pages.c.session_id == session_id, pages.c.purpose == Purpose.ALERT)
                .order_by(pages.c.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (REACTION_ALERT_TIER, "in_app", "skipped"),  # (in-app is not configured here)
        (REACTION_ALERT_TIER, "sms", "sent"),
        (ALERT_TIER, "in_app", "skipped"),
        (ALERT_TIER, "sms", "sent"),
    ]


async def test_a_refused_number_fails_only_its_own_stat_page(
    db: async_sessionmaker[AsyncSession],
) -> None:
    """A refused number on one channel fails that page only; everyone else's STAT goes out."""
    in_app = Recorder()
    refused = Recorder(fail_with=CarrierError("invalid number", retryable=False))
    engine = pager(db, roster(), {Channel.IN_APP: in_app, Channel.SMS: refused})
    session_id = str(uuid.uuid4())
    async with db() as s, s.begin():
        fresh = await engine.stat(s, session_id, T0, facility_id=1, policy=three_tiers())
    await engine.deliver(fresh, T0)
    assert len(in_app.sent) == 4
    async with db() as s:
        statuses = sorted(
            (r.channel, r.status)
            for r in await s.execute(
                select(pages.c.channel, pages.c.status).where(
                    pages.c.session_id == session_id, pages.c.user_name != "Dr Old License"
                )
            )
        )
    assert statuses.count(("sms", "failed")) == 3
    assert statuses.count(("voice", "skipped")) == 4  # voice is not configured here


async def test_a_stat_alerts_the_facilitys_supervisors_as_a_reaction(
    db: async_sessionmaker[AsyncSession], rig: Rig, fake: FakeTwilio
) -> None:
    """With the STAT, in its transaction, the facility's supervisor gets a durable alert in-app
    and by SMS through the outbox, marked as a reaction (its own tier) with the STAT's round; a
    second STAT after STAT_AGAIN_AFTER is a second alert, one within it none."""
    await stat(db, rig, 2)
    async with db() as s:
        rows = (
            await s.execute(
                select(pages.c.user_name, pages.c.channel, pages.c.tier, pages.c.round)
                .where(pages.c.session_id == rig.session_id, pages.c.purpose == Purpose.ALERT)
                .order_by(pages.c.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("Sue Pier", "in_app", REACTION_ALERT_TIER, 1),
        ("Sue Pier", "sms", REACTION_ALERT_TIER, 1),
    ]
    assert alert_kind(rows[0].tier) == AlertKind.REACTION
    await rig.engine.advance(at(2))
    alerts = [p for p in rig.in_app.sent if p.purpose == Purpose.ALERT]
    assert [(p.user_name, p.tier, p.round) for p in alerts] == [("Sue Pier", -2, 1)]
    assert [m.to for m in fake.messages[3:]] == ["+15550000009"]
    await stat(db, rig, 5)  # within STAT_AGAIN_AFTER: no STAT, no alert
    later = 2 + STAT_AGAIN_AFTER.total_seconds() + 1
    await stat(db, rig, later)
    async with db() as s:
        rounds = sorted(
            set(
                await s.scalars(
                    select(pages.c.round).where(
                        pages.c.session_id == rig.session_id, pages.c.purpose == Purpose.ALERT
                    )
                )
            )
        )
    assert rounds == [1, 3]


async def test_running_out_twice_alerts_the_supervisors_twice(
    db: async_sessionmaker[AsyncSession], rig: Rig
) -> None:
    """Paging ran out, a radiologist joined late and lost the link, paging ran out again: a second
    exhausted alert, under a round of its own (the first one's keys are not written twice)."""
    await rig.engine.advance(at(40))  # the three tiers, then 20 s: run out
    assert await run_of(db, rig.session_id) == ("stopped", "exhausted")
    async with db() as s, s.begin():
        await rig.engine.stop(s, rig.session_id, "joined", at(50))
    async with db() as s, s.begin():
        assert await rig.engine.repage(s, rig.session_id, at(60), "media lost")
    await rig.engine.advance(at(100))
    assert await run_of(db, rig.session_id) == ("stopped", "exhausted")
    async with db() as s:
        groups = sorted(
            set(
                (r.tier, r.round)
                for r in await s.execute(
                    select(pages.c.tier, pages.c.round).where(
                        pages.c.session_id == rig.session_id, pages.c.purpose == Purpose.ALERT
                    )
                )
            )
        )
    assert groups == [(ALERT_TIER, 1), (ALERT_TIER, 2)]
