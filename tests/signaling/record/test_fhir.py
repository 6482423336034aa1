"""The FHIR R4 export: a document Bundle the R4B models read back, with the exact agent, its codes
and the ACR severity, every reference resolved, and checks that catch what the models let through."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from signaling.directory.exam_setup import AgentClass
from signaling.record.fhir import bundle, check
from signaling.record.view import (
    Agent,
    Amendment,
    ChecklistItem,
    Escalation,
    EscalationLine,
    Exam,
    Injection,
    LicenseLine,
    Person,
    Reaction,
    ReactionOutcome,
    ReactionType,
    Recommendation,
    RecordView,
    Severity,
    Treatment,
    Vitals,
)

T0 = datetime(2026, 3, 9, 15, 0, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 9, 18, 0, 0, tzinfo=UTC)
TECH = Person(7, "Sam Ortiz", "RT(R)(CT)")
RAD = Person(3, "Ray Diaz", "MD")
NURSE_DESK = Person(9, "Lee Park", "RN")
OMNIPAQUE = Agent("OMNI350", AgentClass.IODINATED, "Omnipaque 350", "iohexol", "350 mgI/mL")
DOTAREM = Agent("DOTAREM", AgentClass.GADOLINIUM, "Dotarem", "gadoterate meglumine", "0.5 mmol/mL")
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"


def record(**changes: Any) -> RecordView:
    """An ended CT session under verified supervision, with no reaction unless given one."""
    view = RecordView(
        session_id="5b0c0e7e-6a53-4c1f-9b43-8f7f3b1d2a10",
        facility_code="NORTHCT",
        facility_name="North Imaging Center",
        facility_state="TX",
        facility_timezone="America/Chicago",
        room="CT 2",
        modality="CT",
        technologist=TECH,
        radiologist=RAD,
        radiologist_license=LicenseLine("TX", "TX-Q1234", date(2027, 8, 31)),
        state="ended",
        outcome="completed",
        cancel_reason=None,
        cancel_note=None,
        ended_by=TECH,
        requested_at=T0,
        accepted_at=T0 + timedelta(seconds=9),
        joined_at=T0 + timedelta(seconds=21),
        ended_at=T0 + timedelta(minutes=40),
        join_latency_ms=21_400,
        coverage={"verified_s": 2350.0, "gaps": []},
        exam=Exam(
            accession_number="ACC-20260309-0042",
            modality="CT",
            agent=OMNIPAQUE,
            volume_ml=80.0,
            route="intravenous",
            iv_site="left antecubital",
            delivery="injector",
            rate_ml_s=3.0,
            premedicated=False,
            recorded_by=TECH,
            recorded_at=T0 + timedelta(minutes=1),
        ),
        checklist=(ChecklistItem("consent", "Consent obtained", True, TECH, T0),),
        injection=Injection(
            at=T0 + timedelta(minutes=3), by=TECH, verified=True, link="verified two-way live"
        ),
    )
    return replace(view, **changes)


def allergic_moderate() -> Reaction:
    onset = T0 + timedelta(minutes=8)
    return Reaction(
        seq=14,
        onset_at=onset,
        reported_by=TECH,
        type=ReactionType.ALLERGIC_LIKE,
        severity=Severity.MODERATE,
        manifestations=("hives_diffuse", "facial_swelling", "throat_tightness"),
        treatments=(
            Treatment(
                onset + timedelta(minutes=2), "diphenhydramine", "50 mg", "IV", "RN Kim", TECH
            ),
            Treatment(onset + timedelta(minutes=4), "epinephrine", "0.3 mg", "IM", "RN Kim", RAD),
        ),
        vitals=(
            Vitals(
                onset + timedelta(minutes=1),
                TECH,
                systolic=128,
                diastolic=82,
                heart_rate=104,
                respiratory_rate=20,
                spo2=96,
            ),
            Vitals(onset + timedelta(minutes=10), NURSE_DESK, heart_rate=88, spo2=98),
        ),
        escalations=(EscalationLine(onset + timedelta(minutes=5), Escalation.ED, TECH),),
        outcome=ReactionOutcome.TRANSFERRED_ED,
        instructions="Told to carry a note naming Omnipaque 350",
        allergy_recorded=True,
        recommendation=Recommendation.SWITCH_AGENT,
        premedicated=False,
        handoff="ED charge nurse, verbal and written",
        first_action_at=onset + timedelta(seconds=12),
        first_action="acknowledged",
        first_action_by=RAD,
    )


def physiologic_mild() -> Reaction:
    return Reaction(
        seq=11,
        onset_at=T0 + timedelta(minutes=5),
        reported_by=TECH,
        type=ReactionType.PHYSIOLOGIC,
        severity=Severity.MILD,
        manifestations=("nausea", "flushing"),
        outcome=ReactionOutcome.RESOLVED_ON_SITE,
    )


def resources(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == kind]


def by_url(doc: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    return next(e["resource"] for e in doc["entry"] if e["fullUrl"] == ref["reference"])


def codes_of(concept: dict[str, Any], system: str) -> list[str]:
    return [c["code"] for c in concept.get("coding", []) if c["system"] == system]


def test_an_allergic_like_reaction_exports_a_document_the_r4b_models_read_back() -> None:
    """The Bundle parses through R4B `Bundle`, is a document with the Composition first, and
    every reference points at an entry."""
    view = record(
        reactions=(allergic_moderate(),),
        amendments=(
            Amendment(
                20,
                T0 + timedelta(minutes=30),
                RAD,
                "onset misread",
                14,
                {"onset_at": ("15:09", "15:08")},
            ),
        ),
    )
    doc = bundle(view, NOW)
    parsed = Bundle.model_validate(doc)
    assert parsed.type == "document"
    assert parsed.entry is not None
    assert parsed.entry[0].resource is not None
    assert parsed.entry[0].resource.get_resource_type() == "Composition"
    assert doc["timestamp"] == "2026-03-09T18:00:00Z"
    assert doc["identifier"]["value"].startswith("urn:uuid:")
    urls = {e["fullUrl"] for e in doc["entry"]}
    refs = [v for v in _references(doc)]
    assert refs  # the document links its parts
    assert set(refs) <= urls
    assert check(doc) == []
    composition = doc["entry"][0]["resource"]
    assert composition["status"] == "amended"
    assert composition["author"][0]["display"] == "Ray Diaz"
    sections = {s["title"]: s for s in composition["section"]}
    assert "Amendments" in sections
    assert "onset misread" in sections["Amendments"]["text"]["div"]
    assert "accession number" in sections["Exam"]["text"]["div"]
    assert len(sections["Vital signs"]["entry"]) == 6  # BP, HR, RR, SpO2; then HR, SpO2


def test_the_allergy_names_the_exact_agent_with_its_class_code_and_acr_severity() -> None:
    """AllergyIntolerance: Omnipaque 350 (iohexol), iodinated-contrast SNOMED code, moderate,
    the manifestations' codes from codes.yaml, and the onset."""
    doc = bundle(record(reactions=(allergic_moderate(),)), NOW)
    [allergy] = resources(doc, "AllergyIntolerance")
    assert allergy["code"]["text"] == "Omnipaque 350 (iohexol 350 mgI/mL)"
    assert "iodine" not in json.dumps(allergy).lower()
    assert codes_of(allergy["code"], SNOMED) == ["426722004"]
    assert allergy["type"] == "allergy"
    assert allergy["category"] == ["medication"]
    assert allergy["clinicalStatus"]["coding"][0]["code"] == "active"
    reaction = allergy["reaction"][0]
    assert reaction["severity"] == "moderate"
    assert reaction["substance"]["text"] == "Omnipaque 350 (iohexol 350 mgI/mL)"
    assert reaction["onset"] == "2026-03-09T15:08:00Z"
    signs = {m["text"]: codes_of(m, SNOMED) for m in reaction["manifestation"]}
    assert signs == {
        "Hives, diffuse": ["126485001"],
        "Facial swelling": ["41291007"],
        "Throat tightness": [],  # no code fits: text only
    }
    assert codes_of(reaction["exposureRoute"], SNOMED) == ["47625008"]


