"""Documentation completeness (issue 10 item 7): each rule of ``signaling.record.completeness``
on record views built by hand."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from signaling.directory.exam_setup import DEFAULT_REQUIRED, DOCUMENTATION_FIELDS
from signaling.record.completeness import missing_words, score
from signaling.record.view import Recommendation, RecordView, Vitals
from tests.signaling.record.records import (
    DIAZ,
    NURSE,
    at,
    cancelled,
    checklist,
    exam,
    full,
    reaction,
)


def missing(view: RecordView, required: tuple[str, ...] = DEFAULT_REQUIRED) -> tuple[str, ...]:
    return score(view, required).missing


def test_a_fully_documented_session_with_a_reaction_is_complete() -> None:
    """Every default field present: nothing missing, score 1, every field asked."""
    result = score(full(), DEFAULT_REQUIRED)
    assert result.missing == ()
    assert result.complete
    assert result.score == 1.0
    assert result.required == DEFAULT_REQUIRED


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"exam": exam(accession_number="  ")}, "accession_number"),
        ({"exam": exam(agent=None)}, "agent"),
        ({"exam": exam(volume_ml=None)}, "volume"),
        ({"exam": exam(route="")}, "route"),
        ({"exam": exam(iv_site=None)}, "iv_site"),
        ({"exam": exam(delivery=None)}, "delivery"),
        ({"injection": None}, "injection_time"),
        ({"radiologist": None, "joined_at": None}, "supervising_radiologist"),
        ({"joined_at": None}, "supervising_radiologist"),
        ({"checklist": ()}, "checklist"),
    ],
)
def test_each_missing_exam_field_is_named(changes: dict[str, object], field: str) -> None:
    """A blank, absent or unconfirmed exam field is the one missing (blank text counts as absent;
    a radiologist who accepted but never joined did not supervise)."""
    assert missing(full(**changes)) == (field,)


def test_the_checklist_needs_every_item_confirmed() -> None:
    """One unconfirmed item makes the checklist missing; all confirmed makes it present."""
    items = checklist()
    one_open = (*items[:-1], replace(items[-1], confirmed=False, by=None, at=None))
    assert missing(full(checklist=one_open)) == ("checklist",)
    assert missing(full(checklist=items)) == ()


def test_reaction_fields_are_not_asked_of_a_record_without_a_reaction() -> None:
    """No reaction: no ``reaction.*`` field among those asked, and the score is over the rest."""
    result = score(full(reactions=()), DEFAULT_REQUIRED)
    assert result.missing == ()
    assert not any(name.startswith("reaction.") for name in result.required)
    assert len(result.required) == 9


def test_every_reaction_is_checked() -> None:
    """Two reactions: a field is missing when either lacks it, and named once."""
    view = full(reactions=(reaction(), reaction(seq=50, handoff=None, outcome=None)))
    assert missing(view) == ("reaction.outcome", "reaction.handoff")
    assert missing(full(reactions=(reaction(handoff=" "), reaction(handoff=None)))) == (
        "reaction.handoff",
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"type": None}, "reaction.type"),
        ({"severity": None}, "reaction.severity"),
        ({"manifestations": ()}, "reaction.manifestations"),
        ({"vitals": ()}, "reaction.vitals"),
        ({"outcome": None}, "reaction.outcome"),
        ({"instructions": ""}, "reaction.instructions"),
        ({"allergy_recorded": None}, "reaction.allergy_recorded"),
        ({"recommendation": None}, "reaction.recommendation"),
        ({"handoff": None}, "reaction.handoff"),
        ({"first_action_at": None, "first_action": None}, "reaction.intervention"),
    ],
)
def test_each_missing_reaction_field_is_named(changes: dict[str, object], field: str) -> None:
    """An unanswered reaction field is the one missing."""
    assert missing(full(reactions=(reaction(**changes),))) == (field,)


def test_vitals_need_a_measured_value() -> None:
    """A vitals line with a time and no value documents nothing; one value is enough."""
    empty = Vitals(at(700), NURSE)
    assert missing(full(reactions=(reaction(vitals=(empty,)),))) == ("reaction.vitals",)
    pulse_only = Vitals(at(700), NURSE, heart_rate=90)
    assert missing(full(reactions=(reaction(vitals=(empty, pulse_only)),))) == ()


@pytest.mark.parametrize(
    ("notes", "documented"),
    [
        ((), False),
        (("No treatment needed: hives faded in 5 minutes",), True),
        (("  no treatments required",), True),
        (("Observed 30 min", "NO TREATMENT"), True),
        (("Patient refused treatment",), False),
        (("Asked whether no treatment was fine",), False),
    ],
)
def test_treatments_are_documented_by_a_treatment_or_a_no_treatment_note(
    notes: tuple[str, ...], documented: bool
) -> None:
    """No treatment recorded: present only when a note starts with "no treatment" (any case)."""
    view = full(reactions=(reaction(treatments=(), notes=notes),))
    assert ("reaction.treatments" not in missing(view)) is documented


def test_no_and_none_are_answers() -> None:
    """Allergy list not updated, recommendation none, not premedicated: all answered."""
    answered = reaction(
        allergy_recorded=False, recommendation=Recommendation.NONE, premedicated=False
    )
    assert missing(full(reactions=(answered,))) == ()


def test_premedication_may_be_answered_on_the_exam() -> None:
    """The reaction leaves premedication open: the exam's answer counts; neither is missing."""
    open_question = reaction(premedicated=None)
    assert missing(full(reactions=(open_question,))) == ()
    unanswered = full(reactions=(open_question,), exam=exam(premedicated=None))
    assert missing(unanswered) == ("reaction.premedicated",)


