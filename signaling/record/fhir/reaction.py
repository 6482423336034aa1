"""A reaction's resources: the AdverseEvent (suspect entities the contrast's administration and
the Procedure), for an allergic-like reaction an AllergyIntolerance naming the exact agent with the
ACR severity and the coded manifestations, and a MedicationAdministration per treatment (dose as
written: Standby never computes one)."""

from __future__ import annotations

from fhir.resources.R4B.adverseevent import AdverseEvent, AdverseEventSuspectEntity
from fhir.resources.R4B.allergyintolerance import AllergyIntolerance, AllergyIntoleranceReaction
from fhir.resources.R4B.annotation import Annotation
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.medicationadministration import (
    MedicationAdministration,
    MedicationAdministrationDosage,
    MedicationAdministrationPerformer,
)
from fhir.resources.R4B.reference import Reference

from signaling.record import codes
from signaling.record.fhir import terms as t
from signaling.record.fhir.context import Export, concept, typed
from signaling.record.fhir.exam import NOT_RECORDED
from signaling.record.fhir.narrative import (
    OUTCOME_WORDS,
    RECOMMENDATION_WORDS,
    agent_words,
    reaction_words,
)
from signaling.record.view import Reaction, ReactionOutcome, ReactionType, Severity, Treatment

_OUTCOME: dict[ReactionOutcome, str] = {
    ReactionOutcome.RESOLVED_ON_SITE: "resolved",
    ReactionOutcome.TRANSFERRED_ED: "ongoing",  # handed over still under treatment
    ReactionOutcome.ADMITTED: "ongoing",
    ReactionOutcome.DIED: "fatal",
}


def _seriousness(reaction: Reaction) -> str:
    if reaction.outcome is ReactionOutcome.DIED:
        return "SeriousResultsInDeath"
    if reaction.outcome is ReactionOutcome.ADMITTED:
        return "SeriousResultsInHospitalization"
    if reaction.severity is Severity.SEVERE:  # ACR severe: life-threatening
        return "SeriousIsLifeThreatening"
    return "Non-serious"


def add_reaction(
    ex: Export, reaction: Reaction, procedure: Reference, administration: Reference | None
) -> list[Reference]:
    """The reaction's AdverseEvent, its AllergyIntolerance when allergic-like, its treatments
    (in that order)."""
    allergic = reaction.type is ReactionType.ALLERGIC_LIKE
    contributors = [ex.person(reaction.reported_by)]
    if reaction.first_action_by is not None:
        contributors.append(ex.person(reaction.first_action_by))
    severity = reaction.severity
    outcome = reaction.outcome
    url = ex.url("adverse-event", reaction.seq)
    event = ex.add(
        url,
        AdverseEvent(
            id=ex.rid(url),
            actuality="actual",
            event=concept(
                reaction_words(reaction), ex.book.allergy_to_contrast if allergic else None
            ),
            subject=ex.patient,
            date=reaction.onset_at,
            detected=reaction.onset_at,
            recorder=ex.person(reaction.reported_by),
            location=ex.location,
            seriousness=CodeableConcept(
                coding=[Coding(system=t.AE_SERIOUSNESS, code=_seriousness(reaction))]
            ),
            severity=(
                typed(t.AE_SEVERITY, severity.value, severity.value.capitalize())
                if severity
                else None
            ),
            outcome=(
                CodeableConcept(
                    coding=[Coding(system=t.AE_OUTCOME, code=_OUTCOME[outcome])],
                    text=OUTCOME_WORDS[outcome],
                )
                if outcome
                else None
            ),
            suspectEntity=[
                AdverseEventSuspectEntity(instance=ref)
                for ref in (administration, procedure)
                if ref is not None
            ],
            contributor=contributors,
        ),
    )
    refs = [event]
    if allergic:
        refs.append(_add_allergy(ex, reaction))
    refs += [_add_treatment(ex, reaction, n, x, event) for n, x in enumerate(reaction.treatments)]
    return refs


def _substance(ex: Export) -> CodeableConcept:
    """The exact agent (never "iodine"), coded by its class."""
    agent = ex.view.exam.agent
    if agent is None:
        return concept(NOT_RECORDED, ex.book.contrast_media)
    return concept(agent_words(agent), codes.agent_class_code(agent.agent_class))


def _manifestations(ex: Export, reaction: Reaction) -> list[CodeableConcept]:
    known = ex.book.manifestations
    signs = []
    for key in reaction.manifestations:
        sign = known.get(key)
        if sign is None:  # a key this code file no longer has: keep the sign, as written
            signs.append(CodeableConcept(text=key))
        else:
            signs.append(concept(sign.label, sign.coding(ex.book.snomed_system)))
    return signs or [CodeableConcept(text="Allergic-like contrast reaction, signs not recorded")]


def _add_allergy(ex: Export, reaction: Reaction) -> Reference:
    substance = _substance(ex)
    route = ex.view.exam.route
    notes = []
    if reaction.recommendation is not None:
        words = RECOMMENDATION_WORDS[reaction.recommendation]
        notes.append(f"Recommendation for next time: {words}.")
    if reaction.breakthrough:
        notes.append("Breakthrough reaction: it happened despite premedication.")
    radiologist = ex.view.radiologist
    url = ex.url("allergy", reaction.seq)
    return ex.add(
        url,
        AllergyIntolerance(
            id=ex.rid(url),
            clinicalStatus=typed(t.ALLERGY_CLINICAL, "active", "Active"),
            # A reaction witnessed on exposure to this very product.
            verificationStatus=typed(t.ALLERGY_VERIFICATION, "confirmed", "Confirmed"),
            type="allergy",
            category=["medication"],
            criticality="high" if reaction.severity is Severity.SEVERE else None,
            code=substance,
            patient=ex.patient,
            onsetDateTime=reaction.onset_at,
            recorder=ex.person(reaction.reported_by),
            asserter=ex.person(radiologist) if radiologist is not None else None,
            lastOccurrence=reaction.onset_at,
            reaction=[
                AllergyIntoleranceReaction(
                    substance=substance,
                    manifestation=_manifestations(ex, reaction),
                    onset=reaction.onset_at,
                    severity=reaction.severity.value if reaction.severity else None,
                    exposureRoute=concept(route, codes.route_code(route)) if route else None,
                )
            ],
            note=[Annotation(text=n) for n in notes] or None,
        ),
    )


def _add_treatment(
    ex: Export, reaction: Reaction, n: int, treatment: Treatment, event: Reference
) -> Reference:
    url = ex.url("treatment", reaction.seq, n)
    return ex.add(
        url,
        MedicationAdministration(
            id=ex.rid(url),
            status="completed",
            medicationCodeableConcept=CodeableConcept(text=treatment.drug),
            subject=ex.patient,
            effectiveDateTime=treatment.at,
            performer=[
                MedicationAdministrationPerformer(actor=Reference(display=treatment.given_by))
            ],
            reasonCode=[CodeableConcept(text=reaction_words(reaction))],
            supportingInformation=[event],
            dosage=MedicationAdministrationDosage(
                text=f"{treatment.dose} {treatment.route}",
                route=concept(treatment.route, codes.route_code(treatment.route)),
            ),
            note=[Annotation(text=f"Recorded by {treatment.recorded_by.name}.")],
        ),
    )