def test_the_adverse_event_points_at_the_injection_and_the_procedure() -> None:
    """AdverseEvent: actual, onset date, moderate severity (required binding), outcome, suspect
    entities the contrast MedicationAdministration and the Procedure."""
    doc = bundle(record(reactions=(allergic_moderate(),)), NOW)
    [event] = resources(doc, "AdverseEvent")
    assert event["actuality"] == "actual"
    assert event["date"] == "2026-03-09T15:08:00Z"
    assert codes_of(
        event["severity"], "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
    ) == ["moderate"]
    assert codes_of(
        event["outcome"], "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
    ) == ["ongoing"]
    suspects = [by_url(doc, s["instance"]) for s in event["suspectEntity"]]
    assert [s["resourceType"] for s in suspects] == ["MedicationAdministration", "Procedure"]
    given = suspects[0]
    assert given["dosage"]["dose"] == {
        "value": 80.0,
        "unit": "mL",
        "system": "http://unitsofmeasure.org",
        "code": "mL",
    }
    assert given["dosage"]["site"]["text"] == "left antecubital"
    assert given["effectiveDateTime"] == "2026-03-09T15:03:00Z"
    medication = by_url(doc, given["medicationReference"])
    assert medication["code"]["text"] == "Omnipaque 350 (iohexol 350 mgI/mL)"
    assert codes_of(medication["code"], SNOMED) == ["426722004"]
    procedure = suspects[1]
    assert procedure["status"] == "completed"
    assert procedure["performedDateTime"] == "2026-03-09T15:03:00Z"
    assert procedure["identifier"][0]["value"] == "ACC-20260309-0042"
    assert [by_url(doc, p["actor"])["name"][0]["text"] for p in procedure["performer"]] == [
        "Sam Ortiz",
        "Ray Diaz",
    ]
    treatments = [
        a for a in resources(doc, "MedicationAdministration") if "medicationCodeableConcept" in a
    ]
    assert [(a["medicationCodeableConcept"]["text"], a["dosage"]["text"]) for a in treatments] == [
        ("diphenhydramine", "50 mg IV"),
        ("epinephrine", "0.3 mg IM"),
    ]
    assert all(by_url(doc, a["supportingInformation"][0]) is event for a in treatments)


