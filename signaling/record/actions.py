"""What the people in the session record: the exam, the checklist, the injection, a reaction and what
was done about it, corrections. Each function checks who may, validates against the facility's exam
setup, and appends one entry (caller commits); nothing is ever updated in place. The record's facts on
the session, which the reports count, follow each entry (``signaling.record.facts``).

Who may write: the session's technologist and its supervising radiologist (the exam, checklist and
injection are the technologist's); a reaction's findings may be completed after the session ended,
for ``COMPLETE_AFTER``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.engine import Engine, Page
from signaling.accounts.principal import Principal
from signaling.common.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    NotVerifiedLive,
    RecordFixed,
)
from signaling.directory.exam_setup import ExamSetup, exam_setup_of
from signaling.pager import summons
from signaling.record import codes, facts
from signaling.record.entries import (
    AMENDABLE,
    AmendmentIn,
    ChecklistIn,
    EscalationIn,
    ExamIn,
    FindingsIn,
    Kind,
    ReactionIn,
    TreatmentIn,
    VitalsIn,
)
from signaling.record.view import Severity
from signaling.sessions import call_record, supervision
from signaling.sessions.coverage import VERIFIED
from signaling.sessions.state import SessionState
from signaling.storage.models import SessionEvent, SupervisionSession

log = logging.getLogger(__name__)

COMPLETE_AFTER = timedelta(days=7)  # findings, treatments, vitals after the session ended
LIVE_EVIDENCE_S = 6.0  # the radiologist's media seen this recently (written every 2 s)
ONSET_PAST = timedelta(hours=2)  # how far back an onset may be put
CLOCK_SKEW = timedelta(seconds=60)  # how far ahead of the server a page's clock may be


def exam_setup(s: SupervisionSession) -> ExamSetup:
    return exam_setup_of(s.facility)


def patient_digest(key: str, patient_id: str) -> str:
    """A keyed digest of the identifier as the facility writes it (case and spaces ignored)."""
    normal = "".join(patient_id.split()).upper()
    return hmac.new(key.encode(), b"patient:" + normal.encode(), hashlib.sha256).hexdigest()


async def entries_of(db: AsyncSession, session_id: str, *kinds: Kind) -> list[SessionEvent]:
    query = select(SessionEvent).where(SessionEvent.session_id == session_id)
    if kinds:
        query = query.where(SessionEvent.kind.in_([k.value for k in kinds]))
    return list((await db.scalars(query.order_by(SessionEvent.id))).all())


def _add(
    db: AsyncSession,
    s: SupervisionSession,
    kind: Kind,
    body: dict[str, Any],
    now: datetime,
    actor: Principal,
) -> SessionEvent:
    entry = supervision.new_event(s, kind.value, now, actor, detail=kind.value.replace("_", " "))
    entry.body = body
    db.add(entry)
    return entry


async def _written(db: AsyncSession, s: SupervisionSession, entry: SessionEvent) -> SessionEvent:
    """An entry is written: the record's facts on the session follow it (``facts``)."""
    await facts.refresh(db, s)
    return entry


async def _session_for(
    db: AsyncSession, principal: Principal, session_id: str, now: datetime, *, technologist: bool
) -> SupervisionSession:
    s = await supervision.visible_session(db, principal, session_id, now)
    role = supervision.participant_role(s, principal)
    if role is None or (technologist and role != "technologist"):
        who = "the session's technologist" if technologist else "a participant of the session"
        raise Forbidden(f"only {who} records this")
    return s


def _open_or_recent(s: SupervisionSession, now: datetime) -> None:
    if (
        s.state == SessionState.ENDED
        and s.ended_at is not None
        and now - s.ended_at > COMPLETE_AFTER
    ):
        raise RecordFixed(
            f"the session ended more than {COMPLETE_AFTER.days} days ago: its record is closed"
        )


def _not_ended(s: SupervisionSession) -> None:
    if s.state == SessionState.ENDED:
        raise RecordFixed("the session has ended: correct the exam with an amendment")