def test_a_session_cancelled_before_injection_is_not_asked_for_what_an_injection_has() -> None:
    """Cancelled before the injection: the accession number is still asked, the agent, checklist
    and radiologist are not; a blank accession number is still missing."""
    result = score(cancelled(), DEFAULT_REQUIRED)
    assert result.required == ("accession_number",)
    assert result.complete
    blank = replace(cancelled(), exam=exam(accession_number=""))
    assert missing(blank) == ("accession_number",)


def test_a_session_cancelled_after_injection_is_scored_in_full() -> None:
    """Cancelled once injected: the injection's fields are asked again (here: no radiologist)."""
    view = replace(full(), outcome="cancelled", radiologist=None, reactions=())
    assert missing(view) == ("supervising_radiologist",)


def test_only_the_facility_s_fields_count_in_its_order_and_once() -> None:
    """The facility asks three fields (one twice): the score is over those, in its order."""
    view = full(exam=exam(iv_site=None, delivery=None))
    result = score(view, ("delivery", "agent", "iv_site", "delivery"))
    assert result.required == ("delivery", "agent", "iv_site")
    assert result.missing == ("delivery", "iv_site")
    assert result.score == pytest.approx(1 / 3)


def test_an_unknown_field_is_refused_by_name() -> None:
    """A field DOCUMENTATION_FIELDS does not know raises ValueError naming it."""
    with pytest.raises(ValueError, match=re.escape("unknown documentation fields reaction.mood")):
        score(full(), ("agent", "reaction.mood"))


def test_missing_fields_read_as_words() -> None:
    """The helper gives the labels of DOCUMENTATION_FIELDS, in the order missing."""
    view = full(exam=exam(iv_site=None), reactions=(reaction(handoff=None),))
    result = score(view, DEFAULT_REQUIRED)
    assert missing_words(result) == ["IV site", "handoff / transfer of care"]
    assert result.score == pytest.approx(20 / 22)
    assert len(DOCUMENTATION_FIELDS) == 22


def test_the_radiologist_s_first_action_is_the_intervention() -> None:
    """A radiologist joined but never acted on the reaction: the intervention is missing."""
    silent = reaction(first_action_at=None, first_action=None, first_action_by=None)
    view = full(reactions=(silent,), radiologist=DIAZ)
    assert missing(view) == ("reaction.intervention",)
