"""A facility's exam setup over HTTP (``GET /api/facilities/{id}/exam-setup``), as the directory file
gave it (tests/directory.yaml: NORTH and LAKE have one, WEST none), for the people who work there."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.directory.exam_setup import (
    DEFAULT_REQUIRED,
    DOCUMENTATION_FIELDS,
    STANDARD_CHECKLIST,
)
from signaling.storage.models import Facility
from tests.live import LiveServer, api, login

STANDARD = [{"code": code, "label": label} for code, label in STANDARD_CHECKLIST]


async def facility_ids(db: AsyncSession) -> dict[str, int]:
    """Facility code -> id, as the server stored them."""
    return {code: id_ for code, id_ in await db.execute(select(Facility.code, Facility.id))}


async def exam_setup(server: LiveServer, username: str | None, facility_id: Any) -> Any:
    token = await login(server, username) if username else None
    async with api(server, token) as client:
        return await client.get(f"/api/facilities/{facility_id}/exam-setup")


async def test_north_has_its_formulary_checklist_fields_card_and_rule(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """NORTH: six agents in the file's order, the standard checklist then its two items, every
    documentation field with its meaning, its DEMO card, and injections only under verified
    supervision."""
    ids = await facility_ids(db_session)
    response = await exam_setup(server, "tech", ids["NORTH"])
    assert response.status_code == 200, response.text
    setup = response.json()["exam_setup"]
    assert setup["facility"] == {
        "id": ids["NORTH"],
        "code": "NORTH",
        "name": "North Imaging Center",
    }
    assert [(a["product"], a["generic"], a["concentration"]) for a in setup["formulary"]] == [
        ("Omnipaque 300", "iohexol", "300 mgI/mL"),
        ("Omnipaque 350", "iohexol", "350 mgI/mL"),
        ("Isovue 370", "iopamidol", "370 mgI/mL"),
        ("Visipaque 320", "iodixanol", "320 mgI/mL"),
        ("Gadavist", "gadobutrol", "1 mmol/mL"),
        ("Dotarem", "gadoterate meglumine", "0.5 mmol/mL"),
    ]
    assert [a["agent_class"] for a in setup["formulary"]] == ["iodinated"] * 4 + ["gadolinium"] * 2
    assert setup["checklist"] == [
        *STANDARD,
        {"code": "egfr_reviewed", "label": "eGFR reviewed where required"},
        {"code": "pregnancy_checked", "label": "Pregnancy status checked"},
    ]
    assert setup["required_fields"] == [
        {"name": name, "label": DOCUMENTATION_FIELDS[name]} for name in DEFAULT_REQUIRED
    ]
    card = setup["reaction_card"]
    assert card["title"].startswith("DEMO reaction card: North Imaging Center")
    assert "DEMO CONTENT" in card["approved"]
    headings = " | ".join(section["heading"] for section in card["sections"])
    for kind in (
        "Hives",
        "Bronchospasm",
        "Laryngeal edema",
        "Hypotension",
        "Anaphylaxis",
        "Vasovagal",
    ):
        assert kind in headings
    assert setup["require_verified_injection"] is True


async def test_lake_has_a_shorter_setup_and_west_the_defaults(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """LAKE: three iodinated agents, only the standard checklist, a shorter list of required
    fields, its own card, injections not refused. WEST (no exam_setup in the file): the defaults."""
    ids = await facility_ids(db_session)
    lake = (await exam_setup(server, "tech", ids["LAKE"])).json()["exam_setup"]
    assert [a["code"] for a in lake["formulary"]] == ["iohexol-300", "iohexol-350", "iopamidol-370"]
    assert lake["checklist"] == STANDARD
    names = [f["name"] for f in lake["required_fields"]]
    assert "accession_number" in names
    assert "reaction.handoff" not in names
    assert len(names) < len(DEFAULT_REQUIRED)
    assert lake["reaction_card"]["title"].startswith("DEMO reaction card: Lakeside Imaging")
    assert lake["require_verified_injection"] is False

    west = (await exam_setup(server, "techwest", ids["WEST"])).json()["exam_setup"]
    assert west["formulary"] == []
    assert west["checklist"] == STANDARD
    assert [f["name"] for f in west["required_fields"]] == list(DEFAULT_REQUIRED)
    assert west["reaction_card"] is None
    assert west["require_verified_injection"] is False


@pytest.mark.parametrize(
    ("username", "facility", "status"),
    [
        ("tech", "NORTH", 200),  # a technologist of NORTH (and LAKE)
        ("tech", "LAKE", 200),
        ("super", "NORTH", 200),  # NORTH's supervisor
        ("admin", "GULF", 200),
        ("drdiaz", "LAKE", 200),  # privileged at NORTH, LAKE, EAST
        ("drexpired", "NORTH", 200),  # privileged there; the license is the pager's business
        ("drnopriv", "LAKE", 200),
        ("drnopriv", "NORTH", 403),  # licensed in Texas, privileged only at LAKE
        ("drpatel", "LAKE", 403),
        ("techwest", "NORTH", 403),  # a technologist of another facility
        ("super", "LAKE", 403),  # supervises NORTH only
        ("superport", "NORTH", 403),
        (None, "NORTH", 401),
    ],
)
async def test_who_may_read_a_facilitys_exam_setup(
    server: LiveServer, db_session: AsyncSession, username: str | None, facility: str, status: int
) -> None:
    """Its technologists and supervisors, radiologists privileged there and admins read it;
    anyone else logged in gets 403 naming who may, and no login 401."""
    ids = await facility_ids(db_session)
    response = await exam_setup(server, username, ids[facility])
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["error"] == "forbidden"
        assert "technologists and supervisors" in response.json()["detail"]
        assert "formulary" not in response.text


@pytest.mark.parametrize(
    ("username", "facility_id", "status", "words"),
    [
        ("admin", "north", 422, "path.facility_id"),
        ("admin", "0", 422, "path.facility_id"),
        ("admin", "-3", 422, "path.facility_id"),
        ("admin", str(2**31), 422, "path.facility_id"),  # past the schema's 32-bit row ids
        ("admin", "99999999999999999999", 422, "path.facility_id"),
        ("admin", "99999", 404, "no facility 99999"),
        ("tech", "99999", 404, "no facility 99999"),
        ("drdiaz", str(2**31 - 1), 404, f"no facility {2**31 - 1}"),
    ],
)
async def test_bad_facility_ids_are_named(
    server: LiveServer, username: str, facility_id: str, status: int, words: str
) -> None:
    """An id that is not a row id is a 422 naming the path parameter; an unknown one a 404."""
    response = await exam_setup(server, username, facility_id)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]


async def test_the_exam_setup_is_in_the_api_description(server: LiveServer) -> None:
    """/openapi.json lists the route with its response model: formulary, checklist, fields, card."""
    async with api(server) as client:
        description = (await client.get("/openapi.json")).json()
    route = description["paths"]["/api/facilities/{facility_id}/exam-setup"]["get"]
    answer = route["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schemas = description["components"]["schemas"]
    view = schemas[
        schemas[answer.rsplit("/", 1)[-1]]["properties"]["exam_setup"]["$ref"].rsplit("/", 1)[-1]
    ]
    assert set(view["properties"]) == {
        "facility",
        "formulary",
        "checklist",
        "required_fields",
        "reaction_card",
        "require_verified_injection",
    }
    assert set(schemas["FormularyAgent"]["properties"]) >= {"agent_class", "product", "generic"}
    assert "sections" in schemas["ReactionCard"]["properties"]
