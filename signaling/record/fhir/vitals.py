"""Vital signs as FHIR R4 vital-signs Observations: category ``vital-signs``, the LOINC codes
and UCUM units of ``codes.yaml``, each at its own time; blood pressure as the panel with its
systolic and diastolic components."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.observation import Observation, ObservationComponent
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference

from signaling.record.codes import Vital
from signaling.record.fhir import terms as t
from signaling.record.fhir.context import Export, concept, typed
from signaling.record.view import Vitals


def _code(ex: Export, vital: Vital) -> CodeableConcept:
    codings = ex.book.vitals[vital].codes
    return concept(codings[0].display, *codings)


def _quantity(ex: Export, vital: Vital, value: int) -> Quantity:
    unit = ex.book.vitals[vital].unit
    assert unit is not None  # the loader refuses a vital without one (but the panel)
    return Quantity(value=value, unit=unit.display, system=unit.system, code=unit.code)


def add_vitals(
    ex: Export, seq: int, n: int, vitals: Vitals, procedure: Reference
) -> list[Reference]:
    """One Observation per measure taken (the BP panel counts as one)."""
    common: dict[str, Any] = {
        "status": "final",
        "category": [typed(t.OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")],
        "subject": ex.patient,
        "effectiveDateTime": vitals.at,
        "performer": [ex.person(vitals.recorded_by)],
        "partOf": [procedure],
    }
    refs = []
    pressure = ((Vital.SYSTOLIC, vitals.systolic), (Vital.DIASTOLIC, vitals.diastolic))
    if any(value is not None for _, value in pressure):
        url = ex.url("vitals", seq, n, Vital.BLOOD_PRESSURE)
        components = [
            ObservationComponent(code=_code(ex, v), valueQuantity=_quantity(ex, v, value))
            for v, value in pressure
            if value is not None
        ]
        panel = Observation(
            id=ex.rid(url), code=_code(ex, Vital.BLOOD_PRESSURE), component=components, **common
        )
        refs.append(ex.add(url, panel))
    for vital, value in (
        (Vital.HEART_RATE, vitals.heart_rate),
        (Vital.RESPIRATORY_RATE, vitals.respiratory_rate),
        (Vital.SPO2, vitals.spo2),
    ):
        if value is None:
            continue
        url = ex.url("vitals", seq, n, vital)
        measure = Observation(
            id=ex.rid(url),
            code=_code(ex, vital),
            valueQuantity=_quantity(ex, vital, value),
            **common,
        )
        refs.append(ex.add(url, measure))
    return refs