async def _injection(db: AsyncSession, session_id: str) -> SessionEvent | None:
    found = await entries_of(db, session_id, Kind.INJECTION)
    return found[0] if found else None


# --- the exam --------------------------------------------------------------------------------


async def save_exam(
    db: AsyncSession, principal: Principal, session_id: str, exam: ExamIn, now: datetime, key: str
) -> SessionEvent:
    """The exam as the technologist has it now (saved again until the injection is recorded)."""
    s = await _session_for(db, principal, session_id, now, technologist=True)
    _not_ended(s)
    setup = exam_setup(s)
    if setup.agent(exam.agent) is None:
        offered = ", ".join(f"{a.code} ({a.product})" for a in setup.formulary) or "none"
        raise InvalidInput(
            f"agent {exam.agent!r} is not in {s.facility.name}'s formulary; it has: {offered}"
        )
    if await _injection(db, session_id) is not None:
        raise RecordFixed("the injection is recorded: correct the exam with an amendment")
    if exam.patient_id is not None:
        s.patient_digest = patient_digest(key, exam.patient_id)
    body = exam.model_dump(mode="json", exclude={"patient_id"})
    body["patient_given"] = exam.patient_id is not None or s.patient_digest is not None
    return await _written(db, s, _add(db, s, Kind.EXAM, body, now, principal))


async def confirm_checklist(
    db: AsyncSession, principal: Principal, session_id: str, items: ChecklistIn, now: datetime
) -> SessionEvent:
    s = await _session_for(db, principal, session_id, now, technologist=True)
    _not_ended(s)
    known = dict(exam_setup(s).checklist_items())
    unknown = sorted(set(items.confirmed) - known.keys())
    if unknown:
        raise InvalidInput(
            f"unknown checklist items {', '.join(unknown)}; the facility's: {', '.join(known)}"
        )
    confirmed = {"confirmed": sorted(set(items.confirmed))}
    return await _written(db, s, _add(db, s, Kind.CHECKLIST, confirmed, now, principal))


# --- the injection ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkAtInjection:
    verified: bool
    link: str  # in words: VERIFIED or why not


async def link_now(db: AsyncSession, s: SupervisionSession, now: datetime) -> LinkAtInjection:
    """Whether, at ``now``, the radiologist's link is verified two-way live: the session joined, the
    technologist's watch last recorded "verified two-way live", and the radiologist's media seen
    within ``LIVE_EVIDENCE_S`` (so a watch that stopped recording cannot vouch)."""
    if s.radiologist_id is None or s.joined_at is None:
        return LinkAtInjection(False, "no radiologist has joined the session")
    if s.state != SessionState.JOINED:
        return LinkAtInjection(
            False, f"the session is {s.state}: the radiologist is not on the line"
        )
    last = await db.scalar(
        select(SessionEvent.detail)
        .where(SessionEvent.session_id == s.id, SessionEvent.kind == "link")
        .order_by(SessionEvent.at.desc(), SessionEvent.id.desc())
        .limit(1)
    )
    if last is None:
        return LinkAtInjection(False, "the link has not been verified yet")
    if not last.startswith(VERIFIED):
        return LinkAtInjection(False, f"the link is not verified: {last}")
    seen = s.radiologist_live_at
    if seen is None or (now - seen).total_seconds() > LIVE_EVIDENCE_S:
        ago = "never" if seen is None else f"{(now - seen).total_seconds():.0f} s ago"
        return LinkAtInjection(False, f"the radiologist's media was last seen {ago}")
    return LinkAtInjection(True, last)


