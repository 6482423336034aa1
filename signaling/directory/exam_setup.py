"""What a facility sets for its exam records, in the directory file (``exam_setup:`` per facility):
its contrast formulary, the items it adds to the pre-injection checklist, the documentation fields it
requires, its approved reaction card and its injection rule. Stored on the facility as JSON.

Standby never suggests a dose: the reaction card is the facility's own, shown read-only beside the
reaction form.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from signaling.storage.models import Facility


class AgentClass(StrEnum):
    IODINATED = "iodinated"
    GADOLINIUM = "gadolinium"


# The checklist every facility confirms before an injection; a facility adds its own items.
STANDARD_CHECKLIST: tuple[tuple[str, str], ...] = (
    ("screening_form", "Screening form done"),
    ("consent", "Consent obtained"),
    ("prior_reactions", "Prior contrast reactions reviewed"),
    ("qualified_person", "Qualified person on site (BLS, can give medications)"),
    ("emergency_kit", "Emergency kit and the facility's reaction card at hand"),
)

# The documentation fields a record can be scored on (signaling.record.completeness): name -> what
# it means in words. ``reaction.*`` fields count only on records with a reaction.
DOCUMENTATION_FIELDS: dict[str, str] = {
    "accession_number": "accession number",
    "agent": "contrast agent (product, generic, concentration)",
    "volume": "volume injected",
    "route": "route",
    "iv_site": "IV site",
    "delivery": "injector or hand",
    "checklist": "pre-injection checklist confirmed",
    "injection_time": "injection time",
    "supervising_radiologist": "supervising radiologist",
    "reaction.onset": "reaction onset time",
    "reaction.type": "reaction type (allergic-like / physiologic)",
    "reaction.severity": "reaction severity",
    "reaction.manifestations": "reaction signs (manifestations)",
    "reaction.treatments": "treatments given (or none)",
    "reaction.vitals": "vital signs with times",
    "reaction.outcome": "outcome",
    "reaction.instructions": "instructions given to the patient",
    "reaction.allergy_recorded": "allergy list updated with the specific agent",
    "reaction.recommendation": "recommendation for next time",
    "reaction.premedicated": "whether the patient was premedicated",
    "reaction.handoff": "handoff / transfer of care",
    "reaction.intervention": "time the radiologist intervened",
}
# From the domain file: what a complete reaction record has, and the exam it belongs to.
DEFAULT_REQUIRED: tuple[str, ...] = tuple(DOCUMENTATION_FIELDS)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"


class FormularyAgent(_Strict):
    code: str = Field(pattern=CODE)
    agent_class: AgentClass
    product: str = Field(min_length=1, max_length=100)  # brand: "Omnipaque 350"
    generic: str = Field(min_length=1, max_length=100)  # "iohexol"
    concentration: str = Field(min_length=1, max_length=40)  # "350 mgI/mL"


class ChecklistAddition(_Strict):
    code: str = Field(pattern=CODE)
    label: str = Field(min_length=1, max_length=200)


class CardSection(_Strict):
    heading: str = Field(min_length=1, max_length=200)
    lines: list[str] = Field(min_length=1, max_length=40)


class ReactionCard(_Strict):
    """The facility's approved reaction card: shown as written, never computed from."""

    title: str = Field(min_length=1, max_length=200)
    approved: str = Field(min_length=1, max_length=200)  # by whom, when, from which source
    sections: list[CardSection] = Field(min_length=1, max_length=30)


class ExamSetup(_Strict):
    formulary: list[FormularyAgent] = []
    checklist: list[ChecklistAddition] = []  # added to STANDARD_CHECKLIST
    required_fields: list[str] = list(DEFAULT_REQUIRED)
    reaction_card: ReactionCard | None = None
    # Refuse to record an injection unless the radiologist's link is verified two-way live.
    require_verified_injection: bool = False

    @model_validator(mode="after")
    def _known_and_unique(self) -> ExamSetup:
        repeated = _repeats([a.code for a in self.formulary])
        if repeated:
            raise ValueError(f"formulary codes repeat: {', '.join(repeated)}")
        added = [item.code for item in self.checklist]
        repeated = _repeats(added)
        if repeated:
            raise ValueError(f"checklist codes repeat: {', '.join(repeated)}")
        standard = sorted({code for code, _ in STANDARD_CHECKLIST} & set(added))
        if standard:
            raise ValueError(
                f"checklist code {', '.join(standard)} repeats a standard item "
                f"(the standard items, always asked: {', '.join(c for c, _ in STANDARD_CHECKLIST)})"
            )
        unknown = sorted(set(self.required_fields) - DOCUMENTATION_FIELDS.keys())
        if unknown:
            raise ValueError(
                f"unknown required_fields {', '.join(unknown)}; "
                f"known: {', '.join(DOCUMENTATION_FIELDS)}"
            )
        repeated = _repeats(self.required_fields)
        if repeated:
            raise ValueError(f"required_fields repeat: {', '.join(repeated)}")
        return self

    def agent(self, code: str) -> FormularyAgent | None:
        return next((a for a in self.formulary if a.code == code), None)

    def checklist_items(self) -> list[tuple[str, str]]:
        return [*STANDARD_CHECKLIST, *((item.code, item.label) for item in self.checklist)]


def _repeats(values: list[str]) -> list[str]:
    return sorted({v for v in values if values.count(v) > 1})


def exam_setup_of(facility: Facility) -> ExamSetup:
    """The facility's exam setup as stored by the directory loader; the defaults (no formulary, the
    standard checklist, every documentation field required, no card, injections not refused) for a
    facility whose file never gave one."""
    if facility.exam_setup is None:
        return ExamSetup()
    return ExamSetup.model_validate(facility.exam_setup)
