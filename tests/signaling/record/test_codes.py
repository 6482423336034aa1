"""The record's code data file: it loads, carries the ACR vocabulary, and a typo in any code fails."""

from __future__ import annotations

from importlib.resources import files

import pytest

from signaling.directory.exam_setup import AgentClass
from signaling.record import codes
from signaling.record.codes import CodeFileError, Vital, loinc_ok, parse, snomed_concept_id_ok
from signaling.record.view import ReactionType

SHIPPED = files("signaling.record").joinpath("codes.yaml").read_text(encoding="utf-8")


def test_the_shipped_file_loads_with_the_acr_vocabulary() -> None:
    """Every manifestation the reaction form offers is there, with its plain label and ACR type."""
    book = codes.manifestations()
    allergic = {
        "hives_limited",
        "hives_diffuse",
        "itching",
        "facial_swelling",
        "throat_tightness",
        "wheeze",
        "bronchospasm",
        "laryngeal_edema",
        "hypotension",
        "anaphylactic_shock",
        "sneezing",
        "congestion",
        "erythema",
    }
    physiologic = {
        "nausea",
        "vomiting",
        "flushing",
        "headache",
        "dizziness",
        "anxiety",
        "altered_taste",
        "vasovagal",
        "chest_pain",
        "hypertension",
        "arrhythmia",
        "seizure",
    }
    assert allergic | physiologic <= book.keys()
    assert {k for k in allergic if book[k].reaction_type is ReactionType.ALLERGIC_LIKE} == allergic
    assert {k for k in physiologic if book[k].reaction_type is ReactionType.PHYSIOLOGIC} == (
        physiologic
    )
    assert all(m.key == k and m.label for k, m in book.items())
    assert book["hives_diffuse"].snomed == "126485001"
    assert book["anaphylactic_shock"].snomed == "39579001"
    assert book["altered_taste"].snomed is None  # no code fits: text only, never invented


def test_agent_classes_and_vitals_carry_the_named_codes() -> None:
    """Iodinated and gadolinium-based classes, the vital signs' LOINC codes and UCUM units."""
    assert codes.agent_class_code(AgentClass.IODINATED).code == "426722004"
    assert codes.agent_class_code(AgentClass.GADOLINIUM).code == "1348311005"
    assert codes.agent_class_code(AgentClass.IODINATED).system == "http://snomed.info/sct"
    vitals = codes.vital_codes()
    assert [c.code for c in vitals[Vital.BLOOD_PRESSURE].codes] == ["85354-9"]
    assert vitals[Vital.BLOOD_PRESSURE].unit is None
    assert vitals[Vital.SYSTOLIC].codes[0].code == "8480-6"
    assert vitals[Vital.DIASTOLIC].codes[0].code == "8462-4"
    assert vitals[Vital.HEART_RATE].codes[0].code == "8867-4"
    assert vitals[Vital.RESPIRATORY_RATE].codes[0].code == "9279-1"
    assert "59408-5" in [c.code for c in vitals[Vital.SPO2].codes]
    units = {v: vc.unit.code for v, vc in vitals.items() if vc.unit}
    assert units[Vital.SYSTOLIC] == "mm[Hg]"
    assert units[Vital.HEART_RATE] == "/min"
    assert units[Vital.SPO2] == "%"
    assert all(vc.unit.system == "http://unitsofmeasure.org" for vc in vitals.values() if vc.unit)


def test_every_code_in_the_file_is_well_formed() -> None:
    """Each SNOMED CT id passes Verhoeff, each LOINC code its mod-10 check digit."""
    book = codes.code_book()
    snomed = [c.code for c in book.agent_classes.values()]
    snomed += [book.contrast_media.code, book.allergy_to_contrast.code]
    snomed += [m.snomed for m in book.manifestations.values() if m.snomed]
    snomed += [r.code.code for r in book.routes.values()]
    loinc = [c.code for v in book.vitals.values() for c in v.codes]
    loinc += [book.document.code, *(c.code for c in book.sections.values())]
    assert len(snomed) > 25
    assert len(loinc) == 12
    assert [c for c in snomed if not snomed_concept_id_ok(c)] == []
    assert [c for c in loinc if not loinc_ok(c)] == []


@pytest.mark.parametrize("code", ["126485001", "1348311005", "4386001", "39579001"])
def test_the_verhoeff_check_catches_one_wrong_digit(code: str) -> None:
    """Any single changed digit, and a swap of two neighbours, fails the SNOMED CT check."""
    assert snomed_concept_id_ok(code)
    for i in range(len(code)):
        for digit in "0123456789":
            typo = code[:i] + digit + code[i + 1 :]
            if typo != code:
                assert not snomed_concept_id_ok(typo), typo
    for i in range(len(code) - 1):
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        if swapped != code:
            assert not snomed_concept_id_ok(swapped), swapped


def test_the_loinc_check_catches_a_wrong_digit_and_a_bad_shape() -> None:
    """A changed digit, a missing dash or letters fail the LOINC check."""
    for good in ("85354-9", "8480-6", "8462-4", "8867-4", "9279-1", "59408-5", "2708-6"):
        assert loinc_ok(good)
        body, check = good.split("-")
        assert not loinc_ok(f"{body}-{(int(check) + 1) % 10}")
        assert not loinc_ok(f"{body[:-1]}{(int(body[-1]) + 3) % 10}-{check}")
    for bad in ("88674", "8867-44", "A867-4", "", "8867-"):
        assert not loinc_ok(bad)


def test_routes_are_matched_as_written() -> None:
    """ "IV", " intravenous " and "IM" find their SNOMED CT route; an unknown route finds none."""
    assert codes.route_code("IV") == codes.route_code(" intravenous ")
    assert codes.route_code("IV") is not None
    assert codes.route_code("IV").code == "47625008"
    im = codes.route_code("IM")
    assert im is not None
    assert im.code == "78421000"
    assert codes.route_code("inhaled") is None


def test_a_typo_in_the_file_fails_loading_and_names_the_entry() -> None:
    """One wrong digit in a manifestation's code (or a vital's) is refused on load."""
    with pytest.raises(CodeFileError, match=r"manifestations\.wheeze: '56018005'"):
        parse(SHIPPED.replace('"56018004"', '"56018005"'))
    with pytest.raises(CodeFileError, match=r"vitals\.heart_rate: '8867-3'"):
        parse(SHIPPED.replace('"8867-4"', '"8867-3"'))
    with pytest.raises(CodeFileError, match=r"sections\.vital_signs: '8716-4'"):
        parse(SHIPPED.replace('"8716-3"', '"8716-4"'))
    with pytest.raises(CodeFileError, match=r"routes\.intravenous: '47625009'"):
        parse(SHIPPED.replace('"47625008"', '"47625009"'))


def test_a_file_missing_an_entry_or_with_an_unknown_key_is_refused() -> None:
    """No gadolinium class, a misspelt field, or an unknown reaction type: a clear error."""
    with pytest.raises(CodeFileError, match="gadolinium"):
        parse(SHIPPED.replace("  gadolinium: {", "  # gadolinium: {"))
    with pytest.raises(CodeFileError, match="snomd"):
        parse(SHIPPED.replace('    snomed: { code: "56018004"', '    snomd: { code: "56018004"'))
    with pytest.raises(CodeFileError, match="type"):
        parse(SHIPPED.replace("type: physiologic", "type: physical", 1))