def test_the_radiologist_carries_the_license_state_and_number() -> None:
    """The supervising radiologist's Practitioner has the TX license as a qualification."""
    doc = bundle(record(), NOW)
    rad = next(p for p in resources(doc, "Practitioner") if p["name"][0]["text"] == "Ray Diaz")
    [qualification] = rad["qualification"]
    assert qualification["identifier"][0]["value"] == "TX-Q1234"
    assert qualification["code"]["text"] == "Medical license, TX"
    assert qualification["period"]["end"] == "2027-08-31"


def test_vital_signs_follow_the_vital_signs_profile() -> None:
    """Observations: category vital-signs, LOINC codes, UCUM units, the BP panel with systolic and
    diastolic components, each at its own time."""
    doc = bundle(record(reactions=(allergic_moderate(),)), NOW)
    observations = resources(doc, "Observation")
    assert all(
        codes_of(o["category"][0], "http://terminology.hl7.org/CodeSystem/observation-category")
        == ["vital-signs"]
        for o in observations
    )
    first = {codes_of(o["code"], LOINC)[0]: o for o in observations[:4]}
    assert set(first) == {"85354-9", "8867-4", "9279-1", "2708-6"}
    panel = first["85354-9"]
    assert "valueQuantity" not in panel
    assert {
        codes_of(c["code"], LOINC)[0]: c["valueQuantity"]["value"] for c in panel["component"]
    } == {
        "8480-6": 128,
        "8462-4": 82,
    }
    assert panel["component"][0]["valueQuantity"]["code"] == "mm[Hg]"
    assert first["8867-4"]["valueQuantity"]["code"] == "/min"
    assert "59408-5" in codes_of(first["2708-6"]["code"], LOINC)
    assert first["2708-6"]["valueQuantity"] == {
        "value": 96,
        "unit": "%",
        "system": "http://unitsofmeasure.org",
        "code": "%",
    }
    assert observations[4]["effectiveDateTime"] == "2026-03-09T15:18:00Z"


