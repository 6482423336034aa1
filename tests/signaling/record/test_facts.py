"""The record's facts on the session (``signaling.record.facts``), written through the record's own
API as the exam is saved, the injection and a reaction recorded, and the session ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.storage.models import RecordReaction, SupervisionSession
from tests.live import LiveServer, api, login
from tests.signaling.helpers import open_session, room_id
from tests.signaling.record.test_record import until_recorded_live, verified_call

LAKE = "Lakeside Imaging"  # 13 required fields, injections recorded whatever the link


async def facts(db: AsyncSession, session_id: str) -> SupervisionSession:
    db.expire_all()
    s = await db.get(SupervisionSession, session_id)
    assert s is not None
    return s


async def reaction_rows(db: AsyncSession, session_id: str) -> list[RecordReaction]:
    db.expire_all()
    found = await db.scalars(select(RecordReaction).where(RecordReaction.session_id == session_id))
    return list(found.all())


async def test_the_exam_injection_and_reaction_set_the_facts_as_they_are_written(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """Saving the exam sets its agent class; "Injecting now" with nobody on the line sets the time
    and "not verified"; a reaction, its findings and an amendment keep its row current; the
    documentation score follows every entry."""
    tech = await login(server, "tech")
    session = await open_session(server, tech, room_id=await room_id(server, tech, LAKE))
    sid = session["id"]
    async with api(server, tech) as client:
        saved = await client.put(
            f"/api/sessions/{sid}/exam",
            json={"agent": "iohexol-350", "volume_ml": 100, "premedicated": True},
        )
        assert saved.status_code == 200, saved.text
        s = await facts(db_session, sid)
        assert (s.agent_class, s.injected_at, s.injection_verified) == ("iodinated", None, None)
        # asked: accession, agent, volume, route, checklist, injection time, radiologist
        assert (s.documentation_required, s.documentation_missing) == (7, 3)

        before = datetime.now(UTC)
        injected = await client.post(f"/api/sessions/{sid}/injection")
        assert injected.status_code == 201, injected.text
        s = await facts(db_session, sid)
        assert s.injection_verified is False
        assert s.injected_at is not None
        assert before - timedelta(seconds=1) <= s.injected_at <= datetime.now(UTC)
        assert (s.documentation_required, s.documentation_missing) == (7, 2)

        opened = await client.post(f"/api/sessions/{sid}/reactions", json={"severity": "mild"})
        assert opened.status_code == 201, opened.text
        entry = opened.json()["reaction"]
        (row,) = await reaction_rows(db_session, sid)
        assert (row.entry_id, row.severity, row.reaction_type) == (entry, "mild", None)
        assert row.premedicated is True  # the exam's answer, the reaction giving none
        assert row.intervened_at is None
        assert before - timedelta(seconds=1) <= row.onset_at <= datetime.now(UTC)
        s = await facts(db_session, sid)
        # and now LAKE's six reaction fields: type, treatments, outcome, allergy list missing
        assert (s.documentation_required, s.documentation_missing) == (13, 6)

        found = await client.post(
            f"/api/sessions/{sid}/reactions/{entry}/findings",
            json={"type": "physiologic", "premedicated": False},
        )
        assert found.status_code == 200, found.text
        amended = await client.post(
            f"/api/sessions/{sid}/amendments",
            json={"target_seq": entry, "changes": {"severity": "moderate"},
                  "reason": "flushing and vomiting that went on: moderate"},
        )  # fmt: skip
        assert amended.status_code == 201, amended.text
        (row,) = await reaction_rows(db_session, sid)
        assert (row.severity, row.reaction_type, row.premedicated) == ("moderate", "physiologic", False)  # fmt: skip
        assert (await facts(db_session, sid)).documentation_missing == 5

        ended = await client.post(
            f"/api/sessions/{sid}/end", json={"outcome": "cancelled", "reason": "clinical"}
        )
        assert ended.status_code == 200, ended.text
    s = await facts(db_session, sid)
    assert (s.agent_class, s.injection_verified) == ("iodinated", False)
    assert (s.documentation_required, s.documentation_missing) == (13, 5)
    assert (s.verified_live_s, s.link_gap_count) == (None, None)  # never verified live


async def test_ending_before_the_injection_scores_what_the_record_still_asks(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """A session cancelled before any injection is scored at its end on what it still asks (its
    accession number), not on what only an injection has."""
    tech = await login(server, "tech")
    session = await open_session(server, tech, room_id=await room_id(server, tech, LAKE))
    sid = session["id"]
    async with api(server, tech) as client:
        saved = await client.put(
            f"/api/sessions/{sid}/exam", json={"agent": "iohexol-300", "volume_ml": 80}
        )
        assert saved.status_code == 200, saved.text
        assert (await facts(db_session, sid)).documentation_missing == 3
        ended = await client.post(
            f"/api/sessions/{sid}/end",
            json={"outcome": "cancelled", "reason": "patient_declined"},
        )
        assert ended.status_code == 200, ended.text
    s = await facts(db_session, sid)
    assert (s.agent_class, s.injected_at, s.injection_verified) == ("iodinated", None, None)
    assert (s.documentation_required, s.documentation_missing) == (1, 0)


async def test_an_injection_under_verified_supervision_is_kept_as_verified(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """At NORTH (injections only under verified supervision) a gadolinium exam injected while the
    radiologist is verified live: class gadolinium, verified; the session completed keeps its
    verified seconds and gaps as columns, and its record is scored at the end."""
    async with verified_call(server) as (sid, tech, _rad, _t, _r):
        await until_recorded_live(db_session, sid)
        async with api(server, tech) as client:
            saved = await client.put(
                f"/api/sessions/{sid}/exam", json={"agent": "gadobutrol", "volume_ml": 7.5}
            )
            assert saved.status_code == 200, saved.text
            injected = await client.post(f"/api/sessions/{sid}/injection")
            assert injected.status_code == 201, injected.text
            assert injected.json()["verified"] is True
            ended = await client.post(f"/api/sessions/{sid}/end", json={"outcome": "completed"})
            assert ended.status_code == 200, ended.text
    s = await facts(db_session, sid)
    assert (s.agent_class, s.injection_verified) == ("gadolinium", True)
    assert s.injected_at is not None
    # the coverage stored at the end, its figures as columns too
    assert s.coverage is not None
    assert s.coverage["measured"] is True
    assert s.verified_live_s == s.coverage["verified_live_s"]
    assert s.link_gap_count == s.coverage["gap_count"]
    # NORTH's 22 fields, with no reaction 9 asked: the IV site, delivery and checklist missing
    assert (s.documentation_required, s.documentation_missing) == (9, 3)