async def record_injection(
    db: AsyncSession, principal: Principal, session_id: str, now: datetime
) -> SessionEvent:
    """ "Injecting now": the server's time, and whether the radiologist was verified live at it.
    Where the facility requires verified supervision, an unverified injection is refused (409
    ``not_verified_live``, saying why) and nothing is stored."""
    s = await _session_for(db, principal, session_id, now, technologist=True)
    if s.state == SessionState.ENDED:
        raise RecordFixed("the session has ended: an injection is recorded in an open session")
    if await _injection(db, session_id) is not None:
        raise RecordFixed("the injection is already recorded for this session")
    link = await link_now(db, s, now)
    if not link.verified and exam_setup(s).require_verified_injection:
        raise NotVerifiedLive(
            f"{s.facility.name} records an injection only under verified two-way supervision: "
            f"{link.link}"
        )
    exams = await entries_of(db, session_id, Kind.EXAM)
    body = {
        "verified": link.verified,
        "link": link.link[:200],
        "radiologist_id": s.radiologist_id if link.verified else None,
        "exam_saved": bool(exams),
    }
    log.info("session %s: injection recorded (verified %s)", s.id, link.verified)
    return await _written(db, s, _add(db, s, Kind.INJECTION, body, now, principal))


# --- reactions -------------------------------------------------------------------------------


def _moment(given: datetime | None, now: datetime, what: str) -> datetime:
    if given is None:
        return now
    if given.tzinfo is None:
        raise InvalidInput(f"{what} needs a time zone (an ISO-8601 time with Z or an offset)")
    if given > now + CLOCK_SKEW:
        raise InvalidInput(f"{what} is in the future")
    if given < now - ONSET_PAST - COMPLETE_AFTER:
        raise InvalidInput(f"{what} is too far in the past")
    return given


@dataclass(frozen=True)
class Opened:
    entry: SessionEvent
    session: SupervisionSession
    summons: bool  # moderate or severe with no radiologist verified live: page every tier
    alert: bool  # a radiologist is in the session: alert them


async def open_reaction(
    db: AsyncSession, principal: Principal, session_id: str, reaction: ReactionIn, now: datetime
) -> Opened:
    """ "Reaction": onset now (or as given), from either participant's page."""
    s = await _session_for(db, principal, session_id, now, technologist=False)
    _open_or_recent(s, now)
    onset = _moment(reaction.onset_at, now, "the onset")
    if onset < now - ONSET_PAST:
        raise InvalidInput(f"the onset is more than {ONSET_PAST} ago: record it with a note")
    body = reaction.model_dump(mode="json") | {"onset_at": onset.isoformat()}
    entry = _add(db, s, Kind.REACTION, body, now, principal)
    await db.flush()
    await _radiologist_acted(db, s, principal, "reported", now)
    await _written(db, s, entry)
    return await _summons(db, s, entry, reaction.severity, now)


async def _radiologist_acted(
    db: AsyncSession, s: SupervisionSession, principal: Principal, how: str, now: datetime
) -> None:
    """Anything the session's radiologist records on a reaction is their first action on it."""
    if supervision.participant_role(s, principal) == "radiologist":
        await db.flush()
        await intervene(db, principal, s.id, how, now)


async def _summons(
    db: AsyncSession,
    s: SupervisionSession,
    entry: SessionEvent,
    severity: Severity | None,
    now: datetime,
) -> Opened:
    serious = severity in (Severity.MODERATE, Severity.SEVERE)
    if not serious or s.state == SessionState.ENDED:
        return Opened(entry, s, summons=False, alert=s.state == SessionState.JOINED)
    link = await link_now(db, s, now)
    return Opened(entry, s, summons=not link.verified, alert=s.radiologist_id is not None)


async def reaction_entry(db: AsyncSession, session_id: str, entry_id: int) -> SessionEvent:
    """The reaction opened by entry ``entry_id`` of this session."""
    found = await db.scalar(
        select(SessionEvent).where(
            SessionEvent.session_id == session_id,
            SessionEvent.kind == Kind.REACTION.value,
            SessionEvent.id == entry_id,
        )
    )
    if found is None:
        raise NotFound(f"no reaction {entry_id} in this session")
    return found


