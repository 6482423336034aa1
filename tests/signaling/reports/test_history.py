"""The history generator on a small directory, SQLite and PostgreSQL: what it writes is what the
service writes (counts, chains, stored coverage, records that read back), at the shares asked."""

from __future__ import annotations

import asyncio
import hashlib
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from paging.store import inbound, pages, runs, timers
from signaling.directory.file import parse_directory
from signaling.record import chain, fhir, store
from signaling.reports import marks
from signaling.reports.history import Generated, HistorySpec, generate
from signaling.reports.history.writer import SESSIONS, TABLES
from signaling.sessions import coverage, supervision
from signaling.storage.database import make_engine, make_session_factory
from signaling.storage.models import (
    RecordReaction,
    Room,
    SessionAccept,
    SessionEvent,
    SupervisionSession,
)
from tests.signaling.reports.history_db import fresh_database

# One facility whose tiers each find someone new: dra is primary (T+0), drb backup (T+10 s), drc
# only in the pool (T+20 s); drd is privileged but not licensed in Texas (skipped, with why).
DIRECTORY = """
facilities:
  - code: TIER
    name: Tier Imaging
    state: TX
    timezone: America/Chicago
    rooms:
      - {code: CT1, name: CT 1, modality: CT}
      - {code: MR1, name: MR 1, modality: MR}
    paging: {primary: TIER-P, backup: TIER-B}
    exam_setup:
      formulary:
        - {code: iohexol-350, agent_class: iodinated, product: Omnipaque 350, generic: iohexol, concentration: 350 mgI/mL}
        - {code: gadobutrol, agent_class: gadolinium, product: Gadavist, generic: gadobutrol, concentration: 1 mmol/mL}
users:
  - {username: tech1, full_name: Tech One, roles: [technologist], facilities: [TIER]}
  - {username: tech2, full_name: Tech Two, roles: [technologist], facilities: [TIER]}
  - {username: boss, full_name: Boss, roles: [supervisor], facilities: [TIER], mobile: "+15125550199"}
  - username: dra
    full_name: Dr A
    roles: [radiologist]
    licenses: [{state: TX, number: A1, expires: 2030-01-01}]
    privileges: [TIER]
    mobile: "+15125550111"
  - username: drb
    full_name: Dr B
    roles: [radiologist]
    licenses: [{state: TX, number: B1, expires: 2030-01-01}]
    privileges: [TIER]
    mobile: "+15125550112"
  - username: drc
    full_name: Dr C
    roles: [radiologist]
    licenses: [{state: TX, number: C1, expires: 2030-01-01}]
    privileges: [TIER]
    mobile: "+15125550113"
  - username: drd
    full_name: Dr D
    roles: [radiologist]
    licenses: [{state: NY, number: D1, expires: 2030-01-01}]
    privileges: [TIER]
schedules:
  - code: TIER-P
    timezone: America/Chicago
    facilities: [TIER]
    rotations: [{name: all, participants: [dra], start: "2026-01-01T00:00", shift: 7d}]
  - code: TIER-B
    timezone: America/Chicago
    facilities: [TIER]
    rotations: [{name: all, participants: [drb], start: "2026-01-01T00:00", shift: 7d}]
"""
START = datetime(2026, 9, 1, tzinfo=UTC)
END = datetime(2026, 10, 1, tzinfo=UTC)
SPEC = HistorySpec(
    start=START,
    end=END,
    seed=7,
    per_room_weekday=18.0,
    cancels_per_1000={"patient_declined": 60.0, "equipment": 40.0},
    reactions_per_1000={"iodinated": 80.0, "gadolinium": 40.0},
)


@dataclass(frozen=True)
class Made:
    url: str
    generated: Generated


async def _generate(url: str, spec: HistorySpec) -> Generated:
    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as db, db.begin():
            return await generate(db, spec)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def made(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Made]:
    """A month of history at TIER, once per database kind for the whole module."""
    where = tmp_path_factory.mktemp("history")
    with fresh_database(request.param, where, parse_directory(DIRECTORY)) as url:
        yield Made(url, asyncio.run(_generate(url, SPEC)))


async def _rows(url: str, query: object) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as db:
            return [tuple(r) for r in (await db.execute(query)).all()]  # type: ignore[call-overload]
    finally:
        await engine.dispose()


