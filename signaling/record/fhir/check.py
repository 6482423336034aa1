"""Checks of an exported FHIR document Bundle (JSON as a dict) for what the ``fhir.resources``
models do not enforce: they check structure and types, not code bindings, invariants or whether a
reference points anywhere.

``check(bundle)`` returns one line per problem (empty when the bundle is fine), each naming the
entry and the element: the Bundle is a ``document`` with a timestamp, an identifier and the
Composition first; every ``reference`` resolves to an entry's ``fullUrl`` and every entry but the
Composition is referred to; the codes the R4
specification binds *required* are from their value sets (AllergyIntolerance clinical and
verification status, type, category, criticality, ``reaction.severity``; AdverseEvent actuality,
severity, outcome; Observation, MedicationAdministration, Procedure and Composition status); the
vital-signs profile (category ``vital-signs``, a LOINC code Standby knows, the UCUM unit that code
takes, an effective time, the blood pressure panel's systolic/diastolic components); every SNOMED CT
and LOINC code well-formed; an allergy names a product, never "iodine"; and no patient
identifier anywhere (Standby keeps none). (Dates without a UTC offset the models refuse.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from signaling.record import codes
from signaling.record.codes import Vital
from signaling.record.fhir import terms as t

_IODINE_ONLY = re.compile(r"^\s*(iodine|iodine allergy|iodinated contrast|contrast)\s*$", re.I)


def _walk(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every value under ``node`` with its path (``reaction[0].severity``)."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def _codes(concept: Any, system: str) -> list[str]:
    """The codes of ``system`` in a CodeableConcept (as JSON)."""
    if not isinstance(concept, dict):
        return []
    return [
        c.get("code", "")
        for c in concept.get("coding") or []
        if isinstance(c, dict) and c.get("system") == system
    ]


def _one_of(
    problems: list[str], where: str, concept: Any, system: str, allowed: frozenset[str]
) -> None:
    """``concept`` has a coding of ``system`` and each such code is in ``allowed``."""
    found = _codes(concept, system)
    if not found:
        problems.append(f"{where}: no coding from {system}")
    problems += [
        f"{where}: {code!r} is not in {'|'.join(sorted(allowed))}"
        for code in found
        if code not in allowed
    ]


def _code_in(problems: list[str], where: str, value: Any, allowed: frozenset[str]) -> None:
    if value not in allowed:
        problems.append(f"{where}: {value!r} is not in {'|'.join(sorted(allowed))}")


def check(bundle: dict[str, Any]) -> list[str]:
    """Everything wrong with ``bundle`` as a Standby record document; empty when it is fine."""
    problems: list[str] = []
    if bundle.get("resourceType") != "Bundle":
        return [f"resourceType: {bundle.get('resourceType')!r}, expected 'Bundle'"]
    if bundle.get("type") != "document":
        problems.append(f"Bundle.type: {bundle.get('type')!r}, expected 'document'")
    if not bundle.get("timestamp"):
        problems.append("Bundle.timestamp: missing (a document has one)")
    identifier = bundle.get("identifier") or {}
    if not (identifier.get("system") and identifier.get("value")):
        problems.append("Bundle.identifier: a document has one with a system and a value")
    entries = bundle.get("entry") or []
    if not entries:
        return [*problems, "Bundle.entry: empty"]

    urls: set[str] = set()
    for i, entry in enumerate(entries):
        url = entry.get("fullUrl")
        kind = (entry.get("resource") or {}).get("resourceType")
        if not url:
            problems.append(f"entry[{i}]: no fullUrl")
        elif url in urls:
            problems.append(f"entry[{i}]: fullUrl {url} repeats")
        else:
            urls.add(url)
        if kind is None:
            problems.append(f"entry[{i}]: no resource")
    first = (entries[0].get("resource") or {}).get("resourceType")
    if first != "Composition":
        problems.append(f"entry[0]: {first!r}, a document starts with its Composition")

    referenced: set[str] = set()
    for i, entry in enumerate(entries):
        resource = entry.get("resource") or {}
        kind = resource.get("resourceType", "?")
        where = f"entry[{i}] {kind}"
        contained = {f"#{c.get('id')}" for c in resource.get("contained") or []}
        for path, value in _walk(resource, ""):
            at = f"{where}.{path}" if path else where
            if isinstance(value, dict):
                ref = value.get("reference")
                if isinstance(ref, str):
                    referenced.add(ref)
                    if ref not in urls and ref not in contained:
                        problems.append(f"{at}: reference {ref} resolves to no entry")
                _check_coding(problems, at, value)
                if value.get("resourceType") == "Patient" and value.get("identifier"):
                    problems.append(f"{at}.identifier: a patient identifier (Standby keeps none)")
                kinds = set(_codes(value.get("type"), t.IDENTIFIER_TYPE))
                if "value" in value and kinds & t.PATIENT_IDENTIFIER_TYPES:
                    problems.append(f"{at}: a patient identifier (Standby keeps none)")
        checker = _BY_TYPE.get(kind)
        if checker is not None:
            checker(problems, where, resource)
    for i, entry in enumerate(entries[1:], start=1):
        if entry.get("fullUrl") and entry["fullUrl"] not in referenced:
            kind = (entry.get("resource") or {}).get("resourceType")
            problems.append(f"entry[{i}] {kind}: nothing in the document refers to it")
    return problems


def _check_coding(problems: list[str], where: str, coding: dict[str, Any]) -> None:
    """A Coding's code has a system, and a SNOMED CT or LOINC code is well-formed. (A Quantity
    also has ``system`` and ``code``: its unit is checked where the profile says which.)"""
    code = coding.get("code")
    if not isinstance(code, str) or "value" in coding or "unit" in coding:
        return
    system = coding.get("system")
    book = codes.code_book()
    if not system:
        problems.append(f"{where}: code {code!r} without a system")
    elif system == book.snomed_system and not codes.snomed_concept_id_ok(code):
        problems.append(f"{where}: {code!r} is not a SNOMED CT concept id")
    elif system == book.loinc_system and not codes.loinc_ok(code):
        problems.append(f"{where}: {code!r} is not a LOINC code")


def _composition(problems: list[str], where: str, r: dict[str, Any]) -> None:
    _code_in(problems, f"{where}.status", r.get("status"), t.COMPOSITION_STATUSES)
    for field in ("type", "subject", "date", "title"):
        if not r.get(field):
            problems.append(f"{where}.{field}: missing")
    if not r.get("author"):
        problems.append(f"{where}.author: missing (a document names its author)")
    for i, section in enumerate(r.get("section") or []):
        if not (section.get("text") or section.get("entry") or section.get("section")):
            problems.append(f"{where}.section[{i}]: has no text, entry or sub-section (cmp-1)")


def _allergy(problems: list[str], where: str, r: dict[str, Any]) -> None:
    verification = _codes(r.get("verificationStatus"), t.ALLERGY_VERIFICATION)
    if "verificationStatus" in r:
        _one_of(
            problems,
            f"{where}.verificationStatus",
            r.get("verificationStatus"),
            t.ALLERGY_VERIFICATION,
            t.ALLERGY_VERIFICATION_CODES,
        )
    if "entered-in-error" in verification:
        if r.get("clinicalStatus"):
            problems.append(f"{where}.clinicalStatus: present on an entered-in-error entry (ait-2)")
    else:
        _one_of(
            problems,
            f"{where}.clinicalStatus",
            r.get("clinicalStatus"),
            t.ALLERGY_CLINICAL,
            t.ALLERGY_CLINICAL_CODES,
        )
    if "type" in r:
        _code_in(problems, f"{where}.type", r["type"], t.ALLERGY_TYPES)
    for i, category in enumerate(r.get("category") or []):
        _code_in(problems, f"{where}.category[{i}]", category, t.ALLERGY_CATEGORIES)
    if "criticality" in r:
        _code_in(problems, f"{where}.criticality", r["criticality"], t.ALLERGY_CRITICALITIES)
    if not r.get("patient"):
        problems.append(f"{where}.patient: missing")
    _names_product(problems, f"{where}.code", r.get("code"))
    for i, reaction in enumerate(r.get("reaction") or []):
        at = f"{where}.reaction[{i}]"
        if not reaction.get("manifestation"):
            problems.append(f"{at}.manifestation: at least one is required")
        if "severity" in reaction:
            _code_in(problems, f"{at}.severity", reaction["severity"], t.REACTION_SEVERITIES)
        if "substance" in reaction:
            _names_product(problems, f"{at}.substance", reaction["substance"])


def _names_product(problems: list[str], where: str, concept: Any) -> None:
    text = concept.get("text", "") if isinstance(concept, dict) else ""
    if not text or _IODINE_ONLY.match(text):
        problems.append(f"{where}: {text!r} does not name the exact agent")


def _adverse_event(problems: list[str], where: str, r: dict[str, Any]) -> None:
    _code_in(problems, f"{where}.actuality", r.get("actuality"), t.AE_ACTUALITIES)
    if not r.get("subject"):
        problems.append(f"{where}.subject: missing")
    if "severity" in r:
        _one_of(problems, f"{where}.severity", r["severity"], t.AE_SEVERITY, t.AE_SEVERITY_CODES)
    if "outcome" in r:
        _one_of(problems, f"{where}.outcome", r["outcome"], t.AE_OUTCOME, t.AE_OUTCOME_CODES)
    if "seriousness" in r:
        _one_of(
            problems,
            f"{where}.seriousness",
            r["seriousness"],
            t.AE_SERIOUSNESS,
            t.AE_SERIOUSNESS_CODES,
        )
    for i, suspect in enumerate(r.get("suspectEntity") or []):
        if not (suspect.get("instance") or {}).get("reference"):
            problems.append(f"{where}.suspectEntity[{i}].instance: missing")


def _administration(problems: list[str], where: str, r: dict[str, Any]) -> None:
    _code_in(problems, f"{where}.status", r.get("status"), t.MEDICATION_ADMIN_STATUSES)
    if not (r.get("medicationReference") or r.get("medicationCodeableConcept")):
        problems.append(f"{where}.medication[x]: missing")
    if not (r.get("effectiveDateTime") or r.get("effectivePeriod")):
        problems.append(f"{where}.effective[x]: missing")
    if not r.get("subject"):
        problems.append(f"{where}.subject: missing")
    dose = (r.get("dosage") or {}).get("dose")
    if dose is not None:
        book = codes.code_book()
        if dose.get("system") != book.ucum_system or dose.get("code") != "mL":
            problems.append(f"{where}.dosage.dose: not a UCUM volume in mL")


def _procedure(problems: list[str], where: str, r: dict[str, Any]) -> None:
    _code_in(problems, f"{where}.status", r.get("status"), t.PROCEDURE_STATUSES)
    if not r.get("subject"):
        problems.append(f"{where}.subject: missing")


def _observation(problems: list[str], where: str, r: dict[str, Any]) -> None:
    _code_in(problems, f"{where}.status", r.get("status"), t.OBSERVATION_STATUSES)
    categories = [c for cat in r.get("category") or [] for c in _codes(cat, t.OBSERVATION_CATEGORY)]
    if "vital-signs" not in categories:
        return  # Standby exports only vital signs; anything else is not profiled here
    book = codes.code_book()
    by_loinc = {vc.codes[0].code: vc for vc in book.vitals.values()}
    loinc = _codes(r.get("code"), book.loinc_system)
    vital = next((by_loinc[c] for c in loinc if c in by_loinc), None)
    if vital is None:
        problems.append(f"{where}.code: no LOINC vital-sign code ({', '.join(by_loinc)})")
        return
    if not r.get("subject"):
        problems.append(f"{where}.subject: missing (vital signs name their patient)")
    if not (r.get("effectiveDateTime") or r.get("effectivePeriod")):
        problems.append(f"{where}.effective[x]: missing (vital signs carry their time)")
    if vital.vital is Vital.BLOOD_PRESSURE:
        components = r.get("component") or []
        if not components:
            problems.append(f"{where}.component: a blood pressure panel has its components")
        wanted = {
            book.vitals[v].codes[0].code: book.vitals[v] for v in (Vital.SYSTOLIC, Vital.DIASTOLIC)
        }
        for i, component in enumerate(components):
            found = [
                wanted[c] for c in _codes(component.get("code"), book.loinc_system) if c in wanted
            ]
            if not found:
                problems.append(f"{where}.component[{i}].code: not systolic or diastolic (LOINC)")
                continue
            _quantity(problems, f"{where}.component[{i}]", component, found[0])
        return
    _quantity(problems, where, r, vital)


def _quantity(
    problems: list[str], where: str, element: dict[str, Any], vital: codes.VitalCode
) -> None:
    quantity = element.get("valueQuantity")
    if quantity is None:
        if not element.get("dataAbsentReason"):
            problems.append(f"{where}.value[x]: no value and no dataAbsentReason (vs-2)")
        return
    unit = vital.unit
    assert unit is not None
    if "value" not in quantity:
        problems.append(f"{where}.valueQuantity.value: missing")
    if quantity.get("system") != unit.system or quantity.get("code") != unit.code:
        problems.append(
            f"{where}.valueQuantity: {quantity.get('system')!r} {quantity.get('code')!r}, "
            f"expected UCUM {unit.code!r}"
        )


_BY_TYPE = {
    "Composition": _composition,
    "AllergyIntolerance": _allergy,
    "AdverseEvent": _adverse_event,
    "MedicationAdministration": _administration,
    "Procedure": _procedure,
    "Observation": _observation,
}
