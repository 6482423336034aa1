"""The record's code data file (``codes.yaml``, shipped in the package): SNOMED CT codes of the
contrast-agent classes and of the reaction manifestations, the ACR manifestation vocabulary, and the
LOINC codes and UCUM units of the vital signs.

The file is read once, on first use, and validated then: its shape (unknown keys refused), every
agent class and vital sign present, and every code well-formed (a SNOMED CT concept id with its
Verhoeff check digit, a LOINC code with its mod-10 check digit), so a typo fails loudly instead of
exporting a wrong code. The objects handed out are frozen.
"""

from __future__ import annotations

import functools
import re
from enum import StrEnum
from importlib.resources import files
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from signaling.directory.exam_setup import AgentClass
from signaling.record.view import ReactionType


class CodeFileError(ValueError):
    """``codes.yaml`` is malformed: the message names the entry and what is wrong with it."""


class Vital(StrEnum):
    BLOOD_PRESSURE = "blood_pressure"  # the panel; systolic and diastolic are its components
    SYSTOLIC = "systolic"
    DIASTOLIC = "diastolic"
    HEART_RATE = "heart_rate"
    RESPIRATORY_RATE = "respiratory_rate"
    SPO2 = "spo2"


class Section(StrEnum):
    """The export's document sections, each with its LOINC section code."""

    PROCEDURES = "procedures"
    MEDICATIONS = "medications"
    REACTIONS = "reactions"
    VITAL_SIGNS = "vital_signs"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Code(_Frozen):
    """A coding: the code system's URI, the code and its display term (FHIR ``Coding``)."""

    system: str
    code: str
    display: str


class Manifestation(_Frozen):
    """A reaction sign of the ACR vocabulary. ``snomed`` is None where no code fits (text only)."""

    key: str
    label: str  # plain words, as the pages show it
    reaction_type: ReactionType
    snomed: str | None = None
    snomed_display: str | None = None

    def coding(self, system: str) -> Code | None:
        if self.snomed is None or self.snomed_display is None:
            return None
        return Code(system=system, code=self.snomed, display=self.snomed_display)


class VitalCode(_Frozen):
    """A vital sign's LOINC codings (the first is the one the FHIR profile requires) and its UCUM
    unit (None for the blood pressure panel, whose values are its components)."""

    vital: Vital
    codes: tuple[Code, ...] = Field(min_length=1)
    unit: Code | None = None


class Route(_Frozen):
    key: str
    code: Code
    aliases: tuple[str, ...]  # lower case, as a route may be written


class CodeBook(_Frozen):
    snomed_system: str
    loinc_system: str
    ucum_system: str
    agent_classes: dict[AgentClass, Code]
    contrast_media: Code
    allergy_to_contrast: Code
    routes: dict[str, Route]
    manifestations: dict[str, Manifestation]
    vitals: dict[Vital, VitalCode]
    document: Code
    sections: dict[Section, Code]


# --- the file's own shape ---------------------------------------------------------------------


class _Term(_Frozen):
    code: str
    display: str = Field(min_length=1)


class _Systems(_Frozen):
    snomed: str
    loinc: str
    ucum: str


class _Manifestation(_Frozen):
    label: str = Field(min_length=1, max_length=80)
    type: ReactionType
    snomed: _Term | None = None


class _Vital(_Frozen):
    codes: list[_Term] = Field(min_length=1)
    unit: _Term | None = None


class _Route(_Frozen):
    snomed: _Term
    aliases: list[str] = Field(min_length=1)


class _Documents(_Frozen):
    supervision_record: _Term


class _File(_Frozen):
    systems: _Systems
    agent_classes: dict[AgentClass, _Term]
    contrast_media: _Term
    allergy_to_contrast: _Term
    routes: dict[str, _Route]
    manifestations: dict[str, _Manifestation] = Field(min_length=1)
    vitals: dict[Vital, _Vital]
    documents: _Documents
    sections: dict[Section, _Term]


# --- check digits -----------------------------------------------------------------------------

_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)

_SCTID = re.compile(r"^[1-9][0-9]{5,17}$")
_LOINC = re.compile(r"^([0-9]{1,7})-([0-9])$")


def snomed_concept_id_ok(code: str) -> bool:
    """A SNOMED CT concept id: 6-18 digits, no leading zero, partition ``00`` (or ``10`` in an
    extension's namespace) and a valid Verhoeff check digit (the last one)."""
    if not _SCTID.match(code) or code[-3:-1] not in ("00", "10"):
        return False
    check = 0
    for i, digit in enumerate(reversed(code)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[i % 8][int(digit)]]
    return check == 0


def loinc_ok(code: str) -> bool:
    """A LOINC code ``NNNNN-N`` whose last digit is the mod-10 check digit LOINC specifies."""
    match = _LOINC.match(code)
    if match is None:
        return False
    body, check = match.group(1), int(match.group(2))
    total = 0
    for i, digit in enumerate(reversed(body)):
        value = int(digit) * (2 if i % 2 == 0 else 1)
        total += value // 10 + value % 10
    return (10 - total % 10) % 10 == check