async def test_every_row_written_is_in_the_tables_and_every_session_ended(made: Made) -> None:
    """Each table holds what the generator says it wrote; every session was requested in the
    period and ended before its end (none open), with one paging run and one sealed chain."""
    g = made.generated
    assert 800 < g.sessions < 1400  # 30 days, two rooms, ~18 a weekday each
    engine = make_engine(made.url)
    try:
        async with make_session_factory(engine)() as db:
            for name, table in TABLES.items():
                count = await db.scalar(select(func.count()).select_from(table))
                assert count == g.rows[name], name
            first, last, open_ = (
                await db.execute(
                    select(
                        func.min(SupervisionSession.requested_at),
                        func.max(SupervisionSession.ended_at),
                        func.count().filter(SupervisionSession.state != "ended"),
                    )
                )
            ).one()
            unsealed = await db.scalar(
                select(func.count()).select_from(SessionEvent).where(SessionEvent.digest.is_(None))
            )
            if "agent_class" in SESSIONS.c:  # migration 0010's columns, once merged
                injected = await db.scalar(
                    select(func.count()).where(SESSIONS.c.injected_at.is_not(None))
                )
                assert injected
                assert injected > 0.8 * g.sessions
    finally:
        await engine.dispose()
    assert first >= START
    assert last < END
    assert open_ == 0
    assert unsealed == 0
    assert g.rows["paging_runs"] == g.rows["record_chains"] == g.sessions


async def test_cancellations_and_reactions_come_at_the_rates_asked(made: Made) -> None:
    """Cancellations per 1,000 requests by reason, and reactions per 1,000 injections by agent
    class, within tolerance of the spec; nobody covering shows as no_coverage, unmeasured."""
    reasons = Counter(r for (r,) in await _rows(made.url, select(SupervisionSession.cancel_reason)))
    n = made.generated.sessions
    assert reasons["patient_declined"] * 1000 / n == pytest.approx(60.0, rel=0.4)
    assert reasons["equipment"] * 1000 / n == pytest.approx(40.0, rel=0.5)
    assert reasons["clinical"] == 0  # not asked for
    unmeasured = await _rows(
        made.url,
        select(SupervisionSession.cancel_reason).where(SupervisionSession.joined_at.is_(None)),
    )
    assert unmeasured
    assert all(r is not None for (r,) in unmeasured)  # a session never joined was cancelled
    injections = await _rows(
        made.url,
        select(SessionEvent.session_id, SupervisionSession.room_id)
        .join(SupervisionSession, SupervisionSession.id == SessionEvent.session_id)
        .where(SessionEvent.kind == "injection"),
    )
    reactions = {
        s
        for (s,) in await _rows(
            made.url, select(SessionEvent.session_id).where(SessionEvent.kind == "reaction")
        )
    }
    rooms = {code: i for i, code in await _rows(made.url, select(Room.id, Room.code))}
    by_room = Counter(room for _, room in injections)
    reacted = Counter(room for s, room in injections if s in reactions)
    ct, mr = rooms["CT1"], rooms["MR1"]
    assert reacted[ct] * 1000 / by_room[ct] == pytest.approx(80.0, rel=0.5)
    assert reacted[mr] * 1000 / by_room[mr] == pytest.approx(40.0, rel=0.7)


async def test_each_tier_finds_its_radiologist_in_its_own_time(made: Made) -> None:
    """Join latency by the tier that first paged the radiologist who joined: mostly 10-30 s for the
    primary, 30-60 s for the backup, 60-120 s for the pool (medians); some never join."""
    rows = await _rows(
        made.url,
        select(
            SupervisionSession.requested_at,
            SupervisionSession.joined_at,
            func.min(pages.c.tier),
        )
        .join(
            pages,
            (pages.c.session_id == SupervisionSession.id)
            & (pages.c.user_id == SupervisionSession.radiologist_id)
            & (pages.c.purpose == "page"),
        )
        .where(SupervisionSession.joined_at.is_not(None))
        .group_by(
            SupervisionSession.id, SupervisionSession.requested_at, SupervisionSession.joined_at
        ),
    )
    latency: dict[int, list[float]] = {}
    for requested, joined, tier in rows:
        assert isinstance(joined, datetime)
        assert isinstance(requested, datetime)
        latency.setdefault(int(str(tier)), []).append((joined - requested).total_seconds())
    assert 10 <= statistics.median(latency[0]) <= 30
    assert 30 <= statistics.median(latency[1]) <= 60
    assert 60 <= statistics.median(latency[2]) <= 120
    assert len(latency[0]) > 5 * len(latency[1]) > 0


