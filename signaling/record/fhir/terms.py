"""The FHIR R4 code systems and required value sets the export uses and its checks enforce.

These are FHIR's own terminology (terminology.hl7.org), not clinical vocabularies: the clinical
codes (SNOMED CT, LOINC) are in ``codes.yaml``. Each set below is the whole of a value set the
R4 specification binds *required* (or, for seriousness, the code system the export draws from).
"""

from __future__ import annotations

_THO = "http://terminology.hl7.org/CodeSystem/"

ALLERGY_CLINICAL = _THO + "allergyintolerance-clinical"
ALLERGY_CLINICAL_CODES = frozenset({"active", "inactive", "resolved"})
ALLERGY_VERIFICATION = _THO + "allergyintolerance-verification"
ALLERGY_VERIFICATION_CODES = frozenset({"unconfirmed", "confirmed", "refuted", "entered-in-error"})
ALLERGY_TYPES = frozenset({"allergy", "intolerance"})
ALLERGY_CATEGORIES = frozenset({"food", "medication", "environment", "biologic"})
ALLERGY_CRITICALITIES = frozenset({"low", "high", "unable-to-assess"})
REACTION_SEVERITIES = frozenset({"mild", "moderate", "severe"})

AE_ACTUALITIES = frozenset({"actual", "potential"})
AE_SEVERITY = _THO + "adverse-event-severity"
AE_SEVERITY_CODES = frozenset({"mild", "moderate", "severe"})
AE_OUTCOME = _THO + "adverse-event-outcome"
AE_OUTCOME_CODES = frozenset(
    {"resolved", "recovering", "ongoing", "resolvedWithSequelae", "fatal", "unknown"}
)
AE_SERIOUSNESS = _THO + "adverse-event-seriousness"
AE_SERIOUSNESS_CODES = frozenset(
    {
        "Non-serious",
        "Serious",
        "SeriousResultsInDeath",
        "SeriousIsLifeThreatening",
        "SeriousResultsInHospitalization",
        "SeriousResultsInPersistentOrSignificantDisability",
        "SeriousResultsInCongenitalAnomalyBirthDefect",
        "SeriousRequiresPreventImpairment",
    }
)

OBSERVATION_CATEGORY = _THO + "observation-category"
OBSERVATION_STATUSES = frozenset(
    {
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)
MEDICATION_ADMIN_STATUSES = frozenset(
    {"in-progress", "not-done", "on-hold", "completed", "entered-in-error", "stopped", "unknown"}
)
PROCEDURE_STATUSES = frozenset(
    {
        "preparation",
        "in-progress",
        "not-done",
        "on-hold",
        "stopped",
        "completed",
        "entered-in-error",
        "unknown",
    }
)
COMPOSITION_STATUSES = frozenset({"preliminary", "final", "amended", "entered-in-error"})
NARRATIVE_STATUSES = frozenset({"generated", "extensions", "additional", "empty"})

LOCATION_PHYSICAL_TYPE = _THO + "location-physical-type"

# HL7 v2 table 0203, identifier types. The export uses ACSN (the exam's accession number) and MD
# (a physician's license number); the patient kinds are what "no patient identifier" refuses.
IDENTIFIER_TYPE = _THO + "v2-0203"
PATIENT_IDENTIFIER_TYPES = frozenset(
    {"MR", "PI", "PT", "SS", "MA", "MC", "MB", "SN", "AN", "DL", "PPN", "NI", "NH"}
)

# An identifier whose value is itself a URI (the Bundle's urn:uuid).
URI_SYSTEM = "urn:ietf:rfc:3986"
