"""A finished demo session with a contrast reaction, so `standby demo` has a record to look at:
yesterday at North Imaging Center, Dr Diaz joined in 14 s, the injection was under verified two-way
supervision, a moderate allergic-like reaction four minutes later was treated and resolved, and a
mistyped dose was corrected by an amendment. Written as the entries the service itself writes; the
sealer chains them like any other.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.record import facts
from signaling.record.entries import Kind
from signaling.sessions.coverage import VERIFIED, store
from signaling.storage.models import Facility, Room, SessionEvent, SupervisionSession, User

ACCESSION = "DEMO-REACTION-1"


async def seed_reaction_session(db: AsyncSession, now: datetime) -> str | None:
    """Add the demo session unless it is there (caller commits); its id, None when it was."""
    if await db.scalar(
        select(SupervisionSession.id).where(SupervisionSession.accession_number == ACCESSION)
    ):
        return None
    facility = await db.scalar(select(Facility).where(Facility.code == "NORTH"))
    room = await db.scalar(select(Room).where(Room.code == "CT1"))
    tech = await db.scalar(select(User).where(User.username == "tech"))
    rad = await db.scalar(select(User).where(User.username == "drdiaz"))
    if facility is None or room is None or tech is None or rad is None:
        return None
    start = (now - timedelta(days=1)).replace(hour=15, minute=2, second=10, microsecond=0)

    def at(seconds: float) -> datetime:
        return start + timedelta(seconds=seconds)

    s = SupervisionSession(
        id=str(uuid.uuid4()),
        facility=facility,
        room=room,
        technologist_id=tech.id,
        radiologist_id=rad.id,
        accession_number=ACCESSION,
        state="ended",
        outcome="completed",
        requested_at=at(0),
        paging_at=at(0),
        accepted_at=at(6),
        ice_connected_at=at(11),
        technologist_media_at=at(13),
        radiologist_media_at=at(14),
        joined_at=at(14),
        ended_at=at(1500),
        ended_by_id=rad.id,
        coverage={
            "measured": True,
            "evidence": "server and client",
            "from": at(15).isoformat(),
            "to": at(1500).isoformat(),
            "verified_live_s": 1477.0,
            "gap_s": 8.0,
            "gap_count": 1,
            "gaps": [
                {"start": at(820).isoformat(), "seconds": 8.0, "causes": ["radiologist:lost"]}
            ],
        },
    )
    store(s, s.coverage or {})
    db.add(s)
    await db.flush()
    rows: list[tuple[float, str, int | None, dict[str, Any]]] = [
        (0, "transition", tech.id, {"to_state": "requested"}),
        (0, "transition", None, {"from_state": "requested", "to_state": "paging"}),
        (6, "accepted", rad.id, {"detail": "web"}),
        (8, "joined_request", rad.id, {"detail": "web"}),
        (11, "ice_connected", tech.id, {"detail": "technologist"}),
        (14, "transition", None, {"from_state": "paging", "to_state": "joined"}),
        (15, "link", tech.id, {"detail": VERIFIED}),
        (820, "link", tech.id, {"detail": "radiologist: lost (nothing_arrives)"}),
        (828, "link", tech.id, {"detail": VERIFIED}),
        (1500, "transition", rad.id, {"from_state": "joined", "to_state": "ended"}),
    ]
    for seconds, kind, actor, extra in rows:
        db.add(SessionEvent(session_id=s.id, kind=kind, at=at(seconds), actor_id=actor, **extra))
    exam = {
        "agent": "iohexol-350",
        "volume_ml": 100.0,
        "route": "intravenous",
        "iv_site": "right antecubital, 20 G",
        "delivery": "injector",
        "rate_ml_s": 3.0,
        "premedicated": False,
        "patient_given": False,
    }
    checklist = {
        "confirmed": [
            "consent",
            "egfr_reviewed",
            "emergency_kit",
            "pregnancy_checked",
            "prior_reactions",
            "qualified_person",
            "screening_form",
        ]
    }
    await _entry(db, s, Kind.EXAM, at(40), tech.id, exam)
    await _entry(db, s, Kind.CHECKLIST, at(55), tech.id, checklist)
    await _entry(
        db,
        s,
        Kind.INJECTION,
        at(95),
        tech.id,
        {"verified": True, "link": VERIFIED, "radiologist_id": rad.id, "exam_saved": True},
    )
    reaction = await _entry(
        db,
        s,
        Kind.REACTION,
        at(335),
        tech.id,
        {"onset_at": at(330).isoformat(), "type": "allergic_like", "severity": "moderate"},
    )
    r = {"reaction": reaction.id}
    await _entry(db, s, Kind.INTERVENTION, at(338), rad.id, r | {"how": "acknowledged"})
    await _entry(
        db,
        s,
        Kind.FINDINGS,
        at(360),
        rad.id,
        r | {"manifestations": ["hives_diffuse", "facial_swelling", "itching"]},
    )
    await _entry(db, s, Kind.VITALS, at(370), tech.id, r | _vitals(at(365), 104, 68, 104, 20, 97))
    treated = await _entry(
        db,
        s,
        Kind.TREATMENT,
        at(420),
        tech.id,
        r
        | {
            "at": at(400).isoformat(),
            "drug": "diphenhydramine",
            "dose": "5 mg",
            "route": "IV",
            "given_by": "RN Maria Lee",
        },
    )
    await _entry(db, s, Kind.VITALS, at(900), tech.id, r | _vitals(at(895), 122, 78, 88, 16, 99))
    await _entry(
        db,
        s,
        Kind.FINDINGS,
        at(1380),
        rad.id,
        r
        | {
            "outcome": "resolved_on_site",
            "instructions": "Told to return or call 911 for throat tightness or trouble "
            "breathing; no driving today after diphenhydramine.",
            "allergy_recorded": True,
            "recommendation": "switch_agent",
            "premedicated": False,
            "handoff": "Referring physician Dr Lane told by phone at 15:25; patient left with "
            "her daughter.",
        },
    )
    await _entry(
        db,
        s,
        Kind.AMENDMENT,
        at(1450),
        tech.id,
        {
            "target": treated.id,
            "target_kind": Kind.TREATMENT.value,
            "before": {"dose": "5 mg"},
            "changes": {"dose": "50 mg"},
            "reason": "dose mistyped: 50 mg IV was given",
        },
    )
    await facts.refresh(db, s)
    return s.id


def _vitals(when: datetime, sys: int, dia: int, hr: int, rr: int, spo2: int) -> dict[str, Any]:
    return {
        "at": when.isoformat(),
        "systolic": sys,
        "diastolic": dia,
        "heart_rate": hr,
        "respiratory_rate": rr,
        "spo2": spo2,
    }


async def _entry(
    db: AsyncSession,
    s: SupervisionSession,
    kind: Kind,
    when: datetime,
    actor: int,
    body: dict[str, Any],
) -> SessionEvent:
    e = SessionEvent(
        session_id=s.id,
        kind=kind.value,
        at=when,
        actor_id=actor,
        detail=kind.value.replace("_", " "),
        body=body,
    )
    db.add(e)
    await db.flush()
    return e
