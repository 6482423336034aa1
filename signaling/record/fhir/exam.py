"""The exam's resources: the contrast Medication (the exact product, coded by its agent class),
the Procedure (CT/MR with contrast, performed at the injection, identified by the accession
number) and the MedicationAdministration of the injection (dose in mL, route, IV site, rate)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.annotation import Annotation
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.medication import Medication, MedicationIngredient
from fhir.resources.R4B.medicationadministration import (
    MedicationAdministration,
    MedicationAdministrationDosage,
    MedicationAdministrationPerformer,
)
from fhir.resources.R4B.procedure import Procedure, ProcedurePerformer
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference

from signaling.record import codes
from signaling.record.fhir import terms as t
from signaling.record.fhir.context import Export, concept, typed
from signaling.record.fhir.narrative import agent_words

NOT_RECORDED = "Contrast medium (product not recorded)"


def add_medication(ex: Export) -> Reference | None:
    """The product injected, when the record names one and an injection happened."""
    agent = ex.view.exam.agent
    if agent is None or ex.view.injection is None:
        return None
    url = ex.url("medication")
    class_code = codes.agent_class_code(agent.agent_class)
    return ex.add(
        url,
        Medication(
            id=ex.rid(url),
            code=concept(agent_words(agent), class_code),
            ingredient=[
                MedicationIngredient(
                    itemCodeableConcept=concept(agent.generic, class_code), isActive=True
                )
            ],
        ),
    )


def _procedure_status(ex: Export) -> str:
    view = ex.view
    if view.injection is not None:
        return "completed" if view.ended_at is not None else "in-progress"
    if view.outcome == "cancelled":
        return "not-done"
    return "unknown" if view.ended_at is not None else "preparation"


def add_procedure(ex: Export, medication: Reference | None) -> Reference:
    view, injection = ex.view, ex.view.injection
    status = _procedure_status(ex)
    performers = [
        ProcedurePerformer(
            function=CodeableConcept(text="Technologist"),
            actor=ex.person(view.technologist),
            onBehalfOf=ex.organization,
        )
    ]
    if view.radiologist is not None:
        performers.append(
            ProcedurePerformer(
                function=CodeableConcept(text="Supervising radiologist (remote)"),
                actor=ex.person(view.radiologist),
            )
        )
    notes = []
    if injection is not None:
        notes.append(
            f"Injection recorded by {injection.by.name} at {ex.when(injection.at)}; "
            f"the radiologist's link at that second: {injection.link}."
        )
    reason = " ".join(p for p in (view.cancel_reason, view.cancel_note) if p)
    modality = {"MR": "MRI"}.get(view.modality, view.modality)
    url = ex.url("procedure")
    return ex.add(
        url,
        Procedure(
            id=ex.rid(url),
            identifier=[
                Identifier(
                    type=typed(t.IDENTIFIER_TYPE, "ACSN", "Accession ID"),
                    value=view.exam.accession_number,
                )
            ],
            status=status,
            statusReason=(
                CodeableConcept(text=reason) if status == "not-done" and reason else None
            ),
            code=CodeableConcept(text=f"{modality} with intravenous contrast"),
            subject=ex.patient,
            performedDateTime=injection.at if injection is not None else None,
            performer=performers,
            location=ex.location,
            usedReference=[medication] if medication is not None else None,
            note=[Annotation(text=n) for n in notes] or None,
        ),
    )


def add_administration(
    ex: Export, medication: Reference | None, procedure: Reference
) -> Reference | None:
    """The injection, when one was recorded: at its time, by whom, how much, where."""
    exam, injection, ucum = ex.view.exam, ex.view.injection, ex.book.ucum_system
    if injection is None:
        return None
    what: dict[str, Any] = (
        {"medicationReference": medication}
        if medication is not None
        else {"medicationCodeableConcept": concept(NOT_RECORDED, ex.book.contrast_media)}
    )
    dose = None
    if exam.volume_ml is not None:
        dose = Quantity(value=exam.volume_ml, unit="mL", system=ucum, code="mL")
    rate = None
    if exam.rate_ml_s is not None:
        rate = Quantity(value=exam.rate_ml_s, unit="mL/s", system=ucum, code="mL/s")
    method = {"injector": "Power injector", "hand": "Hand injection"}.get(exam.delivery or "")
    premedicated = {True: "yes", False: "no", None: "not recorded"}[exam.premedicated]
    url = ex.url("administration", "contrast")
    return ex.add(
        url,
        MedicationAdministration(
            id=ex.rid(url),
            status="completed",
            **what,
            subject=ex.patient,
            effectiveDateTime=injection.at,
            performer=[MedicationAdministrationPerformer(actor=ex.person(injection.by))],
            partOf=[procedure],
            dosage=MedicationAdministrationDosage(
                site=CodeableConcept(text=exam.iv_site) if exam.iv_site else None,
                route=concept(exam.route, codes.route_code(exam.route)) if exam.route else None,
                method=CodeableConcept(text=method) if method else None,
                dose=dose,
                rateQuantity=rate,
            ),
            note=[Annotation(text=f"Premedicated: {premedicated}.")],
        ),
    )
