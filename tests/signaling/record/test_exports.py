"""A real session's record exported through the service (issue 10 items 6 and 8): the printable
record as HTML and PDF, its JSON, and the FHIR document, each from the same stored entries; who may
export it."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.record.fhir import check
from tests.live import LiveServer, api, login
from tests.signaling.helpers import join_request, open_session
from tests.signaling.record.test_record import EXAM, set_exam_setup

SCREENSHOTS = os.environ.get("STANDBY_SCREENSHOT_DIR")  # read before the tests clear the env


async def a_session_with_a_reaction(server: LiveServer) -> str:
    """Dr Diaz joins; the exam, checklist and injection; a mild allergic-like reaction with a
    treatment, vitals and an amendment; the session completed."""
    tech, rad = await login(server, "tech"), await login(server, "drdiaz")
    session = await open_session(server, tech, accession_number="ACC-7001")
    sid = session["id"]
    await join_request(server, rad, sid)
    async with api(server, tech) as client:
        assert (await client.put(f"/api/sessions/{sid}/exam", json=EXAM)).status_code == 200
        await client.post(f"/api/sessions/{sid}/checklist", json={"confirmed": ["consent"]})
        assert (await client.post(f"/api/sessions/{sid}/injection")).status_code == 201
        opened = await client.post(
            f"/api/sessions/{sid}/reactions",
            json={"severity": "mild", "type": "allergic_like"},
        )
        reaction = opened.json()["reaction"]
        base = f"/api/sessions/{sid}/reactions/{reaction}"
        await client.post(
            f"{base}/findings",
            json={
                "manifestations": ["hives_diffuse", "facial_swelling"],
                "outcome": "resolved_on_site",
                "recommendation": "switch_agent",
                "allergy_recorded": True,
                "handoff": "Told the referring physician, Dr Lane, at 10:40",
            },
        )
        treated = await client.post(
            f"{base}/treatments",
            json={"drug": "diphenhydramine", "dose": "50 mg", "route": "IV", "given_by": "RN Lee"},
        )
        await client.post(
            f"{base}/vitals", json={"systolic": 118, "diastolic": 76, "heart_rate": 96}
        )
        await client.post(
            f"/api/sessions/{sid}/amendments",
            json={
                "target_seq": treated.json()["entry"],
                "changes": {"dose": "25 mg"},
                "reason": "dose mistyped",
            },
        )
    async with api(server, rad) as client:
        await client.post(f"{base}/acknowledge")
    return sid


async def test_the_printable_record_pdf_json_and_fhir_say_the_same(
    server: LiveServer, db_session: AsyncSession, tmp_path: Path
) -> None:
    """HTML in plain words (names, license, the injection's supervision, the amendment with its
    original), a one-page PDF that renders, JSON with names, and a FHIR document that the R4B
    models and our own checks accept, naming the exact agent."""
    await set_exam_setup(db_session)
    sid = await a_session_with_a_reaction(server)
    async with api(server, await login(server, "super")) as client:
        page = await client.get(f"/api/sessions/{sid}/record.html")
        pdf = await client.get(f"/api/sessions/{sid}/record.pdf")
        machine = await client.get(f"/api/sessions/{sid}/record.json")
        fhir = await client.get(f"/api/sessions/{sid}/record/fhir")
    for response in (page, pdf, machine, fhir):
        assert response.status_code == 200, response.text[:300]
        assert response.headers["cache-control"] == "no-store"
    text = page.text
    for words in (
        "North Imaging Center",
        "Tina Torres",
        "Dr Ray Diaz",
        "TX license TX-1",
        "Omnipaque 350",
        "ACC-7001",
        "dose mistyped",
        "50 mg",
        "25 mg",
    ):
        assert words in text, words
    assert pdf.content.startswith(b"%PDF")
    target = tmp_path / "record.pdf"
    target.write_bytes(pdf.content)
    info = (
        await asyncio.to_thread(
            subprocess.run, ["pdfinfo", str(target)], capture_output=True, text=True, check=True
        )
    ).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M), info
    await asyncio.to_thread(
        subprocess.run,
        ["pdftoppm", "-png", "-r", "50", str(target), str(tmp_path / "page")],
        check=True,
    )
    assert (tmp_path / "page-1.png").stat().st_size > 10_000
    if folder := SCREENSHOTS:
        shutil.copy(tmp_path / "page-1.png", Path(folder) / "record-pdf-page-1.png")
        shutil.copy(target, Path(folder) / "record.pdf")
    body: dict[str, Any] = machine.json()
    assert "Dr Ray Diaz" in str(body)
    assert fhir.headers["content-type"].startswith("application/fhir+json")
    document = fhir.json()
    assert check(document) == []
    Bundle.model_validate(document)
    allergies = [
        e["resource"]
        for e in document["entry"]
        if e["resource"]["resourceType"] == "AllergyIntolerance"
    ]
    assert len(allergies) == 1
    assert "iohexol" in str(allergies[0]).lower()
    assert allergies[0]["reaction"][0]["severity"] == "mild"


async def test_only_those_who_may_see_the_exam_export_it(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """A radiologist who is not the session's gets 404 (no probing), nobody logged in 401, an
    unknown session 404."""
    await set_exam_setup(db_session)
    sid = await a_session_with_a_reaction(server)
    async with api(server, await login(server, "drpatel")) as client:
        for path in ("record.html", "record.pdf", "record.json", "record/fhir", "record"):
            assert (await client.get(f"/api/sessions/{sid}/{path}")).status_code == 404, path
    async with api(server) as client:
        assert (await client.get(f"/api/sessions/{sid}/record.pdf")).status_code == 401
    async with api(server, await login(server, "super")) as client:
        missing = await client.get("/api/sessions/00000000-0000-0000-0000-000000000000/record.pdf")
        assert missing.status_code == 404