async def add_findings(
    db: AsyncSession,
    principal: Principal,
    session_id: str,
    reaction_id: int,
    findings: FindingsIn,
    now: datetime,
) -> Opened:
    s = await _session_for(db, principal, session_id, now, technologist=False)
    _open_or_recent(s, now)
    opened = await reaction_entry(db, session_id, reaction_id)
    given = findings.model_dump(mode="json", exclude_none=True)
    if not given:
        raise InvalidInput("give at least one finding")
    if findings.manifestations is not None:
        known = codes.manifestations()
        unknown = sorted(set(findings.manifestations) - known.keys())
        if unknown:
            raise InvalidInput(f"unknown manifestations {', '.join(unknown)}")
    entry = _add(db, s, Kind.FINDINGS, given | {"reaction": opened.id}, now, principal)
    await _radiologist_acted(db, s, principal, "note", now)
    await _written(db, s, entry)
    was = await _severity_before(db, session_id, opened, entry)
    escalated = findings.severity is not None and _serious(findings.severity) and not was
    if escalated:
        return await _summons(db, s, entry, findings.severity, now)
    return Opened(entry, s, summons=False, alert=False)


def _serious(severity: Severity | None) -> bool:
    return severity in (Severity.MODERATE, Severity.SEVERE)


async def _severity_before(
    db: AsyncSession, session_id: str, opened: SessionEvent, latest: SessionEvent
) -> bool:
    """Whether the reaction was already moderate or severe before ``latest``."""
    if _serious(_severity((opened.body or {}).get("severity"))):
        return True
    for e in await entries_of(db, session_id, Kind.FINDINGS):
        body = e.body or {}
        earlier = e.id != latest.id and body.get("reaction") == opened.id
        if earlier and _serious(_severity(body.get("severity"))):
            return True
    return False


def _severity(value: object) -> Severity | None:
    return (
        Severity(value) if isinstance(value, str) and value in Severity._value2member_map_ else None
    )


async def add_to_reaction(
    db: AsyncSession,
    principal: Principal,
    session_id: str,
    reaction_id: int,
    item: TreatmentIn | VitalsIn | EscalationIn,
    now: datetime,
) -> SessionEvent:
    s = await _session_for(db, principal, session_id, now, technologist=False)
    _open_or_recent(s, now)
    opened = await reaction_entry(db, session_id, reaction_id)
    at = _moment(item.at, now, "the time")
    kind = {TreatmentIn: Kind.TREATMENT, VitalsIn: Kind.VITALS, EscalationIn: Kind.ESCALATION}[
        type(item)
    ]
    body = item.model_dump(mode="json", exclude_none=True) | {
        "at": at.isoformat(),
        "reaction": opened.id,
    }
    if isinstance(item, VitalsIn) and len(body) <= 2:
        raise InvalidInput("give at least one vital sign")
    entry = _add(db, s, kind, body, now, principal)
    await _radiologist_acted(db, s, principal, "note", now)
    return await _written(db, s, entry)


async def intervene(
    db: AsyncSession, principal: Principal, session_id: str, how: str, now: datetime
) -> SessionEvent | None:
    """The radiologist's first action on each reaction not yet answered: "acknowledged", "joined"
    or "note"; stamped by the server. Returns the last entry written (None: nothing unanswered)."""
    s = await supervision.visible_session(db, principal, session_id, now)
    if supervision.participant_role(s, principal) != "radiologist":
        return None
    reactions = await entries_of(db, session_id, Kind.REACTION)
    answered = {
        (e.body or {}).get("reaction") for e in await entries_of(db, session_id, Kind.INTERVENTION)
    }
    written = None
    for r in reactions:
        if r.id not in answered:
            written = _add(db, s, Kind.INTERVENTION, {"reaction": r.id, "how": how}, now, principal)
    return written if written is None else await _written(db, s, written)


async def acknowledge(
    db: AsyncSession, principal: Principal, session_id: str, reaction_id: int, now: datetime
) -> SessionEvent | None:
    s = await supervision.visible_session(db, principal, session_id, now)
    if supervision.participant_role(s, principal) != "radiologist":
        raise Forbidden("only the session's radiologist acknowledges a reaction alert")
    await reaction_entry(db, session_id, reaction_id)
    return await intervene(db, principal, session_id, "acknowledged", now)


