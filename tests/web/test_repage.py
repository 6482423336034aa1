"""The radiologist gone for good mid-exam, in real Chromium (issue 4 item 4): past the re-page window
(3 s here) paging starts again, and the technologist's page says so."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.async_api import expect

from tests.conftest import make_settings
from tests.live import LiveServer, api, free_port, login, run_server
from tests.web.pages import Pages
from tests.web.test_browser import screenshot
from tests.web.test_reconnect import joined


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """The service with a 3 s re-page window (STANDBY_REPAGE_AFTER_S)."""
    port = free_port()
    with run_server(make_settings(database_url, port, repage_after_s=3.0), port) as live:
        yield live


async def test_a_radiologist_gone_past_the_window_is_paged_around_and_the_technologist_sees_it(
    server: LiveServer, pages: Pages
) -> None:
    """The radiologist's phone dies mid-exam (its page closes): the technologist's page says the
    radiologist's media is not arriving, and once it has been gone for the window, that Standby is
    paging again and not to inject; the paging panel is back and the record has the re-page."""
    session_id, tech, rad = await joined(pages, server)
    await rad.context.close()
    gone_at = time.monotonic()
    await expect(tech.locator("body")).to_have_attribute("data-link", "problem", timeout=8_000)
    await expect(tech.locator("#notices")).to_contain_text(
        "did not come back in time. Standby is paging radiologists again", timeout=15_000
    )
    print(
        f"\nradiologist's page closed -> technologist told of the re-page: "
        f"{time.monotonic() - gone_at:.2f} s (window 3 s)"
    )
    await expect(tech.locator("#notices")).to_contain_text("do not inject")
    await expect(tech.locator("#state")).to_have_attribute("data-state", "paging")
    await expect(tech.locator("#paging")).to_be_visible()
    # The counter runs again, against 30 s and 90 s from the re-page.
    await expect(tech.locator("#elapsed-caption")).to_contain_text("since the re-page")
    await expect(tech.locator("#notices")).not_to_contain_text("not reaching you")  # call is over
    await screenshot(tech, "tech-repaged")
    async with api(server, await login(server, "tech")) as client:
        events = (await client.get(f"/api/sessions/{session_id}/events")).json()["events"]
    assert [e["kind"] for e in events].count("media_lost") == 1
    pages.opened[-1].check()  # the technologist's page: no uncaught error
