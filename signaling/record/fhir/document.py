"""The document Bundle: its parts in order, the Composition that opens it, its identifier."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.composition import Composition, CompositionEvent, CompositionSection
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.reference import Reference

from signaling.record.codes import Section
from signaling.record.fhir import narrative as words
from signaling.record.fhir import terms as t
from signaling.record.fhir.check import check
from signaling.record.fhir.context import NAMESPACE, Export, concept, div
from signaling.record.fhir.exam import add_administration, add_medication, add_procedure
from signaling.record.fhir.reaction import add_reaction
from signaling.record.fhir.vitals import add_vitals
from signaling.record.view import RecordView


class FhirExportError(ValueError):
    """The built bundle failed ``check``; ``problems`` lists what it found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("FHIR export failed its checks: " + "; ".join(problems))
        self.problems = problems


def bundle(view: RecordView, now: datetime) -> dict[str, Any]:
    """The record as a FHIR R4 document Bundle (JSON, as a dict); ``now`` is its timestamp.
    Raises ``FhirExportError`` when the result fails ``check`` (a bug here, never bad input)."""
    ex = Export(view)
    medication = add_medication(ex)
    procedure = add_procedure(ex, medication)
    administration = add_administration(ex, medication, procedure)
    reaction_refs: list[Reference] = []
    vital_refs: list[Reference] = []
    for reaction in view.reactions:
        reaction_refs += add_reaction(ex, reaction, procedure, administration)
        for n, taken in enumerate(reaction.vitals):
            vital_refs += add_vitals(ex, reaction.seq, n, taken, procedure)
    composition = _composition(ex, procedure, administration, reaction_refs, vital_refs)

    # Practitioners are added as they are first named; they read best after the Patient.
    people = [e for e in ex.entries if isinstance(e.resource, Practitioner)]
    others = [e for e in ex.entries if not isinstance(e.resource, Practitioner)]
    entries = [
        BundleEntry(fullUrl=ex.url("composition"), resource=composition),
        others[0],
        *people,
        *others[1:],
    ]
    # One identifier per content: the same record is the same document, a changed one is new.
    digest = hashlib.sha256("\n".join(e.model_dump_json() for e in entries).encode()).hexdigest()
    document = Bundle(
        identifier=Identifier(
            system=t.URI_SYSTEM, value=f"urn:uuid:{uuid.uuid5(NAMESPACE, f'document/{digest}')}"
        ),
        type="document",
        timestamp=now,
        entry=entries,
    )
    built: dict[str, Any] = json.loads(document.model_dump_json())
    problems = check(built)
    if problems:
        raise FhirExportError(problems)
    return built


def _composition(
    ex: Export,
    procedure: Reference,
    administration: Reference | None,
    reaction_refs: list[Reference],
    vital_refs: list[Reference],
) -> Composition:
    view, codes = ex.view, ex.book.sections

    def section(
        title: str, code: Section | None, lines: list[str], entries: list[Reference]
    ) -> CompositionSection:
        return CompositionSection(
            title=title,
            code=concept(title, codes[code]) if code is not None else None,
            text=div(*lines),
            entry=entries or None,
        )

    sections = [
        section("Exam", Section.PROCEDURES, words.exam_lines(ex), [procedure]),
        section("Supervision", None, words.supervision_lines(ex), []),
        section(
            "Contrast administered",
            Section.MEDICATIONS,
            words.contrast_lines(ex),
            [administration] if administration is not None else [],
        ),
        section("Contrast reactions", Section.REACTIONS, words.reaction_lines(ex), reaction_refs),
    ]
    if vital_refs:
        sections.append(
            section("Vital signs", Section.VITAL_SIGNS, words.vital_lines(ex), vital_refs)
        )
    if view.amendments:
        sections.append(section("Amendments", None, words.amendment_lines(ex), []))

    status = "final" if view.ended_at is not None else "preliminary"
    if status == "final" and view.amendments:
        status = "amended"
    # The record's own last change, not the export's time: the same record, the same document.
    changed = [view.requested_at, *(x.at for x in view.timeline), *(a.at for a in view.amendments)]
    if view.ended_at is not None:
        changed.append(view.ended_at)
    author = view.radiologist if view.radiologist is not None else view.technologist
    return Composition(
        id=ex.rid(ex.url("composition")),
        identifier=Identifier(system=t.URI_SYSTEM, value=ex.url("composition")),
        status=status,
        type=concept("Contrast supervision record", ex.book.document),
        subject=ex.patient,
        date=max(changed),
        author=[ex.person(author)],
        title=f"Contrast supervision record, {view.facility_name}, {view.room}",
        custodian=ex.organization,
        event=[
            CompositionEvent(
                code=[CodeableConcept(text="Supervised contrast-enhanced imaging")],
                period=Period(start=view.requested_at, end=view.ended_at),
                detail=[procedure],
            )
        ],
        section=sections,
    )