def test_a_physiologic_reaction_has_an_adverse_event_and_no_allergy() -> None:
    """Nausea and flushing: one AdverseEvent, mild, resolved; no AllergyIntolerance."""
    doc = bundle(record(reactions=(physiologic_mild(),)), NOW)
    assert resources(doc, "AllergyIntolerance") == []
    [event] = resources(doc, "AdverseEvent")
    assert event["event"]["text"] == "Physiologic contrast reaction, mild"
    assert codes_of(
        event["severity"], "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
    ) == ["mild"]
    assert event["outcome"]["coding"][0]["code"] == "resolved"
    assert check(doc) == []


def test_an_exam_without_a_reaction_has_no_adverse_event() -> None:
    """An MR exam with gadolinium and no reaction: Procedure and contrast, no AdverseEvent."""
    exam = replace(record().exam, modality="MR", agent=DOTAREM, volume_ml=15.0)
    doc = bundle(record(modality="MR", exam=exam), NOW)
    assert resources(doc, "AdverseEvent") == []
    assert resources(doc, "AllergyIntolerance") == []
    assert resources(doc, "Observation") == []
    [medication] = resources(doc, "Medication")
    assert codes_of(medication["code"], SNOMED) == ["1348311005"]
    assert medication["code"]["text"] == "Dotarem (gadoterate meglumine 0.5 mmol/mL)"
    [procedure] = resources(doc, "Procedure")
    assert procedure["code"]["text"] == "MRI with intravenous contrast"
    assert check(doc) == []
    Bundle.model_validate(doc)


def test_the_patient_carries_no_identifier() -> None:
    """Standby keeps no patient identifier: the Patient has none; the accession number is the
    Procedure's."""
    doc = bundle(record(reactions=(allergic_moderate(),)), NOW)
    [patient] = resources(doc, "Patient")
    assert "identifier" not in patient
    [procedure] = resources(doc, "Procedure")
    assert procedure["identifier"][0]["type"]["coding"][0]["code"] == "ACSN"


def test_the_same_record_exports_the_same_bundle() -> None:
    """Full URLs come from the session id; a changed record is a new document identifier."""
    view = record(reactions=(allergic_moderate(),))
    assert bundle(view, NOW) == bundle(view, NOW)
    changed = bundle(record(reactions=(physiologic_mild(),)), NOW)
    original = bundle(view, NOW)
    assert changed["identifier"] != original["identifier"]
    assert changed["entry"][0]["fullUrl"] == original["entry"][0]["fullUrl"]


def test_a_cancelled_exam_without_injection_is_a_procedure_not_done() -> None:
    """No injection, cancelled for no coverage: Procedure not-done with the reason, no contrast."""
    view = record(
        radiologist=None,
        radiologist_license=None,
        joined_at=None,
        accepted_at=None,
        join_latency_ms=None,
        outcome="cancelled",
        cancel_reason="no_coverage",
        injection=None,
    )
    doc = bundle(view, NOW)
    [procedure] = resources(doc, "Procedure")
    assert procedure["status"] == "not-done"
    assert procedure["statusReason"]["text"] == "no_coverage"
    assert resources(doc, "MedicationAdministration") == []
    assert doc["entry"][0]["resource"]["author"][0]["display"] == "Sam Ortiz"
    assert check(doc) == []


# --- the checks catch what the R4B models let through -------------------------------------------


def broken(mutate: Any) -> dict[str, Any]:
    """A good export changed by ``mutate``; the R4B models still accept it."""
    doc = copy.deepcopy(bundle(record(reactions=(allergic_moderate(),)), NOW))
    mutate(doc)
    Bundle.model_validate(doc)
    return doc


