"""The FHIR R4 export of a supervision session's exam and reaction record: a document ``Bundle``.

``bundle(view, now)`` builds it from the ``RecordView`` alone, through the ``fhir.resources`` R4B
models (whose AdverseEvent, AllergyIntolerance, MedicationAdministration, Procedure, Observation
and Composition match R4), runs ``check`` for what those models do not enforce, and raises
``FhirExportError`` rather than hand out a bundle that fails it.

The document, in entry order: the Composition (the supervision record, in sections; author the
supervising radiologist, else the technologist), the Patient (no identifier: Standby keeps none;
the facility links the record to its patient by the accession number, the Procedure's
identifier), the Practitioners (the radiologist with the license for the facility's state), the
facility's Organization and the room's Location, the contrast Medication (exact product, coded by
its agent class), the Procedure (CT/MR with contrast, performed at the injection), the
MedicationAdministration of the injection, then per reaction an AdverseEvent, an
AllergyIntolerance when it is allergic-like, a MedicationAdministration per treatment, and the
vital-sign Observations.

Full URLs are ``urn:uuid:`` UUIDs derived from the session id, so one record always exports the
same resources; the Bundle's identifier is derived from their content (a changed record is a new
document), and ``now`` is only the Bundle's timestamp.

Modules: ``context`` (the document being built, the Patient, people and places), ``exam``,
``reaction``, ``vitals``, ``narrative`` (the sections in words), ``document`` (the Bundle and its
Composition), ``check``, ``terms`` (FHIR's own code systems and required value sets).
"""

from __future__ import annotations

from signaling.record.fhir.check import check
from signaling.record.fhir.document import FhirExportError, bundle

__all__ = ["FhirExportError", "bundle", "check"]
