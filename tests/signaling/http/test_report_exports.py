"""The reports as pictures and paper through the real service: a chart as SVG with the 30 s and
90 s lines, the operational review as HTML and as a Letter PDF whose text carries the figures,
and who may have them."""

from __future__ import annotations

import asyncio
import subprocess
import xml.etree.ElementTree as ET
from datetime import timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.clock import utc_now
from signaling.storage.models import SupervisionSession
from tests.live import LiveServer, api, login
from tests.signaling.reports.data import ids, session_row

SVG = "{http://www.w3.org/2000/svg}"


async def seed(db: AsyncSession) -> None:
    """Four NORTH sessions yesterday (12 s, 45 s, 100 s, never joined) and one at PORT."""
    known = await ids(db)
    yesterday = utc_now().replace(hour=15, minute=0, second=0, microsecond=0) - timedelta(days=1)
    rows = [
        session_row(known, yesterday, 12.0, radiologist="drdiaz"),
        session_row(known, yesterday + timedelta(hours=1), 45.0, radiologist="drdiaz"),
        session_row(known, yesterday + timedelta(hours=2), 100.0, radiologist="drdiaz"),
        session_row(known, yesterday + timedelta(hours=3), None),
        session_row(known, yesterday, 20.0, facility="PORT"),
    ]
    await db.execute(insert(SupervisionSession), rows)
    await db.commit()


async def test_a_chart_is_svg_with_the_benchmark_lines(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """The response-time histogram of the supervisor's facility: SVG, three bars (the unmeasured
    session is no bar), the 30 s and 90 s lines labelled; an unknown chart is a 404 naming it."""
    await seed(db_session)
    token = await login(server, "super")
    async with api(server, token) as client:
        got = await client.get("/api/reports/response_time/charts/histogram.svg")
        unknown = await client.get("/api/reports/response_time/charts/pie.svg")
        other_report = await client.get("/api/reports/forecast/charts/histogram.svg")
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("image/svg+xml")
    assert got.headers["cache-control"] == "no-store"
    root = ET.fromstring(got.text)  # noqa: S314 (our own output)
    assert root.tag == f"{SVG}svg"
    text = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    assert "30 s" in text
    assert "90 s" in text
    assert unknown.status_code == 404
    assert "pie" in unknown.json()["detail"]
    assert other_report.status_code == 404


async def test_the_review_prints_the_figures_as_a_letter_pdf(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """The operational review of response times for NORTH: a PDF named by its dates only, whose
    text has the session count and the unmeasured share; the HTML is the same document."""
    await seed(db_session)
    token = await login(server, "super")
    async with api(server, token) as client:
        # Laying out a PDF takes seconds on a loaded machine: wait for it (a fault still fails).
        pdf = await client.get(
            "/api/reports/review.pdf", params={"report": "response_time"}, timeout=120
        )
        html = await client.get(
            "/api/reports/review.html", params={"report": "response_time"}, timeout=120
        )
    assert pdf.status_code == 200, pdf.text
    assert pdf.content.startswith(b"%PDF")
    disposition = pdf.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="operational-review-')
    assert "ACC" not in disposition
    text = (
        await asyncio.to_thread(
            subprocess.run,
            ["pdftotext", "-layout", "-", "-"],
            input=pdf.content,
            capture_output=True,
            check=True,
        )
    ).stdout.decode()
    assert "North Imaging Center" in text
    assert "Port Imaging" not in text  # another supervisor's facility
    assert "25.0%" in text  # one of the four sessions was never joined
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert "<svg" in html.text
    assert "North Imaging Center" in html.text
    assert "ACC-1" not in html.text
    assert b"ACC-1" not in pdf.content


async def test_pictures_and_paper_only_for_supervisors_of_their_own_facilities(
    server: LiveServer,
) -> None:
    """Nobody logged in: 401. A technologist: 403. A supervisor naming another's facility: 403.
    An unknown report: 404. A date that is no date: 422."""
    tech = await login(server, "tech")
    sup = await login(server, "super")
    async with api(server) as anonymous:
        assert (await anonymous.get("/api/reports/review.pdf")).status_code == 401
    async with api(server, tech) as client:
        assert (await client.get("/api/reports/review.pdf")).status_code == 403
        assert (
            await client.get("/api/reports/response_time/charts/histogram.svg")
        ).status_code == 403
    async with api(server, sup) as client:
        others = await client.get("/api/reports/review.pdf", params={"facility": 999_999})
        assert others.status_code == 403
        nothing = await client.get("/api/reports/review.pdf", params={"report": "horoscope"})
        assert nothing.status_code == 404
        bad = await client.get("/api/reports/review.html", params={"from": "yesterday-ish"})
        assert bad.status_code == 422
        huge = await client.get("/api/reports/review.html", params={"report": ["x" * 5000]})
        assert huge.status_code == 422