def _resource(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    return resources(doc, kind)[0]


def test_check_catches_an_unresolved_reference() -> None:
    """A suspect entity pointing outside the bundle is named."""

    def dangle(doc: dict[str, Any]) -> None:
        _resource(doc, "AdverseEvent")["suspectEntity"][0]["instance"]["reference"] = (
            "urn:uuid:00000000-0000-0000-0000-000000000000"
        )

    problems = check(broken(dangle))
    assert len(problems) == 1
    assert re.fullmatch(
        r"entry\[\d+\] AdverseEvent\.suspectEntity\[0\]\.instance: reference "
        r"urn:uuid:0{8}-0{4}-0{4}-0{4}-0{12} resolves to no entry",
        problems[0],
    )


def test_check_catches_an_entry_nothing_refers_to() -> None:
    """Without its Vital signs section the document carries Observations it never mentions."""

    def orphan(doc: dict[str, Any]) -> None:
        sections = doc["entry"][0]["resource"]["section"]
        sections[:] = [s for s in sections if s["title"] != "Vital signs"]

    problems = check(broken(orphan))
    assert len(problems) == 6
    assert all(
        re.fullmatch(r"entry\[\d+\] Observation: nothing in the document refers to it", p)
        for p in problems
    )


def test_check_catches_a_severity_outside_the_value_set() -> None:
    """reaction.severity 'extreme' and an AdverseEvent severity 'grade-3' are both refused."""

    def extreme(doc: dict[str, Any]) -> None:
        _resource(doc, "AllergyIntolerance")["reaction"][0]["severity"] = "extreme"
        _resource(doc, "AdverseEvent")["severity"]["coding"][0]["code"] = "grade-3"

    problems = check(broken(extreme))
    assert any(
        "reaction[0].severity: 'extreme' is not in mild|moderate|severe" in p for p in problems
    )
    assert any("AdverseEvent.severity: 'grade-3' is not in" in p for p in problems)
    assert len(problems) == 2


def test_check_catches_a_patient_identifier() -> None:
    """A Patient identifier, or an MR-typed identifier anywhere, is refused."""

    def identify(doc: dict[str, Any]) -> None:
        _resource(doc, "Patient")["identifier"] = [{"system": "urn:oid:1.2.3", "value": "MRN123"}]
        _resource(doc, "Procedure")["identifier"].append(
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                    ]
                },
                "value": "MRN123",
            }
        )

    problems = check(broken(identify))
    assert any("Patient.identifier: a patient identifier" in p for p in problems)
    assert any("Procedure.identifier[1]: a patient identifier" in p for p in problems)
    assert len(problems) == 2


def test_check_catches_broken_required_bindings_and_profile() -> None:
    """Statuses, actuality, the vital-signs unit and category, an 'iodine' allergy, a mistyped
    SNOMED code and the Composition out of first place are each named."""

    def wreck(doc: dict[str, Any]) -> None:
        allergy = _resource(doc, "AllergyIntolerance")
        allergy["clinicalStatus"]["coding"][0]["code"] = "current"
        allergy["code"] = {"text": "Iodine"}
        allergy["reaction"][0]["manifestation"][0]["coding"][0]["code"] = "126485002"
        _resource(doc, "AdverseEvent")["actuality"] = "suspected"
        _resource(doc, "Procedure")["status"] = "done"
        observations = resources(doc, "Observation")
        observations[1]["valueQuantity"]["code"] = "bpm"
        observations[2]["status"] = "ok"
        _resource(doc, "MedicationAdministration")["status"] = "given"
        doc["type"] = "collection"

    problems = "\n".join(check(broken(wreck)))
    for expected in (
        "Bundle.type: 'collection', expected 'document'",
        "AllergyIntolerance.clinicalStatus: 'current' is not in active|inactive|resolved",
        "AllergyIntolerance.code: 'Iodine' does not name the exact agent",
        "'126485002' is not a SNOMED CT concept id",
        "AdverseEvent.actuality: 'suspected' is not in actual|potential",
        "Procedure.status: 'done' is not in",
        "Observation.valueQuantity: 'http://unitsofmeasure.org' 'bpm', expected UCUM '/min'",
        "Observation.status: 'ok' is not in",
        "MedicationAdministration.status: 'given' is not in",
    ):
        assert expected in problems

    def reorder(doc: dict[str, Any]) -> None:
        doc["entry"].append(doc["entry"].pop(0))
        del doc["identifier"]

    problems = "\n".join(check(broken(reorder)))
    assert "entry[0]: 'Patient', a document starts with its Composition" in problems
    assert "Bundle.identifier: a document has one with a system and a value" in problems


def _references(doc: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("reference"), str):
                found.append(node["reference"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    return found
