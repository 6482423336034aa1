"""A facility's exam setup in the directory file: checked with the facility named, stored on load,
kept when a later file leaves it out, and read back with the defaults where none was given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from signaling.common.errors import InvalidInput
from signaling.directory.exam_setup import (
    DEFAULT_REQUIRED,
    STANDARD_CHECKLIST,
    AgentClass,
    ExamSetup,
    exam_setup_of,
)
from signaling.directory.file import load_directory, parse_directory
from signaling.storage.database import make_engine, make_session_factory
from signaling.storage.models import Facility
from tests.signaling.test_cli import standby

TEST_DIRECTORY = Path(__file__).parents[2] / "directory.yaml"
README = Path(__file__).parents[3] / "README.md"
AGENT = {
    "code": "iohexol-350",
    "agent_class": "iodinated",
    "product": "Omnipaque 350",
    "generic": "iohexol",
    "concentration": "350 mgI/mL",
}


def facility(code: str, exam_setup: dict[str, Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": code, "name": code, "state": "TX", "timezone": "UTC"}
    if exam_setup is not None:
        entry["exam_setup"] = exam_setup
    return entry


def document(exam_setup: dict[str, Any]) -> str:
    """A file whose second facility, LAKE, carries ``exam_setup`` (the first is fine)."""
    return yaml.safe_dump({"facilities": [facility("NORTH", {}), facility("LAKE", exam_setup)]})


async def stored_setups(database_url: str) -> dict[str, dict[str, Any] | None]:
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as db:
            rows = await db.execute(select(Facility.code, Facility.exam_setup))
            return {code: setup for code, setup in rows}
    finally:
        await engine.dispose()


def test_a_facility_without_a_setup_reads_as_the_defaults() -> None:
    """No formulary, the standard checklist, every documentation field, no card, not refused."""
    setup = exam_setup_of(Facility(code="X", exam_setup=None))
    assert setup == ExamSetup()
    assert setup.formulary == []
    assert setup.checklist_items() == list(STANDARD_CHECKLIST)
    assert setup.required_fields == list(DEFAULT_REQUIRED)
    assert setup.reaction_card is None
    assert setup.require_verified_injection is False


def test_a_stored_setup_reads_back_as_given() -> None:
    """What the loader stored (``model_dump(mode="json")``) reads back equal, agent by code."""
    given = ExamSetup.model_validate(
        {"formulary": [AGENT], "checklist": [{"code": "egfr", "label": "eGFR reviewed"}]}
    )
    setup = exam_setup_of(Facility(code="X", exam_setup=given.model_dump(mode="json")))
    assert setup == given
    agent = setup.agent("iohexol-350")
    assert agent is not None
    assert agent.agent_class is AgentClass.IODINATED
    assert setup.agent("gadobutrol") is None
    assert setup.checklist_items()[-1] == ("egfr", "eGFR reviewed")


def test_the_readmes_example_is_a_valid_exam_setup() -> None:
    """The README's ``exam_setup:`` example loads as written (with a facility's own fields)."""
    text = README.read_text()
    example = text[text.index("### Exam setup") :]
    example = example[example.index("```yaml") + len("```yaml") : example.index("```\n\n")]
    example = example.replace(
        "    # ... as above, plus\n", "    name: N\n    state: TX\n    timezone: UTC\n"
    )
    (north,) = parse_directory(example, "README.md").facilities
    assert north.exam_setup is not None
    assert [a.code for a in north.exam_setup.formulary] == ["iohexol-350", "gadobutrol"]
    assert north.exam_setup.require_verified_injection is True


@pytest.mark.parametrize(
    ("exam_setup", "words"),
    [
        (
            {"required_fields": ["volume", "colour_of_gown"]},
            "facility LAKE: exam_setup: unknown required_fields colour_of_gown; known: accession_number",
        ),
        (
            {"formulary": [AGENT, AGENT]},
            "facility LAKE: exam_setup: formulary codes repeat: iohexol-350",
        ),
        (
            {"formulary": [AGENT | {"agent_class": "barium"}]},
            "facility LAKE: exam_setup.formulary.0.agent_class: Input should be 'iodinated' or 'gadolinium'",
        ),
        (
            {"checklist": [{"code": "consent", "label": "Consent signed"}]},
            "facility LAKE: exam_setup: checklist code consent repeats a standard item",
        ),
        (
            {"checklist": [{"code": "egfr", "label": "A"}, {"code": "egfr", "label": "B"}]},
            "facility LAKE: exam_setup: checklist codes repeat: egfr",
        ),
        (
            {"required_fields": ["volume", "volume"]},
            "facility LAKE: exam_setup: required_fields repeat: volume",
        ),
        (
            {"reaction_card": {"title": "Card", "approved": "Dr X, 2026", "sections": []}},
            "facility LAKE: exam_setup.reaction_card.sections: List should have at least 1 item",
        ),
        ({"injection_rule": "strict"}, "facility LAKE: exam_setup.injection_rule: Extra inputs"),
    ],
    ids=[
        "unknown required field",
        "repeated formulary code",
        "unknown agent class",
        "checklist repeats a standard item",
        "repeated checklist code",
        "repeated required field",
        "empty reaction card",
        "unknown key",
    ],
)
def test_mistakes_in_an_exam_setup_name_the_facility_and_the_fault(
    exam_setup: dict[str, Any], words: str
) -> None:
    """Each mistake is named with the facility's code, where it is and what is wrong."""
    with pytest.raises(InvalidInput) as caught:
        parse_directory(document(exam_setup), "bad.yaml")
    assert caught.value.message.startswith("bad.yaml: facilities.1.exam_setup: ")
    assert words in caught.value.message


