"""The document being built: its entries, the deterministic full URLs, and the parts every
document has (the Patient, the Practitioners as they are named, the facility and the room)."""

from __future__ import annotations

import html
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fhir.resources.R4B.address import Address
from fhir.resources.R4B.bundle import BundleEntry
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.narrative import Narrative
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.practitioner import Practitioner, PractitionerQualification
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource

from signaling.record import codes
from signaling.record.codes import Code
from signaling.record.fhir import terms as t
from signaling.record.view import Person, RecordView

# Fixed forever: every full URL of every export is derived from it.
NAMESPACE = uuid.UUID("6f1c3a52-0d6e-5b7e-9a43-2f8e1c7d4b90")

_XHTML = "http://www.w3.org/1999/xhtml"


def coding(code: Code) -> Coding:
    return Coding(system=code.system, code=code.code, display=code.display)


def concept(text: str, *coded: Code | None) -> CodeableConcept:
    """A CodeableConcept in words, with the codings given (None ones left out)."""
    codings = [coding(c) for c in coded if c is not None]
    return CodeableConcept(coding=codings or None, text=text)


def typed(system: str, code: str, display: str) -> CodeableConcept:
    return CodeableConcept(coding=[Coding(system=system, code=code, display=display)])


def div(*paragraphs: str) -> Narrative:
    """A generated narrative, one paragraph per line, escaped."""
    body = "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs if p)
    return Narrative(status="generated", div=f'<div xmlns="{_XHTML}">{body}</div>')


class Export:
    """One export of one record. Creating it adds the Patient, the technologist and the
    radiologist, the facility's Organization and the room's Location."""

    def __init__(self, view: RecordView) -> None:
        self.view = view
        self.book = codes.code_book()
        self.entries: list[BundleEntry] = []
        self.people: set[int] = set()
        try:
            self.zone = ZoneInfo(view.facility_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = ZoneInfo("UTC")
        self.patient = self.add(
            self.url("patient"),
            Patient(
                id=self.rid(self.url("patient")),
                text=div(
                    "Standby keeps no patient identifier. The facility links this record to its "
                    f"patient by the exam's accession number, {view.exam.accession_number}."
                ),
            ),
        )
        self.person(view.technologist)
        if view.radiologist is not None:
            self.person(view.radiologist)
        address = Address(state=view.facility_state, country="US")
        self.organization = self.add(
            self.url("organization"),
            Organization(
                id=self.rid(self.url("organization")),
                name=view.facility_name,
                alias=[view.facility_code],
                address=[address],
            ),
        )
        self.location = self.add(
            self.url("location"),
            Location(
                id=self.rid(self.url("location")),
                name=view.room,
                mode="instance",
                physicalType=typed(t.LOCATION_PHYSICAL_TYPE, "ro", "Room"),
                managingOrganization=self.organization,
                address=address,
            ),
        )

    def url(self, *parts: object) -> str:
        """The full URL of a part of this record: the same parts, the same URL, every time."""
        name = "/".join([self.view.session_id, *(str(p) for p in parts)])
        return f"urn:uuid:{uuid.uuid5(NAMESPACE, name)}"

    @staticmethod
    def rid(url: str) -> str:
        return url.removeprefix("urn:uuid:")

    def add(self, url: str, resource: Resource) -> Reference:
        self.entries.append(BundleEntry(fullUrl=url, resource=resource))
        return Reference(reference=url)

    def when(self, at: datetime) -> str:
        """A time in words: the facility's local time, and UTC."""
        local = at.astimezone(self.zone)
        return f"{local:%Y-%m-%d %H:%M:%S %Z} ({at.astimezone(UTC):%H:%M:%S} UTC)"

    def person(self, who: Person) -> Reference:
        """A reference to ``who``'s Practitioner, added on first use; the supervising
        radiologist's carries the license the record holds for the facility's state."""
        url = self.url("practitioner", who.id)
        if who.id not in self.people:
            self.people.add(who.id)
            license_ = self.view.radiologist_license
            rad = self.view.radiologist
            qualification = None
            if rad is not None and rad.id == who.id and license_ is not None:
                state = Reference(display=f"State of {license_.state}")
                qualification = [
                    PractitionerQualification(
                        identifier=[
                            Identifier(
                                type=typed(t.IDENTIFIER_TYPE, "MD", "Medical License number"),
                                value=license_.number,
                                assigner=state,
                            )
                        ],
                        code=CodeableConcept(text=f"Medical license, {license_.state}"),
                        period=Period(end=license_.expires_on.isoformat()),
                        issuer=state,
                    )
                ]
            name = HumanName(text=who.name, suffix=[who.credentials] if who.credentials else None)
            self.add(url, Practitioner(id=self.rid(url), name=[name], qualification=qualification))
        return Reference(reference=url, display=who.name)
