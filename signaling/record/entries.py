"""What each kind of record entry says: the validated bodies of exam-record entries.

Every entry is a ``session_events`` row with ``kind`` one of ``Kind`` and ``body`` one of these
models as JSON. An entry is never changed: the exam can be saved again until the injection, a
reaction's findings are completed as they come (a later value of a field is the current one, the
earlier stays in the record), and a correction of something already recorded is an ``Amendment``
(who, when, why; the original stays readable).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from signaling.record.view import (
    Escalation,
    ReactionOutcome,
    ReactionType,
    Recommendation,
    Severity,
)

TEXT = 500  # longest free text


class Kind(StrEnum):
    EXAM = "exam"
    CHECKLIST = "checklist"
    INJECTION = "injection"
    REACTION = "reaction"  # onset
    FINDINGS = "reaction_findings"  # type, severity, signs, outcome, ... as they come
    TREATMENT = "treatment"
    VITALS = "vitals"
    ESCALATION = "escalation"
    INTERVENTION = "intervention"  # the radiologist's first action after onset
    STAT = "stat_page"  # every tier paged at once
    AMENDMENT = "amendment"


def _plain(value: str) -> str:
    """No control or bidirectional-override characters in what people read back."""
    bad = [c for c in value if (ord(c) < 32 and c not in "\n\t") or 0x202A <= ord(c) <= 0x202E]
    bad += [c for c in value if 0x2066 <= ord(c) <= 0x2069 or ord(c) == 0x7F]
    if bad:
        raise ValueError("text must not hold control or direction-override characters")
    return value.strip()


Text = Annotated[str, Field(min_length=1, max_length=TEXT), AfterValidator(_plain)]
Short = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_plain)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExamBody(_Body):
    agent: str = Field(min_length=1, max_length=40, description="a formulary code")
    volume_ml: float = Field(gt=0, le=500)
    route: Short = "intravenous"
    iv_site: Short | None = None
    delivery: str | None = Field(default=None, pattern="^(injector|hand)$")
    rate_ml_s: float | None = Field(default=None, gt=0, le=20)
    premedicated: bool | None = None


class ExamIn(ExamBody):
    """The exam as the technologist saves it; the patient identifier, when given, is turned into
    a keyed digest at once and never stored, logged or echoed."""

    patient_id: str | None = Field(default=None, min_length=1, max_length=64, repr=False)


class ChecklistIn(_Body):
    confirmed: list[str] = Field(min_length=1, max_length=40, description="item codes")


class ReactionIn(_Body):
    onset_at: datetime | None = Field(default=None, description="default: now (server time)")
    type: ReactionType | None = None
    severity: Severity | None = None


class FindingsIn(_Body):
    """Any subset; each given field becomes the reaction's current value."""

    type: ReactionType | None = None
    severity: Severity | None = None
    manifestations: list[str] | None = Field(default=None, max_length=30)
    outcome: ReactionOutcome | None = None
    instructions: Text | None = None
    allergy_recorded: bool | None = None
    recommendation: Recommendation | None = None
    premedicated: bool | None = None
    handoff: Text | None = None
    note: Text | None = None


class TreatmentIn(_Body):
    at: datetime | None = None
    drug: Short
    dose: Short
    route: Short
    given_by: Short


class VitalsIn(_Body):
    at: datetime | None = None
    systolic: int | None = Field(default=None, ge=20, le=300)
    diastolic: int | None = Field(default=None, ge=10, le=200)
    heart_rate: int | None = Field(default=None, ge=10, le=300)
    respiratory_rate: int | None = Field(default=None, ge=2, le=80)
    spo2: int | None = Field(default=None, ge=30, le=100)


class EscalationIn(_Body):
    at: datetime | None = None
    kind: Escalation


class AmendmentIn(_Body):
    target_seq: int = Field(
        ge=1, le=2**31 - 1, description="the number (id) of the entry corrected"
    )
    changes: dict[str, Any] = Field(min_length=1, max_length=20)
    reason: Text


# Which fields of which entry an amendment may correct, checked by the entry's own model.
AMENDABLE: dict[Kind, type[_Body]] = {
    Kind.EXAM: ExamBody,
    Kind.REACTION: ReactionIn,
    Kind.FINDINGS: FindingsIn,
    Kind.TREATMENT: TreatmentIn,
    Kind.VITALS: VitalsIn,
    Kind.ESCALATION: EscalationIn,
}
