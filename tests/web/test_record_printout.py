"""The printable supervision record in Chromium (issue 10 item 6): the HTML asks for nothing from
outside, reads on a laptop screen, and Chromium prints a typical record on one Letter page and on
one A4 page."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from playwright.async_api import Browser, Request

from signaling.record import printout
from tests.signaling.record.records import cancelled, full, unverified
from tests.web.test_browser import screenshot

pytestmark = pytest.mark.browser


def _pdfinfo(path: Path) -> str:
    return subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout


def _pages(path: Path) -> int:
    info = _pdfinfo(path)
    match = re.search(r"^Pages:\s+(\d+)$", info, re.M)
    assert match, info
    return int(match[1])


@pytest.mark.parametrize("name", ["full", "cancelled", "unverified"])
async def test_chromium_shows_and_prints_the_record_on_one_page(
    browser: Browser, tmp_path: Path, name: str
) -> None:
    """No request leaves the page; the record fits the width of a 1366x768 screen; printed, a
    typical record is one Letter page (the CSS's size) and one A4 page."""
    view = {"full": full, "cancelled": cancelled, "unverified": unverified}[name]()
    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    requests: list[str] = []

    def note(request: Request) -> None:
        requests.append(request.url)

    context.on("request", note)
    page = await context.new_page()
    try:
        await page.set_content(printout.html(view), wait_until="load")
        assert requests == []
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow == 0
        assert await page.locator("script").count() == 0
        await screenshot(page, f"record-{name}-1366x768")
        letter, a4 = tmp_path / "letter.pdf", tmp_path / "a4.pdf"
        await page.pdf(path=str(letter), prefer_css_page_size=True)
        await page.pdf(path=str(a4), format="A4", margin={"top": "10mm", "bottom": "11mm"})
        assert _pages(letter) == 1
        assert _pages(a4) == 1
        assert "612 x 792 pts" in _pdfinfo(letter)
    finally:
        await context.close()
