"""Documentation completeness (issue 10 item 7): which of the facility's required documentation
fields (``signaling.directory.exam_setup.DOCUMENTATION_FIELDS``) a record has.

A pure function of the ``RecordView``. The rules, field by field:

- Text fields (``accession_number``, ``route``, ``iv_site``, ``delivery``, ``reaction.instructions``,
  ``reaction.handoff``) are present when they hold more than whitespace.
- ``agent``: a formulary product was chosen; ``volume``: a volume was recorded.
- ``checklist``: the record has checklist items and every one is confirmed.
- ``injection_time``: the injection was recorded ("Injecting now").
- ``supervising_radiologist``: a radiologist joined (named on the record and a join time).
- Yes/no and choice fields (``reaction.allergy_recorded``, ``reaction.recommendation``,
  ``reaction.premedicated``, ``reaction.type``, ``reaction.severity``, ``reaction.outcome``) are present
  once answered: "no" and "none" are answers. This scores the documentation, not the care.
  ``reaction.premedicated`` is answered on the reaction or, failing that, on the exam.
- ``reaction.manifestations``: at least one sign; ``reaction.vitals``: at least one set of vital signs
  with a measured value (every set carries its time).
- ``reaction.treatments``: at least one treatment, or a note on the reaction that starts with
  "no treatment" (any case, after leading spaces: "No treatment needed", "No treatment: resolved on
  its own"). A form offering "none needed" should write such a note.
- ``reaction.intervention``: the server stamped the radiologist's first action after the onset.

Which fields apply: ``reaction.*`` fields only when the record has a reaction, and then each reaction
is checked (a field is missing if any reaction lacks it). A session cancelled before any injection
is not scored on what only an injection has (the agent, volume, route, IV site, delivery, injection
time, checklist and supervising radiologist): its accession number and any reaction still count.
``Completeness.required`` holds the fields that applied, in the facility's order, so the score is
the share of those present.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from signaling.directory.exam_setup import DOCUMENTATION_FIELDS
from signaling.record.view import Completeness, Reaction, RecordView

NO_TREATMENT_NOTE = "no treatment"  # a reaction note starting with this documents "none needed"

# What only an injection has: not asked of a session cancelled before one.
INJECTION_FIELDS = frozenset(
    {
        "agent",
        "volume",
        "route",
        "iv_site",
        "delivery",
        "injection_time",
        "checklist",
        "supervising_radiologist",
    }
)


def _text(value: str | None) -> bool:
    return value is not None and value.strip() != ""


def _checklist(view: RecordView) -> bool:
    return bool(view.checklist) and all(item.confirmed for item in view.checklist)


_RECORD_RULES: dict[str, Callable[[RecordView], bool]] = {
    "accession_number": lambda v: _text(v.exam.accession_number),
    "agent": lambda v: v.exam.agent is not None,
    "volume": lambda v: v.exam.volume_ml is not None,
    "route": lambda v: _text(v.exam.route),
    "iv_site": lambda v: _text(v.exam.iv_site),
    "delivery": lambda v: _text(v.exam.delivery),
    "checklist": _checklist,
    "injection_time": lambda v: v.injection is not None,
    "supervising_radiologist": lambda v: v.radiologist is not None and v.joined_at is not None,
}


def treatments_documented(reaction: Reaction) -> bool:
    """Treatments recorded, or a note saying none were needed (see the module's rule)."""
    return bool(reaction.treatments) or any(
        note.strip().lower().startswith(NO_TREATMENT_NOTE) for note in reaction.notes
    )


def _vitals(reaction: Reaction) -> bool:
    return any(
        value is not None
        for v in reaction.vitals
        for value in (v.systolic, v.diastolic, v.heart_rate, v.respiratory_rate, v.spo2)
    )


_REACTION_RULES: dict[str, Callable[[Reaction, RecordView], bool]] = {
    "reaction.onset": lambda r, v: r.onset_at is not None,
    "reaction.type": lambda r, v: r.type is not None,
    "reaction.severity": lambda r, v: r.severity is not None,
    "reaction.manifestations": lambda r, v: bool(r.manifestations),
    "reaction.treatments": lambda r, v: treatments_documented(r),
    "reaction.vitals": lambda r, v: _vitals(r),
    "reaction.outcome": lambda r, v: r.outcome is not None,
    "reaction.instructions": lambda r, v: _text(r.instructions),
    "reaction.allergy_recorded": lambda r, v: r.allergy_recorded is not None,
    "reaction.recommendation": lambda r, v: r.recommendation is not None,
    "reaction.premedicated": lambda r, v: (
        r.premedicated is not None or v.exam.premedicated is not None
    ),
    "reaction.handoff": lambda r, v: _text(r.handoff),
    "reaction.intervention": lambda r, v: r.first_action_at is not None,
}

if _RECORD_RULES.keys() | _REACTION_RULES.keys() != DOCUMENTATION_FIELDS.keys():
    raise RuntimeError("completeness rules and DOCUMENTATION_FIELDS name different fields")


def _cancelled_before_injection(view: RecordView) -> bool:
    return view.outcome == "cancelled" and view.injection is None


def applies(name: str, view: RecordView) -> bool:
    """Whether a documentation field is asked of this record (the module's rule)."""
    if name.startswith("reaction."):
        return bool(view.reactions)
    return not (name in INJECTION_FIELDS and _cancelled_before_injection(view))


def score(view: RecordView, required: Sequence[str]) -> Completeness:
    """Which of ``required`` (names of ``DOCUMENTATION_FIELDS``) the record has.

    Raises ``ValueError`` naming any unknown field (the directory file refuses them, so this is a
    programming error). Repeated names count once.
    """
    unknown = [name for name in required if name not in DOCUMENTATION_FIELDS]
    if unknown:
        raise ValueError(
            f"unknown documentation fields {', '.join(unknown)}; "
            f"expected some of {', '.join(DOCUMENTATION_FIELDS)}"
        )
    asked = tuple(name for name in dict.fromkeys(required) if applies(name, view))
    missing = tuple(name for name in asked if not _present(name, view))
    return Completeness(required=asked, missing=missing)


def _present(name: str, view: RecordView) -> bool:
    record_rule = _RECORD_RULES.get(name)
    if record_rule is not None:
        return record_rule(view)
    rule = _REACTION_RULES[name]
    return all(rule(reaction, view) for reaction in view.reactions)


def missing_words(completeness: Completeness) -> list[str]:
    """The missing fields as a person reads them ("IV site", "handoff / transfer of care")."""
    return [DOCUMENTATION_FIELDS.get(name, name.replace("_", " ")) for name in completeness.missing]
