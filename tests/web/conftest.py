"""Browser fixtures: Debian's Chromium through Playwright, with fake camera and microphone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect

from tests.conftest import fresh_database
from tests.live import LiveServer
from tests.web.pages import Pages

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
# A page's answer waits on the server (a request opens its session and fires its first tier in one
# transaction): on a loaded two-core machine that took over 5 s, Playwright's default. Waiting
# longer hides no fault: a page that never shows the state still fails.
expect.set_options(timeout=15_000)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Pages are driven against PostgreSQL only, the database the service runs on: what differs
    between the two databases is behind the API, and the API's tests run on both."""
    yield from fresh_database(request, tmp_path, "postgresql")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A headless Chromium for one test (each test gets fresh contexts from it)."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def pages(browser: Browser, server: LiveServer) -> AsyncIterator[Pages]:
    opened = Pages(browser, server)
    yield opened
    await opened.close()
