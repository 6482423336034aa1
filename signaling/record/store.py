"""A session's record read back: every entry folded into a ``RecordView`` (names, not ids), with
amendments applied and each original kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.accounts.principal import Principal
from signaling.directory.exam_setup import ExamSetup, exam_setup_of
from signaling.pager.summary import paging_summary
from signaling.record.completeness import score
from signaling.record.entries import Kind
from signaling.record.view import (
    Agent,
    Amendment,
    ChecklistItem,
    Escalation,
    EscalationLine,
    Exam,
    Injection,
    LicenseLine,
    LinkGap,
    PageLine,
    Person,
    PriorReaction,
    Reaction,
    ReactionOutcome,
    ReactionType,
    Recommendation,
    RecordView,
    Severity,
    TimelineLine,
    Treatment,
    Vitals,
)
from signaling.sessions import coverage, supervision
from signaling.sessions.state import cancel_reason_of
from signaling.storage.models import License, RecordChain, SessionEvent, SupervisionSession, User

E = TypeVar("E", bound=StrEnum)


def _time(value: object, fallback: datetime) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else fallback


def _enum(kind: type[E], value: object) -> E | None:
    try:
        return kind(str(value)) if value is not None else None
    except ValueError:
        return None


class _Fold:
    """The entries of one session, amended."""

    def __init__(self, entries: Sequence[SessionEvent], people: dict[int, Person]) -> None:
        self.entries = entries
        self.people = people
        self.amended: dict[int, dict[str, Any]] = {}  # entry id -> body as amended
        self.amendments: list[Amendment] = []
        for e in entries:
            if e.kind == Kind.AMENDMENT and e.body:
                target = int(e.body["target"])
                self.amended.setdefault(target, {}).update(e.body["changes"])
                self.amendments.append(
                    Amendment(
                        seq=e.id,
                        at=e.at,
                        by=self.person(e.actor_id),
                        reason=str(e.body["reason"]),
                        target_seq=target,
                        changes={
                            k: (e.body["before"].get(k), v) for k, v in e.body["changes"].items()
                        },
                    )
                )

    def person(self, user_id: int | None) -> Person:
        if user_id is None:
            return Person(0, "Standby")
        return self.people.get(user_id, Person(user_id, f"user {user_id}"))

    def body(self, e: SessionEvent) -> dict[str, Any]:
        return (e.body or {}) | self.amended.get(e.id, {})

    def of(self, *kinds: Kind) -> list[SessionEvent]:
        wanted = {k.value for k in kinds}
        return [e for e in self.entries if e.kind in wanted]


def _exam(fold: _Fold, s: SupervisionSession, setup: ExamSetup) -> Exam:
    saved = fold.of(Kind.EXAM)
    if not saved:
        return Exam(accession_number=s.accession_number, modality=s.room.modality)
    last = saved[-1]
    body = fold.body(last)
    agent = setup.agent(str(body.get("agent")))
    return Exam(
        accession_number=s.accession_number,
        modality=s.room.modality,
        agent=(
            Agent(a.code, a.agent_class, a.product, a.generic, a.concentration)
            if (a := agent) is not None
            else None
        ),
        volume_ml=body.get("volume_ml"),
        route=body.get("route"),
        iv_site=body.get("iv_site"),
        delivery=body.get("delivery"),
        rate_ml_s=body.get("rate_ml_s"),
        premedicated=body.get("premedicated"),
        recorded_by=fold.person(last.actor_id),
        recorded_at=last.at,
    )


def _checklist(fold: _Fold, setup: ExamSetup) -> tuple[ChecklistItem, ...]:
    first: dict[str, SessionEvent] = {}
    for e in fold.of(Kind.CHECKLIST):
        for code in (e.body or {}).get("confirmed", []):
            first.setdefault(code, e)
    return tuple(
        ChecklistItem(
            code,
            label,
            confirmed=code in first,
            by=fold.person(first[code].actor_id) if code in first else None,
            at=first[code].at if code in first else None,
        )
        for code, label in setup.checklist_items()
    )


def _injection(fold: _Fold) -> Injection | None:
    found = fold.of(Kind.INJECTION)
    if not found:
        return None
    e = found[0]
    body = e.body or {}
    return Injection(
        at=e.at, by=fold.person(e.actor_id), verified=bool(body.get("verified")), link=body["link"]
    )


def _reaction(fold: _Fold, opened: SessionEvent) -> Reaction:
    body = fold.body(opened)
    current: dict[str, Any] = {k: body.get(k) for k in ("type", "severity")}
    notes: list[str] = []
    treatments, vitals, escalations = [], [], []
    first_action: SessionEvent | None = None
    stat_at: datetime | None = None
    for e in fold.entries:
        item = fold.body(e)
        if item.get("reaction") != opened.id:
            continue
        if e.kind == Kind.FINDINGS:
            note = item.get("note")
            current |= {k: v for k, v in item.items() if k not in ("reaction", "note")}
            if note:
                notes.append(str(note))
        elif e.kind == Kind.TREATMENT:
            treatments.append(
                Treatment(
                    at=_time(item.get("at"), e.at),
                    drug=item["drug"],
                    dose=item["dose"],
                    route=item["route"],
                    given_by=item["given_by"],
                    recorded_by=fold.person(e.actor_id),
                )
            )
        elif e.kind == Kind.VITALS:
            vitals.append(
                Vitals(
                    at=_time(item.get("at"), e.at),
                    recorded_by=fold.person(e.actor_id),
                    **{
                        k: item.get(k)
                        for k in ("systolic", "diastolic", "heart_rate", "respiratory_rate", "spo2")
                    },
                )
            )
        elif e.kind == Kind.ESCALATION and (kind := _enum(Escalation, item.get("kind"))):
            escalations.append(
                EscalationLine(
                    at=_time(item.get("at"), e.at), kind=kind, recorded_by=fold.person(e.actor_id)
                )
            )
        elif e.kind == Kind.INTERVENTION and first_action is None:
            first_action = e
        elif e.kind == Kind.STAT and stat_at is None:
            stat_at = e.at
    return Reaction(
        seq=opened.id,
        onset_at=_time(body.get("onset_at"), opened.at),
        reported_by=fold.person(opened.actor_id),
        type=_enum(ReactionType, current.get("type")),
        severity=_enum(Severity, current.get("severity")),
        manifestations=tuple(current.get("manifestations") or ()),
        treatments=tuple(sorted(treatments, key=lambda t: t.at)),
        vitals=tuple(sorted(vitals, key=lambda v: v.at)),
        escalations=tuple(sorted(escalations, key=lambda x: x.at)),
        outcome=_enum(ReactionOutcome, current.get("outcome")),
        instructions=current.get("instructions"),
        allergy_recorded=current.get("allergy_recorded"),
        recommendation=_enum(Recommendation, current.get("recommendation")),
        premedicated=current.get("premedicated"),
        handoff=current.get("handoff"),
        notes=tuple(notes),
        stat_paged_at=stat_at,
        first_action_at=first_action.at if first_action else None,
        first_action=(first_action.body or {}).get("how") if first_action else None,
        first_action_by=fold.person(first_action.actor_id) if first_action else None,
    )


_SAID = {
    "accepted": "accepted the request",
    "released": "handed the request back",
    "joined_request": "joined",
    "ice_connected": "connected (ICE)",
    "media_verified": "media verified",
    "media_lost": "media lost",
    "alert_acknowledged": "acknowledged the supervisors' alert",
    Kind.EXAM: "saved the exam",
    Kind.CHECKLIST: "confirmed the checklist",
    Kind.INJECTION: "recorded the injection",
    Kind.REACTION: "recorded a reaction",
    Kind.FINDINGS: "recorded findings",
    Kind.TREATMENT: "recorded a treatment",
    Kind.VITALS: "recorded vital signs",
    Kind.ESCALATION: "recorded an escalation",
    Kind.INTERVENTION: "acted on the reaction",
    Kind.STAT: "paged every tier at once (STAT)",
    Kind.AMENDMENT: "amended the record",
}


def _words(e: SessionEvent, fold: _Fold) -> str:
    who = fold.person(e.actor_id).name if e.actor_id else "Standby"
    if e.kind == "transition":
        return f"{e.from_state or 'new'} -> {e.to_state}"
    if e.kind == "link":
        return f"link: {e.detail}"
    said = _SAID.get(e.kind, e.kind.replace("_", " "))
    extra = ""
    if e.kind == Kind.INJECTION:
        extra = f": {(e.body or {}).get('link')}"
    elif e.kind == Kind.AMENDMENT:
        extra = f": {(e.body or {}).get('reason')}"
    elif e.detail and e.kind in ("accepted", "media_verified", "ice_connected", "released"):
        extra = f" ({e.detail})"
    return f"{who} {said}{extra}"


async def _people(db: AsyncSession, ids: Iterable[int | None]) -> dict[int, Person]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = (await db.scalars(select(User).where(User.id.in_(wanted)))).all()
    return {u.id: Person(u.id, u.full_name, u.credentials or "") for u in rows}


async def _priors(db: AsyncSession, s: SupervisionSession) -> tuple[PriorReaction, ...]:
    if s.patient_digest is None:
        return ()
    others = (
        await db.scalars(
            select(SupervisionSession).where(
                SupervisionSession.patient_digest == s.patient_digest,
                SupervisionSession.id != s.id,
            )
        )
    ).all()
    found: list[PriorReaction] = []
    for other in others:
        view = await _fold_of(db, other)
        exam, fold = view
        for e in fold.of(Kind.REACTION):
            r = _reaction(fold, e)
            found.append(
                PriorReaction(
                    session_id=other.id,
                    onset_at=r.onset_at,
                    facility=other.facility.name,
                    agent=exam.agent,
                    severity=r.severity,
                    type=r.type,
                    recommendation=r.recommendation,
                )
            )
    return tuple(sorted(found, key=lambda p: p.onset_at, reverse=True))


async def _fold_of(db: AsyncSession, s: SupervisionSession) -> tuple[Exam, _Fold]:
    entries = (
        await db.scalars(
            select(SessionEvent).where(SessionEvent.session_id == s.id).order_by(SessionEvent.id)
        )
    ).all()
    fold = _Fold(entries, await _people(db, (e.actor_id for e in entries)))
    return _exam(fold, s, exam_setup_of(s.facility)), fold


async def prior_reactions(
    db: AsyncSession, principal: Principal, session_id: str, now: datetime
) -> tuple[PriorReaction, ...]:
    s = await supervision.visible_session(db, principal, session_id, now)
    return await _priors(db, s)


async def record_view(db: AsyncSession, s: SupervisionSession, now: datetime) -> RecordView:
    """The whole record of ``s`` as of ``now`` (the caller has checked who may see it)."""
    setup = exam_setup_of(s.facility)
    entries = (
        await db.scalars(
            select(SessionEvent).where(SessionEvent.session_id == s.id).order_by(SessionEvent.id)
        )
    ).all()
    ids = [e.actor_id for e in entries] + [s.technologist_id, s.radiologist_id, s.ended_by_id]
    fold = _Fold(entries, await _people(db, ids))
    license_row = None
    if s.radiologist_id is not None:
        license_row = await db.scalar(
            select(License).where(
                License.user_id == s.radiologist_id, License.state == s.facility.state
            )
        )
    summary = await paging_summary(db, s.id)
    pages = tuple(
        PageLine(
            at=datetime.fromisoformat(p["at"]),
            person=p["name"],
            channel=p["channel"],
            outcome=p["status"],
            tier=p["tier"] + 1,  # people count tiers from 1; the pager from 0
        )
        for p in (summary or {}).get("pages", [])
        if p.get("at")
    )
    cover = await coverage.coverage_of(db, s, now)
    gaps = tuple(
        LinkGap(
            start=(start := datetime.fromisoformat(g["start"])),
            end=start + timedelta(seconds=g["seconds"]),
            cause=", ".join(g["causes"]) or "not verified",
            seconds=g["seconds"],
        )
        for g in cover.get("gaps", [])
    )
    head = await db.get(RecordChain, s.id)
    unsealed = await db.scalar(
        select(func.count())
        .select_from(SessionEvent)
        .where(SessionEvent.session_id == s.id, SessionEvent.seq.is_(None))
    )
    view = RecordView(
        session_id=s.id,
        facility_code=s.facility.code,
        facility_name=s.facility.name,
        facility_state=s.facility.state,
        facility_timezone=s.facility.timezone,
        room=s.room.name,
        modality=s.room.modality,
        technologist=fold.person(s.technologist_id),
        radiologist=fold.person(s.radiologist_id) if s.radiologist_id else None,
        radiologist_license=(
            LicenseLine(license_row.state, license_row.number, license_row.expires_on)
            if license_row
            else None
        ),
        state=s.state,
        outcome=s.outcome,
        cancel_reason=cancel_reason_of(s.cancel_reason),
        cancel_note=s.cancel_note,
        ended_by=fold.person(s.ended_by_id) if s.ended_by_id else None,
        requested_at=s.requested_at,
        accepted_at=s.accepted_at,
        joined_at=s.joined_at,
        ended_at=s.ended_at,
        join_latency_ms=(
            int((s.joined_at - s.requested_at).total_seconds() * 1000) if s.joined_at else None
        ),
        coverage=cover,
        exam=_exam(fold, s, setup),
        checklist=_checklist(fold, setup),
        injection=_injection(fold),
        reactions=tuple(_reaction(fold, e) for e in fold.of(Kind.REACTION)),
        amendments=tuple(fold.amendments),
        pages=pages,
        link_gaps=gaps,
        timeline=tuple(
            TimelineLine(
                seq=e.id,
                at=e.at,
                what=_words(e, fold),
                by=fold.person(e.actor_id) if e.actor_id else None,
            )
            for e in entries
        ),
        prior_reactions=await _priors(db, s),
        chain_length=head.length if head else 0,
        chain_head=head.head if head and head.length else None,
        unsealed=int(unsealed or 0),
    )
    return _scored(view, setup)


def _scored(view: RecordView, setup: ExamSetup) -> RecordView:
    return dataclasses.replace(view, completeness=score(view, setup.required_fields))


async def incomplete(
    db: AsyncSession, principal: Principal, now: datetime, limit: int
) -> list[RecordView]:
    """Ended sessions in the caller's scope whose record misses a required field, newest first,
    among the ``limit`` most recent ended sessions: the follow-up list."""
    recent = await supervision.list_sessions(db, principal, limit * 4)
    found = []
    for s in recent:
        if s.state != "ended":
            continue
        view = await record_view(db, s, now)
        if view.completeness.missing:
            found.append(view)
        if len(found) >= limit:
            break
    return found


async def unanswered_reactions(
    db: AsyncSession, s: SupervisionSession, now: datetime
) -> tuple[Reaction, ...]:
    """The session's reactions the radiologist has not acted on yet (no acknowledgement, join or
    note since onset): what a radiologist's page that (re)joins must be alerted to, since the alert
    sent at onset may have found their socket down."""
    view = await record_view(db, s, now)
    return tuple(r for r in view.reactions if r.first_action_at is None)


def lean_view(s: SupervisionSession, entries: Sequence[SessionEvent]) -> RecordView:
    """What the record of ``s`` says (exam, checklist, injection, reactions, completeness) from its
    entries, oldest first, without the pages, coverage, chain or prior reactions, and with people
    as ids: pure, so the record's facts (``signaling.record.facts``) and a migration's back-fill
    read the record exactly as ``record_view`` does."""
    setup = exam_setup_of(s.facility)
    fold = _Fold(entries, {})
    view = RecordView(
        session_id=s.id,
        facility_code=s.facility.code,
        facility_name=s.facility.name,
        facility_state=s.facility.state,
        facility_timezone=s.facility.timezone,
        room=s.room.name,
        modality=s.room.modality,
        technologist=fold.person(s.technologist_id),
        radiologist=fold.person(s.radiologist_id) if s.radiologist_id else None,
        radiologist_license=None,
        state=s.state,
        outcome=s.outcome,
        cancel_reason=cancel_reason_of(s.cancel_reason),
        cancel_note=s.cancel_note,
        ended_by=None,
        requested_at=s.requested_at,
        accepted_at=s.accepted_at,
        joined_at=s.joined_at,
        ended_at=s.ended_at,
        join_latency_ms=None,
        coverage=s.coverage,
        exam=_exam(fold, s, setup),
        checklist=_checklist(fold, setup),
        injection=_injection(fold),
        reactions=tuple(_reaction(fold, e) for e in fold.of(Kind.REACTION)),
    )
    return _scored(view, setup)