# --- loading ----------------------------------------------------------------------------------


def parse(text: str) -> CodeBook:
    """Build the code book from the text of a codes file; raises ``CodeFileError``."""
    try:
        raw: Any = yaml.safe_load(text)
        data = _File.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise CodeFileError(f"codes file: {exc}") from exc
    missing = [c.value for c in AgentClass if c not in data.agent_classes]
    missing += [v.value for v in Vital if v not in data.vitals]
    missing += [s.value for s in Section if s not in data.sections]
    if missing:
        raise CodeFileError(f"codes file: missing entries for {', '.join(missing)}")
    bad: list[str] = []
    snomed_terms: list[tuple[str, _Term]] = [
        *((f"agent_classes.{k}", t) for k, t in data.agent_classes.items()),
        ("contrast_media", data.contrast_media),
        ("allergy_to_contrast", data.allergy_to_contrast),
        *((f"routes.{k}", r.snomed) for k, r in data.routes.items()),
        *((f"manifestations.{k}", m.snomed) for k, m in data.manifestations.items() if m.snomed),
    ]
    bad += [
        f"{where}: {t.code!r} is not a SNOMED CT concept id"
        for where, t in snomed_terms
        if not snomed_concept_id_ok(t.code)
    ]
    loinc_terms: list[tuple[str, _Term]] = [
        ("documents.supervision_record", data.documents.supervision_record),
        *((f"sections.{k}", t) for k, t in data.sections.items()),
    ]
    bad += [
        f"{where}: {t.code!r} is not a LOINC code"
        for where, t in loinc_terms
        if not loinc_ok(t.code)
    ]
    aliases = [a for r in data.routes.values() for a in r.aliases]
    if len(aliases) != len(set(aliases)) or any(a != a.lower().strip() for a in aliases):
        bad.append("routes: aliases are lower case and name one route each")
    for vital, entry in data.vitals.items():
        bad += [
            f"vitals.{vital}: {t.code!r} is not a LOINC code"
            for t in entry.codes
            if not loinc_ok(t.code)
        ]
        if (entry.unit is None) != (vital is Vital.BLOOD_PRESSURE):
            bad.append(f"vitals.{vital}: a unit is required (and only the panel has none)")
    for key in data.manifestations:
        if not re.match(r"^[a-z][a-z0-9_]{1,39}$", key):
            bad.append(f"manifestations.{key}: keys are lower_snake_case")
    if bad:
        raise CodeFileError("codes file: " + "; ".join(bad))

    systems = data.systems

    def sct(term: _Term) -> Code:
        return Code(system=systems.snomed, code=term.code, display=term.display)

    def lnc(term: _Term) -> Code:
        return Code(system=systems.loinc, code=term.code, display=term.display)

    return CodeBook(
        snomed_system=systems.snomed,
        loinc_system=systems.loinc,
        ucum_system=systems.ucum,
        agent_classes={c: sct(t) for c, t in data.agent_classes.items()},
        contrast_media=sct(data.contrast_media),
        allergy_to_contrast=sct(data.allergy_to_contrast),
        routes={
            key: Route(key=key, code=sct(r.snomed), aliases=tuple(r.aliases))
            for key, r in data.routes.items()
        },
        manifestations={
            key: Manifestation(
                key=key,
                label=m.label,
                reaction_type=m.type,
                snomed=m.snomed.code if m.snomed else None,
                snomed_display=m.snomed.display if m.snomed else None,
            )
            for key, m in data.manifestations.items()
        },
        vitals={
            vital: VitalCode(
                vital=vital,
                codes=tuple(lnc(t) for t in v.codes),
                unit=(
                    Code(system=systems.ucum, code=v.unit.code, display=v.unit.display)
                    if v.unit
                    else None
                ),
            )
            for vital, v in data.vitals.items()
        },
        document=lnc(data.documents.supervision_record),
        sections={section: lnc(t) for section, t in data.sections.items()},
    )


@functools.cache
def code_book() -> CodeBook:
    """The shipped ``codes.yaml``, read and validated once per process."""
    return parse(files("signaling.record").joinpath("codes.yaml").read_text(encoding="utf-8"))


def manifestations() -> dict[str, Manifestation]:
    """Every manifestation by key, in the file's order (allergic-like first, then physiologic)."""
    return dict(code_book().manifestations)


def manifestation(key: str) -> Manifestation:
    """The manifestation ``key``; raises ``KeyError`` naming the known keys when it is unknown."""
    book = code_book().manifestations
    if key not in book:
        raise KeyError(f"unknown manifestation {key!r}; known: {', '.join(book)}")
    return book[key]


def agent_class_code(agent_class: AgentClass) -> Code:
    """The SNOMED CT substance concept of a contrast-agent class."""
    return code_book().agent_classes[agent_class]


def vital_codes() -> dict[Vital, VitalCode]:
    return dict(code_book().vitals)


def route_code(route: str) -> Code | None:
    """The SNOMED CT route a route as written means ("IV", "intravenous"), or None."""
    written = route.strip().lower()
    return next(
        (r.code for r in code_book().routes.values() if written in r.aliases),
        None,
    )
