"""The demo's own directory: what `make demo` loads must show the README's story."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from paging.policy import TargetKind
from paging.schedule import on_call
from signaling.directory.file import load_directory, parse_directory
from signaling.record import chain, fhir, store
from signaling.record.demo import seed_reaction_session
from signaling.sessions import supervision
from signaling.storage.database import make_engine, make_session_factory, migrate_async
from signaling.storage.models import RecordReaction


def _lake_hole(local: datetime) -> bool:
    """Friday and Saturday nights, 19:00 to 07:00 New York time."""
    weekday, hour = local.weekday(), local.hour
    return (weekday in (4, 5) and hour >= 19) or (weekday in (5, 6) and hour < 7)


def test_demo_on_call_covers_every_hour_but_lakes_friday_and_saturday_nights() -> None:
    """*On call now* names someone at NORTH at every hour of a week, and at LAKE at every hour but
    Friday and Saturday nights 19:00-07:00 local (the demo's coverage hole: 24 hours a week);
    whoever is on call is licensed in the site's state and privileged there."""
    demo = parse_directory(files("signaling").joinpath("demo_directory.yaml").read_text())
    people = {u.username: u for u in demo.users}
    start = datetime(2026, 12, 7, 0, 30, tzinfo=UTC)
    uncovered: dict[str, list[datetime]] = {}
    for facility in demo.facilities:
        schedules = [s for s in demo.schedules if facility.code in s.facilities]
        assert schedules, f"{facility.code} has no on-call schedule"
        zone = ZoneInfo(facility.timezone)
        for hour in range(7 * 24):
            now = start + timedelta(hours=hour)
            names = {name for s in schedules for name in on_call(s, now)}
            if not names:
                uncovered.setdefault(facility.code, []).append(now.astimezone(zone))
            for name in names:
                person = people[name]
                assert facility.code in person.privileges
                assert facility.state in {lic.state for lic in person.licenses}
    assert "NORTH" not in uncovered
    assert len(uncovered["LAKE"]) == 24
    assert all(_lake_hole(local) for local in uncovered["LAKE"])


def test_lake_pages_only_who_is_on_call() -> None:
    """LAKE's policy has no pool tier: in the hole nobody at all is paged (its one New York
    radiologist is off call), so paging runs out at once instead of waking him."""
    demo = parse_directory(files("signaling").joinpath("demo_directory.yaml").read_text())
    lake = next(f for f in demo.facilities if f.code == "LAKE")
    policy = lake.policy()
    assert policy is not None
    kinds = {target.kind for tier in policy.tiers for target in tier.targets}
    assert kinds == {TargetKind.SCHEDULE}


async def test_the_demo_has_a_finished_session_with_a_reaction_to_look_at(tmp_path: Path) -> None:
    """`standby demo` seeds one past session: the injection under verified supervision, a
    moderate allergic-like reaction acknowledged within seconds, treated, resolved and amended; its
    record is complete, chains intact once sealed, and exports as a FHIR document; seeding twice
    adds nothing."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    await migrate_async(url)
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        demo = parse_directory(files("signaling").joinpath("demo_directory.yaml").read_text())
        now = datetime.now(UTC)
        async with factory() as db, db.begin():
            await load_directory(db, demo)
        async with factory() as db, db.begin():
            session_id = await seed_reaction_session(db, now)
        async with factory() as db, db.begin():
            assert await seed_reaction_session(db, now) is None
        assert session_id is not None
        await chain.seal(factory, now)
        async with factory() as db:
            s = await supervision.load(db, session_id)
            record = await store.record_view(db, s, now)
            verdict = await chain.verify(db, session_id)
            kept = await db.scalars(
                select(RecordReaction).where(RecordReaction.session_id == session_id)
            )
            reactions = [(r.severity, r.premedicated) for r in kept]
    finally:
        await engine.dispose()
    assert verdict.intact
    assert verdict.length >= 20
    assert record.injection is not None
    assert record.injection.verified
    (reaction,) = record.reactions
    assert reaction.severity is not None
    assert reaction.severity.value == "moderate"
    assert reaction.onset_to_action_s == 8
    assert reaction.treatments[0].dose == "50 mg"  # as amended; "5 mg" stays in the record
    assert record.amendments[0].changes == {"dose": ("5 mg", "50 mg")}
    assert record.exam.agent is not None
    assert record.exam.agent.product == "Omnipaque 350"
    assert record.completeness.missing == ()
    # the record's facts the reports count, kept on the session
    assert (s.agent_class, s.injection_verified, s.documentation_missing) == ("iodinated", True, 0)
    assert (s.verified_live_s, s.link_gap_count) == (1477.0, 1)
    assert reactions == [("moderate", False)]
    assert fhir.check(fhir.bundle(record, now)) == []
