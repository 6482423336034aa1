"""Pages in their own browser contexts, watched for uncaught errors and CSP refusals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page

from tests.live import LiveServer

# Every RTCPeerConnection the page makes, so a test can read its getStats() (no test hooks in the app).
RECORD_PEER_CONNECTIONS = """
(() => {
  const Original = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Original {
    constructor(...args) {
      super(...args);
      window.__pcs.push(this);
    }
  };
})();
"""


@dataclass
class Watched:
    """A page plus what went wrong in it: uncaught errors and CSP refusals."""

    page: Page
    problems: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert self.problems == [], f"{self.page.url}: {self.problems}"


async def open_page(browser: Browser, server: LiveServer, **context_options: Any) -> Watched:
    context: BrowserContext = await browser.new_context(base_url=server.url, **context_options)
    await context.add_init_script(RECORD_PEER_CONNECTIONS)
    page = await context.new_page()
    watched = Watched(page)
    page.on("pageerror", lambda error: watched.problems.append(f"uncaught: {error}"))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            watched.problems.append(f"CSP: {message.text}")

    page.on("console", on_console)
    return watched


class Pages:
    """Pages opened by a test, each in its own browser context (so with its own login cookie)."""

    def __init__(self, browser: Browser, server: LiveServer) -> None:
        self.browser, self.server = browser, server
        self.opened: list[Watched] = []

    async def open(self, **context_options: Any) -> Watched:
        watched = await open_page(self.browser, self.server, **context_options)
        self.opened.append(watched)
        return watched

    async def close(self) -> None:
        for watched in self.opened:
            await watched.page.context.close()
