"""Relay-only media through a real coturn on loopback, and recovery by ICE restart (issue 4 items 4
and 6), in Chromium.

The service hands each login short-lived TURN credentials and tells the pages to use the relay only
(``STANDBY_ICE_TRANSPORT_POLICY=relay``): both pages' calls select ``relay`` candidates and still get
two-way video and audio. Then the relay dies and comes back on the same port: the media path is gone,
the technologist's page restarts ICE on the same peer connection with no click, and the call is
verified two-way live again.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator

import pytest
from playwright.async_api import Page, expect

from tests.conftest import make_settings
from tests.coturn import start_coturn, stop_coturn, udp_port
from tests.live import LiveServer, free_port, run_server
from tests.web.pages import Pages
from tests.web.test_browser import screenshot
from tests.web.test_reconnect import joined

pytestmark = pytest.mark.browser

# The page's call: the peer connection that both sends and receives (not a monitor or check copy).
CALL_PC = """
() => window.__pcs.find((pc) => pc.connectionState !== "closed"
  && pc.getTransceivers().some((t) => t.currentDirection === "sendrecv")) || null
"""

# The call's selected candidate types, local and remote, and whether video and audio arrive.
CALL_PATH = """
async () => {
  const pc = window.__call;
  if (!pc) return null;
  const stats = await pc.getStats();
  const byId = new Map();
  let pairId = null;
  let frames = 0;
  let packets = 0;
  stats.forEach((s) => {
    byId.set(s.id, s);
    if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesDecoded || 0;
    if (s.type === "inbound-rtp" && s.kind === "audio") packets += s.packetsReceived || 0;
  });
  const pair = pairId ? byId.get(pairId) : null;
  if (!pair) return { local: null, remote: null, frames, packets };
  return {
    local: byId.get(pair.localCandidateId).candidateType,
    remote: byId.get(pair.remoteCandidateId).candidateType,
    frames,
    packets,
    state: pc.connectionState,
  };
}
"""


class Relay:
    """coturn that a test can stop and start again on the same port."""

    def __init__(self) -> None:
        self.port, self.secret = udp_port(), secrets.token_urlsafe(24)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = start_coturn(self.port, self.secret)

    def stop(self) -> None:
        if self.process is not None:
            stop_coturn(self.process)
            self.process = None


@pytest.fixture
def relay() -> Iterator[Relay]:
    relay = Relay()
    relay.start()
    try:
        yield relay
    finally:
        relay.stop()


@pytest.fixture
def server(database_url: str, relay: Relay) -> Iterator[LiveServer]:
    port = free_port()
    settings = make_settings(
        database_url,
        port,
        turn_urls=[f"turn:127.0.0.1:{relay.port}?transport=udp"],
        turn_secret=relay.secret,
        ice_transport_policy="relay",
    )
    with run_server(settings, port) as live:
        yield live


async def call_path(page: Page) -> dict[str, object]:
    path = await page.evaluate(CALL_PATH)
    assert path is not None
    return path  # type: ignore[no-any-return]


async def test_relay_only_media_and_recovery_by_ice_restart(
    server: LiveServer, relay: Relay, pages: Pages
) -> None:
    _, tech, rad = await joined(pages, server)
    for side in (tech, rad):
        await side.evaluate(f"() => {{ window.__call = ({CALL_PC})(); }}")
        path = await call_path(side)
        # relay-only: both ends of the selected pair are coturn's relayed addresses
        assert (path["local"], path["remote"]) == ("relay", "relay"), path
        assert path["frames"] > 0, path  # type: ignore[operator]
        assert path["packets"] > 0, path  # type: ignore[operator]

    # The relay dies: the only media path is gone.
    relay.stop()
    await expect(tech.locator("#ice-status")).not_to_have_attribute(
        "data-state", "ok", timeout=15_000
    )
    await expect(tech.locator("body")).to_have_attribute("data-link", "problem", timeout=8_000)
    await screenshot(tech, "tech-relay-down")
    relay.start()
    restarted_at = time.monotonic()

    # With no click, the same peer connections come back through the restarted relay.
    for side in (tech, rad):
        await expect(side.locator("body")).to_have_attribute(
            "data-link", "verified", timeout=30_000
        )
    print(f"\nrelay back -> verified two-way live again: {time.monotonic() - restarted_at:.2f} s")
    for side in (tech, rad):
        await expect(side.locator("#ice-status")).to_have_attribute("data-state", "ok")
        assert await side.evaluate(f"() => ({CALL_PC})() === window.__call"), (
            "the call was rebuilt instead of restarted"
        )
        before = await call_path(side)
        await side.wait_for_function(
            "async (n) => { const p = await (" + CALL_PATH + ")(); return p && p.frames > n; }",
            arg=before["frames"],
        )
        assert (before["local"], before["remote"]) == ("relay", "relay"), before
    await expect(tech.locator("#state")).to_have_attribute("data-state", "joined")
    await screenshot(tech, "tech-relay-restored")
    for watched in pages.opened:
        watched.check()  # no uncaught error, no CSP refusal
