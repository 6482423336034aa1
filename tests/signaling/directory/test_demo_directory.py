"""The demo's own directory: what `make demo` loads must show the README's story."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path

from sqlalchemy import select

from paging.schedule import on_call
from signaling.directory.file import load_directory, parse_directory
from signaling.record import chain, fhir, store
from signaling.record.demo import seed_reaction_session
from signaling.sessions import supervision
from signaling.storage.database import make_engine, make_session_factory, migrate_async
from signaling.storage.models import RecordReaction


def test_every_demo_facility_has_a_licensed_radiologist_on_call_at_every_hour() -> None:
    """*On call now* names someone at each demo site, any hour of a week, and that person is
    licensed in the site's state and privileged there (so the page is not a skip)."""
    demo = parse_directory(files("signaling").joinpath("demo_directory.yaml").read_text())
    people = {u.username: u for u in demo.users}
    start = datetime(2026, 12, 7, 0, 30, tzinfo=UTC)
    for facility in demo.facilities:
        schedules = [s for s in demo.schedules if facility.code in s.facilities]
        assert schedules, f"{facility.code} has no on-call schedule"
        for hour in range(7 * 24):
            now = start + timedelta(hours=hour)
            names = {name for s in schedules for name in on_call(s, now)}
            assert names, f"nobody on call at {facility.code} at {now:%a %H:%M} UTC"
            for name in names:
                person = people[name]
                assert facility.code in person.privileges
                assert facility.state in {lic.state for lic in person.licenses}


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