async def test_loading_stores_the_setup_and_a_file_without_one_keeps_it(
    database_url: str,
) -> None:
    """tests/directory.yaml stored NORTH's and LAKE's setups (WEST has none); a file naming NORTH
    without ``exam_setup`` keeps NORTH's; a file with a new one replaces it."""
    loaded = yaml.safe_load(TEST_DIRECTORY.read_text())
    north_given = next(f for f in loaded["facilities"] if f["code"] == "NORTH")["exam_setup"]
    stored = await stored_setups(database_url)
    assert stored["NORTH"] == ExamSetup.model_validate(north_given).model_dump(mode="json")
    assert stored["NORTH"]["require_verified_injection"] is True
    assert stored["LAKE"] is not None
    assert stored["WEST"] is None

    north = facility("NORTH") | {
        "name": "North Imaging Center",
        "timezone": "America/Chicago",
    }
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as db, db.begin():
            await load_directory(db, parse_directory(yaml.safe_dump({"facilities": [north]})))
        assert (await stored_setups(database_url))["NORTH"] == stored["NORTH"]

        replaced = north | {"exam_setup": {"formulary": [AGENT]}}
        async with make_session_factory(engine)() as db, db.begin():
            await load_directory(db, parse_directory(yaml.safe_dump({"facilities": [replaced]})))
    finally:
        await engine.dispose()
    after = await stored_setups(database_url)
    assert after["NORTH"] == ExamSetup.model_validate({"formulary": [AGENT]}).model_dump(
        mode="json"
    )
    assert after["LAKE"] == stored["LAKE"]


async def test_a_file_with_a_bad_exam_setup_changes_nothing(
    database_url: str, tmp_path: Path
) -> None:
    """`standby load-directory` with a fine new setup for NORTH and a bad one for LAKE exits 2,
    names LAKE and the fault, and stores neither."""
    before = await stored_setups(database_url)
    path = tmp_path / "bad.yaml"
    north = facility("NORTH", {"formulary": [AGENT], "require_verified_injection": False})
    lake = facility("LAKE", {"formulary": [AGENT | {"agent_class": "barium"}]})
    path.write_text(yaml.safe_dump({"facilities": [north, lake]}))
    result = standby(database_url, "load-directory", str(path))
    assert result.returncode == 2, result.stdout
    assert "facility LAKE: exam_setup.formulary.0.agent_class" in result.stderr
    assert await stored_setups(database_url) == before
