"""The console's Reports section in Chromium (issue 11 items 2, 7): the response-time report of the
supervisor's own facility as cards with the change against the previous period, the server's
charts, a CSV download that parses, the operational review as PDF, the forecast and before/after.
"""

from __future__ import annotations

import csv
import io

import pytest
from playwright.async_api import expect
from sqlalchemy.ext.asyncio import AsyncSession

from tests.live import LiveServer
from tests.signaling.http.test_report_exports import seed
from tests.web.pages import Pages
from tests.web.test_browser import screenshot, sign_in
from tests.web.test_super import DESKTOP, PHONE

pytestmark = pytest.mark.browser


async def test_reports_show_cards_charts_csv_and_the_review(
    server: LiveServer, pages: Pages, db_session: AsyncSession
) -> None:
    """Four NORTH sessions yesterday (12 s, 45 s, 100 s, never joined): the cards say 4 sessions
    and 25 % unmeasured; three charts are drawn; the by-facility CSV downloads and parses with
    North's four sessions and no other facility; the review link gives a PDF; the forecast and
    before/after read too."""
    await seed(db_session)
    watched = await pages.open(viewport=DESKTOP, accept_downloads=True)
    page = watched.page
    await sign_in(page, server, "super", "/super")
    await page.locator('[data-testid="tab-reports"]').click()
    status = page.locator('[data-testid="report-status"]')
    await expect(status).to_have_attribute("data-state", "ok")
    root = page.locator('[data-testid="report-root"]')
    await expect(root.locator(".report-title")).to_contain_text("Response time")
    sessions = root.locator('.report-card[data-key="sessions"] .report-value')
    await expect(sessions).to_have_text("4")
    unmeasured = root.locator('.report-card[data-key="share_unmeasured"] .report-value')
    await expect(unmeasured).to_have_text("25.0 %")
    charts = page.locator('[data-testid="report-charts"] img')
    await expect(charts).to_have_count(3)
    for i in range(3):
        await expect(charts.nth(i)).to_have_js_property("complete", True)
        assert await charts.nth(i).evaluate("img => img.naturalWidth") > 100
    await screenshot(page, "super-reports-1366x768")
    await page.set_viewport_size(PHONE)
    await screenshot(page, "super-reports-390x844")
    await page.set_viewport_size(DESKTOP)

    async with page.expect_download() as downloading:
        await root.locator('[data-testid="csv-by_facility"]').click()
    download = await downloading.value
    assert "ACC" not in download.suggested_filename
    text = (await download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 2, rows  # the header and North: nothing of Port's
    assert rows[1][0] == "North Imaging Center"
    assert rows[1][1] == "4"

    pdf = await page.request.get(await page.locator("#r-pdf").get_attribute("href") or "")
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert (await pdf.body()).startswith(b"%PDF")

    await page.select_option("#r-key", "forecast")
    await expect(root.locator(".report-title")).to_contain_text("forecast")
    await expect(status).to_have_attribute("data-state", "ok")
    await page.select_option("#r-key", "before_after")
    await expect(status).to_have_attribute("data-state", "ok")
    await expect(root.locator(".report-card").first).to_be_visible()
    await page.fill("#r-from", "2026-05-10")
    await page.fill("#r-to", "2026-05-01")
    await page.click("#r-show")
    await expect(status).to_have_attribute("data-state", "error")
    await expect(status).to_contain_text("must start on or before")
    watched.check()