async def test_the_pager_rows_are_those_a_real_run_leaves(made: Made) -> None:
    """Pages per channel with delivered, failed (voicemail, carrier) and skipped outcomes (why:
    not licensed in the state), empty-handed timers cancelled after a join, supervisors alerted
    when paging ran out, accepts by each way with the carrier events they were claimed by."""
    outcomes = Counter(
        (c, s, d)
        for c, s, d in await _rows(
            made.url, select(pages.c.channel, pages.c.status, pages.c.detail)
        )
    )
    assert outcomes[("in_app", "sent", None)] > 0
    assert outcomes[("sms", "sent", None)] > 0
    assert outcomes[("voice", "failed", "voicemail: not reached")] > 0
    assert outcomes[("-", "skipped", "no_license_in_state")] > 0  # drd, in the pool
    timer_outcomes = Counter(o for (o,) in await _rows(made.url, select(timers.c.outcome)))
    assert {"fired", "cancelled"} <= timer_outcomes.keys()
    assert timer_outcomes["exhausted"] > 0
    alerts = await _rows(made.url, select(pages.c.user_name).where(pages.c.purpose == "alert"))
    assert alerts
    assert {name for (name,) in alerts} == {"Boss"}
    stops = Counter(r for (r,) in await _rows(made.url, select(runs.c.stop_reason)))
    assert stops["joined"] > stops["exhausted"] > 0
    vias = Counter(v for (v,) in await _rows(made.url, select(SessionAccept.via)))
    assert vias.keys() == {"web", "sms", "voice"}
    phone_accepts = await _rows(
        made.url,
        select(func.count())
        .select_from(SessionEvent)
        .where(SessionEvent.kind == "accepted", SessionEvent.detail.in_(["sms", "voice"])),
    )
    claimed = await _rows(made.url, select(func.count()).select_from(inbound))
    assert claimed == phone_accepts


async def test_every_record_is_sealed_intact(made: Made) -> None:
    """`standby record verify --all` finds every generated record intact and nothing unsealed."""
    engine = make_engine(made.url)
    try:
        async with make_session_factory(engine)() as db:
            verdicts = await chain.verify_all(db)
    finally:
        await engine.dispose()
    assert len(verdicts) == made.generated.sessions
    assert all(v.intact for v in verdicts)
    assert sum(v.unsealed for v in verdicts) == 0


async def test_stored_coverage_is_what_the_service_computes_from_the_link_events(
    made: Made,
) -> None:
    """For sessions with and without gaps, the stored coverage equals ``coverage_of`` replayed over
    the session's own link events (what ``end`` stores)."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    engine = make_engine(made.url)
    try:
        async with make_session_factory(engine)() as db:
            sessions = (
                await db.scalars(
                    select(SupervisionSession).order_by(SupervisionSession.requested_at)
                )
            ).all()
            gapped = [s for s in sessions if (s.coverage or {}).get("gap_count")]
            never = [s for s in sessions if s.joined_at is None]
            sample = {s.id: s for s in [*gapped[:20], *never[:5], *sessions[:20]]}.values()
            assert gapped
            assert never
            for s in sample:
                stored = s.coverage
                s.coverage = None
                assert await coverage.coverage_of(db, s, now) == stored
            await db.rollback()
    finally:
        await engine.dispose()


async def test_a_generated_record_reads_back_and_exports(made: Made) -> None:
    """A session with a reaction reads as the service's record view (agent from the formulary, the
    reaction with its first action, completeness scored) and its FHIR bundle passes the checks."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    engine = make_engine(made.url)
    try:
        async with make_session_factory(engine)() as db:
            ids = (
                await db.scalars(
                    select(SessionEvent.session_id).where(SessionEvent.kind == "reaction")
                )
            ).all()
            assert ids
            views = [await store.record_view(db, await supervision.load(db, i), now) for i in ids]
    finally:
        await engine.dispose()
    for view in views:
        assert view.exam.agent is not None
        (reaction,) = view.reactions
        assert reaction.first_action_at is not None
        assert reaction.onset_to_action_s is not None
        assert reaction.onset_to_action_s >= 0
        assert view.injection is not None
    complete = [v for v in views if not v.completeness.missing]
    assert complete
    assert len(complete) < len(views) or len(views) < 5  # some are left incomplete
    assert fhir.check(fhir.bundle(complete[0], now)) == []


