"""The exam and reaction record through the real service (issue 10): the exam against the formulary,
the injection stamped with whether the radiologist was verified live, reactions completed as they
come, amendments that keep the original, and bad input that stores nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.record import store
from signaling.sessions import supervision
from signaling.storage.models import Facility, SessionEvent
from tests.live import LiveServer, Socket, api, connect, login
from tests.signaling.helpers import join_request, open_session, stats, until_link

SETUP = {
    "formulary": [
        {
            "code": "OMNI350",
            "agent_class": "iodinated",
            "product": "Omnipaque 350",
            "generic": "iohexol",
            "concentration": "350 mgI/mL",
        },
        {
            "code": "ISO370",
            "agent_class": "iodinated",
            "product": "Isovue 370",
            "generic": "iopamidol",
            "concentration": "370 mgI/mL",
        },
    ],
    "checklist": [{"code": "egfr", "label": "eGFR reviewed"}],
}
EXAM = {"agent": "OMNI350", "volume_ml": 100, "iv_site": "left antecubital", "delivery": "injector"}


async def set_exam_setup(
    db: AsyncSession, facility: str = "North Imaging Center", **extra: Any
) -> None:
    await db.execute(
        update(Facility).where(Facility.name == facility).values(exam_setup=SETUP | extra)
    )
    await db.commit()


async def entries(db: AsyncSession, session_id: str, kind: str) -> list[SessionEvent]:
    db.expire_all()
    found = await db.scalars(
        select(SessionEvent).where(SessionEvent.session_id == session_id, SessionEvent.kind == kind)
    )
    return list(found.all())


async def view(db: AsyncSession, session_id: str) -> Any:
    db.expire_all()
    s = await supervision.load(db, session_id, fresh=True)
    return await store.record_view(db, s, datetime.now(UTC))


@contextlib.asynccontextmanager
async def verified_call(server: LiveServer) -> AsyncIterator[tuple[str, str, str, Socket, Socket]]:
    """A joined session whose link both pages report healthy until it is verified two-way live;
    the pages go on reporting every 0.3 s while the test runs."""
    tech, rad = await login(server, "tech"), await login(server, "drdiaz")
    session = await open_session(server, tech)
    await join_request(server, rad, session["id"])
    async with connect(server, tech) as t, connect(server, rad) as r:
        for ws in (t, r):
            await ws.send({"type": "join", "session_id": session["id"]})
            await ws.expect("joined")
        await t.send({"type": "ice_state", "state": "connected"})
        for ws in (t, r):
            await ws.send({"type": "media_state", "video": True, "audio": True})

        async def report() -> None:
            n = 1
            while True:
                await t.send(stats(n))
                await r.send(stats(n))
                n += 1
                await asyncio.sleep(0.3)

        reporting = asyncio.create_task(report())
        try:
            await until_link(t, lambda m: m["verified"], timeout=8)
            yield session["id"], tech, rad, t, r
        finally:
            reporting.cancel()


async def until_recorded_live(db: AsyncSession, session_id: str) -> None:
    """The radiologist's media evidence reaches the session's row (flushed every 0.5 s)."""
    for _ in range(40):
        db.expire_all()
        s = await supervision.load(db, session_id, fresh=True)
        if s.state == "joined" and s.radiologist_live_at is not None:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the radiologist's media was never recorded live")


async def test_an_injection_under_verified_supervision_says_so(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """Exam, checklist, then "Injecting now" while both directions are verified live: the server's
    time and "verified two-way live" are in the record, and the injection cannot be recorded twice."""
    await set_exam_setup(db_session)
    async with verified_call(server) as (session_id, tech, _rad, _t, _r):
        await until_recorded_live(db_session, session_id)
        async with api(server, tech) as client:
            saved = await client.put(f"/api/sessions/{session_id}/exam", json=EXAM)
            assert saved.status_code == 200, saved.text
            checked = await client.post(
                f"/api/sessions/{session_id}/checklist",
                json={"confirmed": ["screening_form", "consent", "prior_reactions",
                                    "qualified_person", "emergency_kit", "egfr"]},
            )  # fmt: skip
            assert checked.status_code == 200, checked.text
            before = datetime.now(UTC)
            injected = await client.post(f"/api/sessions/{session_id}/injection")
            assert injected.status_code == 201, injected.text
            assert injected.json()["verified"] is True
            assert injected.json()["link"].startswith("verified two-way live")
            again = await client.post(f"/api/sessions/{session_id}/injection")
            assert again.status_code == 409
            assert again.json()["error"] == "recorded"
    record = await view(db_session, session_id)
    assert record.injection is not None
    assert record.injection.verified
    assert before - timedelta(seconds=1) <= record.injection.at <= datetime.now(UTC)
    assert record.exam.agent is not None
    assert record.exam.agent.product == "Omnipaque 350"
    assert all(item.confirmed for item in record.checklist)
    assert [i.code for i in record.checklist][-1] == "egfr"


async def test_an_injection_with_no_radiologist_on_the_line_is_recorded_as_unsupervised(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """Nobody joined yet: the injection is recorded, and the record says it was not under verified
    supervision and why."""
    await set_exam_setup(db_session)
    tech = await login(server, "tech")
    session = await open_session(server, tech)
    async with api(server, tech) as client:
        injected = await client.post(f"/api/sessions/{session['id']}/injection")
    assert injected.status_code == 201, injected.text
    assert injected.json()["verified"] is False
    assert injected.json()["link"] == "no radiologist has joined the session"
    record = await view(db_session, session["id"])
    assert record.injection is not None
    assert not record.injection.verified


async def test_a_facility_requiring_verified_supervision_refuses_and_stores_nothing(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """Where the facility requires it, an injection while the radiologist's link is lost is refused
    with why, and the record holds no injection."""
    await set_exam_setup(db_session, require_verified_injection=True)
    async with verified_call(server) as (session_id, tech, _rad, t, r):
        await r.send({"type": "leave"})  # the radiologist's page is gone
        await until_link(t, lambda m: not m["verified"])
        async with api(server, tech) as client:
            refused = await client.post(f"/api/sessions/{session_id}/injection")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "not_verified_live"
    assert "North Imaging Center records an injection only under verified" in refused.text
    assert await entries(db_session, session_id, "injection") == []


async def test_a_reaction_is_completed_as_it_comes_and_amendments_keep_the_original(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """The technologist taps Reaction; findings, a treatment, vitals and an escalation follow; a
    wrong dose is corrected by an amendment with a reason: the record shows the correction and what
    stood before. The exam, once the injection is recorded, changes only by amendment."""
    await set_exam_setup(db_session)
    tech = await login(server, "tech")
    session = await open_session(server, tech)
    sid = session["id"]
    async with api(server, tech) as client:
        assert (await client.put(f"/api/sessions/{sid}/exam", json=EXAM)).status_code == 200
        assert (await client.post(f"/api/sessions/{sid}/injection")).status_code == 201
        later = await client.put(f"/api/sessions/{sid}/exam", json=EXAM | {"volume_ml": 80})
        assert later.status_code == 409
        assert "amendment" in later.json()["detail"]
        opened = await client.post(f"/api/sessions/{sid}/reactions", json={"severity": "mild"})
        assert opened.status_code == 201, opened.text
        reaction = opened.json()["reaction"]
        base = f"/api/sessions/{sid}/reactions/{reaction}"
        found = await client.post(
            f"{base}/findings",
            json={"type": "allergic_like", "manifestations": ["hives_limited"], "outcome": "resolved_on_site"},
        )  # fmt: skip
        assert found.status_code == 200, found.text
        treated = await client.post(
            f"{base}/treatments",
            json={"drug": "diphenhydramine", "dose": "50 mg", "route": "PO", "given_by": "RN Lee"},
        )
        assert treated.status_code == 201, treated.text
        vitals = await client.post(
            f"{base}/vitals", json={"systolic": 128, "diastolic": 80, "spo2": 98}
        )
        assert vitals.status_code == 201, vitals.text
        amended = await client.post(
            f"/api/sessions/{sid}/amendments",
            json={"target_seq": treated.json()["entry"], "changes": {"dose": "25 mg"},
                  "reason": "dose mistyped: 25 mg given"},
        )  # fmt: skip
        assert amended.status_code == 201, amended.text
    record = await view(db_session, sid)
    (r,) = record.reactions
    assert r.severity is not None
    assert r.severity.value == "mild"
    assert r.type is not None
    assert r.type.value == "allergic_like"
    assert r.manifestations == ("hives_limited",)
    assert r.treatments[0].dose == "25 mg"
    assert r.vitals[0].spo2 == 98
    (correction,) = record.amendments
    assert correction.changes == {"dose": ("50 mg", "25 mg")}
    assert correction.reason == "dose mistyped: 25 mg given"
    assert correction.by.name == "Tina Torres"
    treatments = await entries(db_session, sid, "treatment")
    assert treatments[0].body is not None
    assert treatments[0].body["dose"] == "50 mg"  # the original entry, untouched


async def test_the_patient_identifier_is_never_stored_and_finds_prior_reactions(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """A patient identifier given with the exam is kept only as a keyed digest; the next session
    for the same patient (written differently) lists the earlier reaction with its agent; the
    identifier is in no response and no stored entry."""
    await set_exam_setup(db_session)
    tech = await login(server, "tech")
    first = await open_session(server, tech)
    async with api(server, tech) as client:
        saved = await client.put(
            f"/api/sessions/{first['id']}/exam", json=EXAM | {"patient_id": "MRN-778899"}
        )
        assert "778899" not in saved.text
        await client.post(f"/api/sessions/{first['id']}/reactions", json={"severity": "mild"})
        await client.post(
            f"/api/sessions/{first['id']}/end",
            json={"outcome": "cancelled", "reason": "patient_declined"},
        )
    second = await open_session(server, tech, accession_number="ACC-2002")
    async with api(server, tech) as client:
        await client.put(
            f"/api/sessions/{second['id']}/exam", json=EXAM | {"patient_id": " mrn-778899 "}
        )
        priors = (await client.get(f"/api/sessions/{second['id']}/record/priors")).json()
    (prior,) = priors["priors"]
    assert prior["agent"]["product"] == "Omnipaque 350"
    assert prior["severity"] == "mild"
    for e in await entries(db_session, first["id"], "exam"):
        assert "778899" not in str(e.body)
    s = await supervision.load(db_session, first["id"], fresh=True)
    assert s.patient_digest is not None
    assert "778899" not in s.patient_digest


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("exam", EXAM | {"agent": "IODINE"}, 422, "not in North Imaging Center's formulary"),
        ("exam", EXAM | {"volume_ml": 0}, 422, "volume_ml"),
        ("exam", EXAM | {"volume_ml": 10**400}, 422, "volume_ml"),
        ("exam", EXAM | {"iv_site": "x" * 101}, 422, "iv_site"),
        ("exam", EXAM | {"iv_site": "left\u202earm"}, 422, "direction-override"),
        ("exam", EXAM | {"patient_id": "x" * 65}, 422, "patient_id"),
        ("exam", EXAM | {"extra": 1}, 422, "extra"),
        (
            "checklist",
            {"confirmed": ["consent", "made_up"]},
            422,
            "unknown checklist items made_up",
        ),
        ("checklist", {"confirmed": []}, 422, "confirmed"),
        ("reactions", {"severity": "catastrophic"}, 422, "severity"),
        ("reactions", {"onset_at": "2020-01-01T00:00:00Z"}, 422, "too far in the past"),
        ("reactions", {"onset_at": "2999-01-01T00:00:00Z"}, 422, "in the future"),
        ("reactions", {"onset_at": "2026-12-01T10:00:00"}, 422, "time zone"),
        ("reactions/999999/findings", {"severity": "mild"}, 404, "no reaction 999999"),
        ("reactions/9223372036854775808/findings", {"severity": "mild"}, 422, "reaction"),
        ("amendments", {"target_seq": 1, "changes": {}, "reason": "x"}, 422, "changes"),
        (
            "amendments",
            {"target_seq": 1, "changes": {"a": 1}, "reason": "x"},
            422,
            "cannot be amended",
        ),
        ("reactions/REACTION/treatments", {"drug": "x", "dose": "1"}, 422, "route"),
        (
            "reactions/REACTION/treatments",
            {"drug": "x" * 101, "dose": "1", "route": "IV", "given_by": "me"},
            422,
            "drug",
        ),
        ("reactions/REACTION/vitals", {"spo2": 101}, 422, "spo2"),
        ("reactions/REACTION/vitals", {}, 422, "at least one vital sign"),
        ("reactions/REACTION/escalations", {"kind": "helicopter"}, 422, "kind"),
        ("reactions/REACTION/findings", {}, 422, "at least one finding"),
        (
            "reactions/REACTION/findings",
            {"manifestations": ["iodine_allergy"]},
            422,
            "unknown manifestations iodine_allergy",
        ),
        ("reactions/9223372036854775808/acknowledge", {}, 422, "reaction"),
        (
            "amendments",
            {
                "target_seq": "REACTION",
                "changes": {"onset_at": "2999-01-01T00:00:00Z"},
                "reason": "typo",
            },
            422,
            "in the future",
        ),
        ("amendments", {"target_seq": 2**63, "changes": {"a": 1}, "reason": "x"}, 422, "target"),
    ],
)
async def test_bad_record_input_gets_a_clear_error_and_stores_nothing(
    server: LiveServer,
    db_session: AsyncSession,
    path: str,
    body: dict[str, Any],
    status: int,
    says: str,
) -> None:
    await set_exam_setup(db_session)
    tech = await login(server, "tech")
    session = await open_session(server, tech)
    before = len(await entries(db_session, session["id"], "exam")) + len(
        await entries(db_session, session["id"], "reaction")
    )
    async with api(server, tech) as client:
        if "REACTION" in path or body.get("target_seq") == "REACTION":
            opened = await client.post(f"/api/sessions/{session['id']}/reactions", json={})
            reaction = opened.json()["reaction"]
            path = path.replace("REACTION", str(reaction))
            if body.get("target_seq") == "REACTION":
                body = body | {"target_seq": reaction}
            before += 1
        method = client.put if path == "exam" else client.post
        response = await method(f"/api/sessions/{session['id']}/{path}", json=body)
    assert response.status_code == status, response.text
    assert says in response.text
    after = len(await entries(db_session, session["id"], "exam")) + len(
        await entries(db_session, session["id"], "reaction")
    )
    assert after == before


async def test_only_the_participants_write_the_record(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """The radiologist may record a reaction but not the exam or the injection; a supervisor reads
    but writes nothing; a radiologist of another session cannot even see it."""
    await set_exam_setup(db_session)
    tech, rad = await login(server, "tech"), await login(server, "drdiaz")
    session = await open_session(server, tech)
    sid = session["id"]
    await join_request(server, rad, sid)
    async with api(server, rad) as client:
        assert (await client.put(f"/api/sessions/{sid}/exam", json=EXAM)).status_code == 403
        assert (await client.post(f"/api/sessions/{sid}/injection")).status_code == 403
        assert (await client.post(f"/api/sessions/{sid}/reactions", json={})).status_code == 201
    async with api(server, await login(server, "super")) as client:
        refused = await client.post(f"/api/sessions/{sid}/reactions", json={})
        assert refused.status_code == 403
        assert (await client.get(f"/api/sessions/{sid}/record/verify")).status_code == 200
    async with api(server, await login(server, "drpatel")) as client:
        assert (await client.post(f"/api/sessions/{sid}/reactions", json={})).status_code == 404
    async with api(server) as client:
        assert (await client.post(f"/api/sessions/{sid}/reactions", json={})).status_code == 401
    assert len(await entries(db_session, sid, "reaction")) == 1


async def test_the_radiologists_first_action_after_onset_is_stamped_by_the_server(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """A reaction before anyone joined: the radiologist joining is the first action on it; a
    second reaction is answered by the acknowledgement; a later note changes neither time."""
    await set_exam_setup(db_session)
    tech, rad = await login(server, "tech"), await login(server, "drdiaz")
    session = await open_session(server, tech)
    sid = session["id"]
    async with api(server, tech) as client:
        first = (await client.post(f"/api/sessions/{sid}/reactions", json={})).json()["reaction"]
    await join_request(server, rad, sid)
    async with api(server, tech) as client:
        second = (await client.post(f"/api/sessions/{sid}/reactions", json={})).json()["reaction"]
    async with api(server, rad) as client:
        acked = await client.post(f"/api/sessions/{sid}/reactions/{second}/acknowledge")
        assert acked.status_code == 200, acked.text
        await client.post(
            f"/api/sessions/{sid}/reactions/{second}/findings", json={"note": "watching"}
        )
    async with api(server, tech) as client:
        refused = await client.post(f"/api/sessions/{sid}/reactions/{second}/acknowledge")
        assert refused.status_code == 403
    record = await view(db_session, sid)
    by_id = {r.seq: r for r in record.reactions}
    assert by_id[first].first_action == "joined"
    assert by_id[second].first_action == "acknowledged"
    assert by_id[second].first_action_by is not None
    assert by_id[second].first_action_by.name == "Dr Ray Diaz"
    assert by_id[second].onset_to_action_s is not None
    assert 0 <= by_id[second].onset_to_action_s < 30


async def test_a_corrected_onset_is_an_amendment_and_the_first_time_stays(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """The onset tapped late is corrected with a reason: the reaction shows the corrected time,
    the amendment both times."""
    await set_exam_setup(db_session)
    tech = await login(server, "tech")
    sid = (await open_session(server, tech))["id"]
    async with api(server, tech) as client:
        reaction = (await client.post(f"/api/sessions/{sid}/reactions", json={})).json()["reaction"]
        earlier = (datetime.now(UTC) - timedelta(minutes=2)).replace(microsecond=0)
        amended = await client.post(
            f"/api/sessions/{sid}/amendments",
            json={
                "target_seq": reaction,
                "changes": {"onset_at": earlier.isoformat()},
                "reason": "hives began before the tap",
            },
        )
        assert amended.status_code == 201, amended.text
    record = await view(db_session, sid)
    assert record.reactions[0].onset_at == earlier
    (correction,) = record.amendments
    tapped, corrected = correction.changes["onset_at"]
    assert corrected == earlier.isoformat()
    assert tapped != corrected


async def test_incomplete_records_are_listed_for_follow_up(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """An ended session with a reaction missing its outcome, treatments and more is on the
    supervisor's follow-up list with what is missing in words; a technologist may not read it."""
    await set_exam_setup(db_session)
    tech = await login(server, "tech")
    sid = (await open_session(server, tech))["id"]
    async with api(server, tech) as client:
        await client.post(f"/api/sessions/{sid}/reactions", json={"severity": "mild"})
        await client.post(
            f"/api/sessions/{sid}/end", json={"outcome": "cancelled", "reason": "clinical"}
        )
        assert (await client.get("/api/records/incomplete")).status_code == 403
    async with api(server, await login(server, "super")) as client:
        listed = (await client.get("/api/records/incomplete")).json()["records"]
        bad = await client.get("/api/records/incomplete?limit=0")
    assert bad.status_code == 422
    (item,) = [r for r in listed if r["session_id"] == sid]
    assert "outcome" in item["missing"]
    assert item["score"] < 1
    assert item["record"] == f"/api/sessions/{sid}/record.html"