@dataclass(frozen=True)
class Summoned:
    pages: list[Page]  # the STAT's pages, to send once committed
    lost: SupervisionSession | None  # the session, back to paging without a radiologist gone


async def summon(
    db: AsyncSession, pager: Engine, session_id: str, reaction_id: int, now: datetime
) -> Summoned:
    """A serious reaction and nobody verified live: page every tier at once (caller commits). A
    joined radiologist whose media has not been seen for ``LIVE_EVIDENCE_S`` is taken off the
    session first (as the re-page rule would, later), so whoever is paged can join; one whose
    media still arrives stays, alerted in the session, and no STAT goes out."""
    s = await supervision.load(db, session_id, fresh=True)
    lost = None
    if s.state == SessionState.JOINED and s.radiologist_id is not None:
        lost = await call_record.media_lost(
            db, s.id, s.radiologist_id, now - timedelta(seconds=LIVE_EVIDENCE_S), now
        )
        if lost is not None:
            s = lost
        else:
            # Either her media still arrives (she stays, alerted in the session: no STAT), or
            # the server's re-page rule took her off a moment ago (then the STAT goes out).
            s = await supervision.load(db, session_id, fresh=True)
            if s.state == SessionState.JOINED and s.radiologist_id is not None:
                return Summoned([], None)
    if s.state == SessionState.ENDED:
        return Summoned([], None)
    pages = await summons.stat(pager, db, s.id, s.facility_id, now)
    reaction = await reaction_entry(db, session_id, reaction_id)
    entry = supervision.new_event(s, Kind.STAT.value, now, None, detail="every tier paged at once")
    entry.body = {"reaction": reaction.id, "pages": len(pages)}
    db.add(entry)
    return Summoned(pages, lost)


# --- corrections -----------------------------------------------------------------------------


async def amend(
    db: AsyncSession, principal: Principal, session_id: str, amendment: AmendmentIn, now: datetime
) -> SessionEvent:
    """A correction of one entry: its fields as amended, checked as that entry's own body is; the
    entry stays as it was."""
    s = await _session_for(db, principal, session_id, now, technologist=False)
    _open_or_recent(s, now)
    target = await db.scalar(
        select(SessionEvent).where(
            SessionEvent.session_id == session_id,
            SessionEvent.id == amendment.target_seq,
        )
    )
    if target is None:
        raise NotFound(f"no entry {amendment.target_seq} in this session's record")
    try:
        kind = Kind(target.kind)
        model = AMENDABLE[kind]
    except (ValueError, KeyError):
        raise InvalidInput(f"a {target.kind.replace('_', ' ')} entry cannot be amended") from None
    current = {k: v for k, v in (target.body or {}).items() if k in model.model_fields}
    unknown = sorted(set(amendment.changes) - model.model_fields.keys())
    if unknown:
        raise InvalidInput(
            f"a {kind.value.replace('_', ' ')} entry has no fields {', '.join(unknown)}"
        )
    try:
        model.model_validate(current | amendment.changes)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"amended {where}: {first['msg']}") from None
    if kind is Kind.REACTION and "onset_at" in amendment.changes:
        onset = ReactionIn.model_validate({"onset_at": amendment.changes["onset_at"]}).onset_at
        _moment(onset, now, "the corrected onset")
    new_agent = amendment.changes.get("agent") if kind is Kind.EXAM else None
    if new_agent is not None and exam_setup(s).agent(str(new_agent)) is None:
        raise InvalidInput(f"agent {amendment.changes['agent']!r} is not in the formulary")
    body = {
        "target": target.id,
        "target_kind": kind.value,
        "before": {k: current.get(k) for k in amendment.changes},
        "changes": amendment.changes,
        "reason": amendment.reason,
    }
    return await _written(db, s, _add(db, s, Kind.AMENDMENT, body, now, principal))