def _fingerprint(rows: list[tuple[object, ...]]) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_the_same_seed_makes_the_same_history(tmp_path: Path) -> None:
    """Two fresh databases and one spec: the same sessions, to the millisecond; another seed
    differs."""
    short = HistorySpec(start=START, end=datetime(2026, 9, 8, tzinfo=UTC), seed=3)
    other = HistorySpec(start=START, end=datetime(2026, 9, 8, tzinfo=UTC), seed=4)
    query = select(
        SupervisionSession.id,
        SupervisionSession.requested_at,
        SupervisionSession.joined_at,
        SupervisionSession.outcome,
        SupervisionSession.coverage,
    ).order_by(SupervisionSession.requested_at)
    prints = []
    for spec in (short, short, other):
        with fresh_database("sqlite", tmp_path, parse_directory(DIRECTORY)) as url:
            asyncio.run(_generate(url, spec))
            prints.append(_fingerprint(asyncio.run(_rows(url, query))))
    assert prints[0] == prints[1]
    assert prints[2] != prints[0]


async def test_the_facts_the_reports_count_are_kept_as_the_service_keeps_them(made: Made) -> None:
    """Each generated session carries the record's facts its own fold gives (agent class,
    injection, documentation score, one ``record_reactions`` row per reaction), its coverage's
    figures as columns, and each accept its first page on its channel."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    engine = make_engine(made.url)
    try:
        async with make_session_factory(engine)() as db:
            ids = (
                await db.scalars(
                    select(SessionEvent.session_id).where(SessionEvent.kind == "reaction")
                )
            ).all()
            sample = [*ids[:10], *(await db.scalars(select(SupervisionSession.id).limit(30)))]
            for sid in dict.fromkeys(sample):
                s = await supervision.load(db, sid)
                view = await store.record_view(db, s, now)
                assert s.agent_class == (view.exam.agent.agent_class if view.exam.agent else None)
                assert s.injected_at == (view.injection.at if view.injection else None)
                assert s.documentation_required == len(view.completeness.required)
                assert s.documentation_missing == len(view.completeness.missing)
                assert s.verified_live_s == (view.coverage or {}).get("verified_live_s")
                kept = (
                    await db.scalars(select(RecordReaction).where(RecordReaction.session_id == sid))
                ).all()
                assert [(r.entry_id, r.severity, r.intervened_at) for r in kept] == [
                    (r.seq, r.severity.value if r.severity else None, r.first_action_at)
                    for r in view.reactions
                ]
            paged = (await db.execute(select(SessionAccept.via, SessionAccept.paged_at))).all()
    finally:
        await engine.dispose()
    assert ids
    assert sum(1 for _, at in paged if at is not None) > 0.5 * len(paged)


async def test_the_marks_written_with_the_rows_are_those_the_service_computes(made: Made) -> None:
    """The generator writes each session's and sent page's marks with its rows: erased and
    recomputed from the rows by ``marks.mark_all``, every one comes out the same (the few the
    load could not know were put right after it, and counted)."""
    g = made.generated
    assert 0 <= g.marks_corrected < g.rows["paging_pages"] / 100
    sessions = select(
        SupervisionSession.id, SupervisionSession.found_tier, SupervisionSession.accepted_via
    ).order_by(SupervisionSession.id)
    page_marks = select(pages.c.id, pages.c.interrupts, pages.c.first_to_person).order_by(
        pages.c.id
    )
    engine = make_engine(made.url)
    try:
        async with make_session_factory(engine)() as db, db.begin():
            kept_sessions = (await db.execute(sessions)).all()
            kept_pages = (await db.execute(page_marks)).all()
            assert sum(1 for _, tier, _ in kept_sessions if tier is not None) > 100
            assert sum(1 for _, i, _ in kept_pages if i is not None) > 1000
            await db.execute(
                update(SupervisionSession).values(
                    found_tier=None, accepted_via=None, marked_at=None
                )
            )
            await db.execute(update(pages).values(interrupts=None, first_to_person=None))
            written = await marks.mark_all(db)
            assert written == sum(1 for _, i, _ in kept_pages if i is not None)
            assert (await db.execute(sessions)).all() == kept_sessions
            assert (await db.execute(page_marks)).all() == kept_pages
            await db.rollback()
    finally:
        await engine.dispose()
