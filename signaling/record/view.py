"""A session's record as people read it: every entry folded into one view, names not ids.

``signaling.record.store.record_view`` builds it from the database (the session, its pages, its
chained entries with amendments applied); the printout (HTML, PDF, JSON), the FHIR export and the
completeness score all read this and nothing else, so they always agree.

Times are aware UTC datetimes; the printout shows them in the facility's time zone as well.
Amended values are the amended ones; each ``Amendment`` keeps what stood before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from signaling.directory.exam_setup import AgentClass


class ReactionType(StrEnum):
    ALLERGIC_LIKE = "allergic_like"
    PHYSIOLOGIC = "physiologic"


class Severity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


class Escalation(StrEnum):
    CODE_TEAM = "code_team"
    EMS = "ems"
    ED = "ed"


class ReactionOutcome(StrEnum):
    RESOLVED_ON_SITE = "resolved_on_site"
    TRANSFERRED_ED = "transferred_ed"
    ADMITTED = "admitted"
    DIED = "died"


class Recommendation(StrEnum):
    NONE = "none"
    SWITCH_AGENT = "switch_agent"
    PREMEDICATE = "premedicate"
    AVOID_CLASS = "avoid_class"


@dataclass(frozen=True)
class Person:
    id: int
    name: str  # full name, as the directory gives it
    credentials: str = ""  # "MD", "RT(R)(CT)"


@dataclass(frozen=True)
class LicenseLine:
    state: str
    number: str
    expires_on: date


@dataclass(frozen=True)
class Agent:
    """One product of the facility's formulary (the directory file)."""

    code: str  # the formulary's own code, e.g. "OMNI350"
    agent_class: AgentClass
    product: str  # brand, e.g. "Omnipaque 350"
    generic: str  # e.g. "iohexol"
    concentration: str  # e.g. "350 mgI/mL"


@dataclass(frozen=True)
class Exam:
    accession_number: str
    modality: str  # CT, MR
    agent: Agent | None = None
    volume_ml: float | None = None
    route: str | None = None  # "intravenous"
    iv_site: str | None = None  # "left antecubital"
    delivery: str | None = None  # "injector" or "hand"
    rate_ml_s: float | None = None
    premedicated: bool | None = None
    recorded_by: Person | None = None
    recorded_at: datetime | None = None


@dataclass(frozen=True)
class ChecklistItem:
    code: str  # "screening_form", "consent", ... or a facility's own
    label: str  # as the page shows it
    confirmed: bool = False
    by: Person | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class Injection:
    at: datetime  # stamped by the server
    by: Person
    verified: bool  # the radiologist's link verified two-way live at that second
    link: str  # in words: "verified two-way live" or why not


@dataclass(frozen=True)
class Treatment:
    at: datetime
    drug: str
    dose: str  # as written, e.g. "0.3 mg"; Standby never computes one
    route: str  # "IM", "IV", "inhaled", ...
    given_by: str  # who gave it, as written
    recorded_by: Person


@dataclass(frozen=True)
class Vitals:
    at: datetime
    recorded_by: Person
    systolic: int | None = None  # mmHg
    diastolic: int | None = None
    heart_rate: int | None = None  # /min
    respiratory_rate: int | None = None  # /min
    spo2: int | None = None  # %


@dataclass(frozen=True)
class EscalationLine:
    at: datetime
    kind: Escalation
    recorded_by: Person


@dataclass(frozen=True)
class Reaction:
    seq: int  # the number (id) of the entry that opened it: how routes name the reaction
    onset_at: datetime
    reported_by: Person
    type: ReactionType | None = None
    severity: Severity | None = None
    manifestations: tuple[str, ...] = ()  # codes of signaling/record/codes.yaml
    treatments: tuple[Treatment, ...] = ()
    vitals: tuple[Vitals, ...] = ()
    escalations: tuple[EscalationLine, ...] = ()
    outcome: ReactionOutcome | None = None
    instructions: str | None = None  # what the patient was told
    allergy_recorded: bool | None = None  # allergy list updated with the specific agent
    recommendation: Recommendation | None = None
    premedicated: bool | None = None
    handoff: str | None = None  # transfer of care: to whom, what was said
    notes: tuple[str, ...] = ()
    stat_paged_at: datetime | None = None  # every tier paged at once (no radiologist live)
    first_action_at: datetime | None = None  # the radiologist's first action after onset
    first_action: str | None = None  # "acknowledged", "joined", "note"
    first_action_by: Person | None = None

    @property
    def breakthrough(self) -> bool:
        """A reaction despite premedication."""
        return bool(self.premedicated)

    @property
    def onset_to_action_s(self) -> float | None:
        if self.first_action_at is None:
            return None
        return (self.first_action_at - self.onset_at).total_seconds()


@dataclass(frozen=True)
class Amendment:
    seq: int
    at: datetime
    by: Person
    reason: str
    target_seq: int  # the number (id) of the entry it corrects
    changes: dict[str, tuple[object, object]]  # field -> (as it stood, as amended)


@dataclass(frozen=True)
class PageLine:
    at: datetime
    person: str
    channel: str  # in_app, sms, voice
    outcome: str  # delivered, failed, voicemail, accepted, cancelled, ...
    tier: int  # from 1


@dataclass(frozen=True)
class LinkGap:
    start: datetime
    end: datetime | None  # None: still open when the session ended
    cause: str
    seconds: float


@dataclass(frozen=True)
class TimelineLine:
    seq: int  # the entry's number (id)
    at: datetime
    what: str  # plain words: "Dr Ray Diaz accepted (web)"
    by: Person | None = None


@dataclass(frozen=True)
class Completeness:
    required: tuple[str, ...]  # field names, as ``completeness.FIELDS`` names them
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def score(self) -> float:
        """Share of the required fields present, 0..1 (1 when nothing is required)."""
        if not self.required:
            return 1.0
        return 1 - len(self.missing) / len(self.required)


@dataclass(frozen=True)
class PriorReaction:
    """A reaction recorded in Standby for the same patient (matched on a keyed digest)."""

    session_id: str
    onset_at: datetime
    facility: str
    agent: Agent | None
    severity: Severity | None
    type: ReactionType | None
    recommendation: Recommendation | None


@dataclass(frozen=True)
class RecordView:
    session_id: str
    facility_code: str
    facility_name: str
    facility_state: str
    facility_timezone: str
    room: str
    modality: str
    technologist: Person
    radiologist: Person | None
    radiologist_license: LicenseLine | None  # in the facility's state
    state: str  # requested, paging, joined, ended
    outcome: str | None  # completed, cancelled
    cancel_reason: str | None
    cancel_note: str | None
    ended_by: Person | None
    requested_at: datetime
    accepted_at: datetime | None
    joined_at: datetime | None
    ended_at: datetime | None
    join_latency_ms: int | None
    coverage: dict[str, object] | None  # seconds verified live, gaps (sessions.coverage)
    exam: Exam
    checklist: tuple[ChecklistItem, ...] = ()
    injection: Injection | None = None
    reactions: tuple[Reaction, ...] = ()
    amendments: tuple[Amendment, ...] = ()
    pages: tuple[PageLine, ...] = ()
    link_gaps: tuple[LinkGap, ...] = ()
    timeline: tuple[TimelineLine, ...] = ()
    prior_reactions: tuple[PriorReaction, ...] = ()
    completeness: Completeness = field(default_factory=lambda: Completeness((), ()))
    chain_length: int = 0  # entries sealed into the chain
    chain_head: str | None = None  # digest of the last sealed entry (hex sha-256)
    unsealed: int = 0  # entries written but not sealed yet (sealed within a second)
