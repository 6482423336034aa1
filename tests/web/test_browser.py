"""The web pages in a real Chromium (fake camera and microphone) against a real server.

A technologist and a radiologist sign in through the login page in two browser contexts, the request
reaches the radiologist's console live, Accept leads to a peer-to-peer call, and the session counts
as joined only once video frames decode and audio arrives on both sides.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.async_api import (
    Page,
    WebSocketRoute,
    expect,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.accounts.passwords import hash_password
from signaling.storage.models import SessionEvent, SupervisionSession, User
from tests.live import PASSWORD, LiveServer, api, login
from tests.web.pages import Pages

pytestmark = pytest.mark.browser

# True once the remote <video> shows a picture and the live connection decodes video and gets audio.
REMOTE_MEDIA_FLOWS = """
async () => {
  const video = document.getElementById("remote-video");
  if (!(video.videoWidth > 0 && video.readyState >= 2)) return false;
  // (the page's copy for the server's monitor is a second connection, sending only)
  const live = window.__pcs.filter(
    (pc) =>
      pc.connectionState !== "closed" &&
      !pc.getTransceivers().every((t) => t.currentDirection === "sendonly" || t.direction === "sendonly"),
  );
  if (live.length !== 1) return false;
  let frames = 0;
  let packets = 0;
  (await live[0].getStats()).forEach((stat) => {
    if (stat.type !== "inbound-rtp") return;
    if (stat.kind === "video") frames += stat.framesDecoded || 0;
    if (stat.kind === "audio") packets += stat.packetsReceived || 0;
  });
  return frames > 0 && packets > 0 ? { frames, packets, width: video.videoWidth } : false;
}
"""

# What the page's copy for the server's monitor sends: video frames (width, count) and audio packets.
COPY_SENT = """
async () => {
  const copies = window.__pcs.filter(
    (pc) =>
      pc.connectionState === "connected" &&
      pc.getTransceivers().every((t) => t.direction === "sendonly"),
  );
  if (copies.length !== 1) return false;
  let width = 0;
  let frames = 0;
  let packets = 0;
  (await copies[0].getStats()).forEach((stat) => {
    if (stat.type !== "outbound-rtp") return;
    if (stat.kind === "video") {
      width = stat.frameWidth || 0;
      frames = stat.framesSent || 0;
    }
    if (stat.kind === "audio") packets = stat.packetsSent || 0;
  });
  return frames > 1 && packets > 0 ? { width, frames, packets } : false;
}
"""

JOIN_TIMEOUT_MS = 30_000
SCREENSHOTS = os.environ.get("STANDBY_SCREENSHOT_DIR")


async def screenshot(page: Page, name: str) -> None:
    """Keep a picture of the page for people to look at (STANDBY_SCREENSHOT_DIR)."""
    if SCREENSHOTS:
        await page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


async def sign_in(page: Page, server: LiveServer, username: str, console: str) -> None:
    await page.goto("/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in")
    await expect(page).to_have_url(f"{server.url}{console}")


async def request_supervision(tech: Page, facility: str, room_code: str, accession: str) -> str:
    """Pick the room, enter the accession number, request; the new session's id."""
    option = tech.locator(
        f'#room option[data-facility-name="{facility}"][data-room-code="{room_code}"]'
    )
    await expect(option).to_have_count(1)
    await tech.select_option("#room", value=await option.get_attribute("value"))
    await tech.fill("#accession", accession)
    await tech.click("#request")
    panel = tech.locator("#call-panel")
    await expect(panel).to_be_visible()
    await expect(panel).to_have_attribute("data-session-id", re.compile(r"^[0-9a-f-]{36}$"))
    await expect(tech.locator("#state")).to_have_attribute("data-state", "paging")
    await expect(tech.locator("#session-where")).to_contain_text(accession)
    session_id = await panel.get_attribute("data-session-id")
    assert session_id
    return session_id


async def stored_session(server: LiveServer, session_id: str) -> dict[str, Any]:
    token = await login(server, "tech")
    async with api(server, token) as client:
        response = await client.get(f"/api/sessions/{session_id}")
    assert response.status_code == 200, response.text
    return response.json()["session"]  # type: ignore[no-any-return]


async def test_request_accept_join_with_two_way_video(
    server: LiveServer,
    pages: Pages,
    db_session: AsyncSession,
    record_property: Any,
) -> None:
    """Request -> pushed to the lobby -> Accept -> video both ways -> joined, stored."""
    rad_w = await pages.open(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    tech_w = await pages.open(viewport={"width": 1280, "height": 800})
    rad, tech = rad_w.page, tech_w.page

    await sign_in(rad, server, "drdiaz", "/rad")
    await expect(rad.locator("#ws-status")).to_have_attribute("data-state", "ok")
    await expect(rad.locator("#lobby-empty")).to_be_visible()
    await rad.evaluate("() => { window.__sameDocument = true; }")

    await sign_in(tech, server, "tech", "/tech")
    await tech.wait_for_function("() => document.getElementById('local-video').videoWidth > 0")
    await expect(tech.locator("#ws-status")).to_have_attribute("data-state", "ok")
    session_id = await request_supervision(tech, "North Imaging Center", "CT1", "ACC-2026.0001")

    # The counter runs against the 30 s mark.
    await expect(tech.locator("#elapsed")).to_have_text(re.compile(r"^0:0[1-9]$"), timeout=5_000)
    await expect(tech.locator("#timer")).to_have_attribute("data-band", "ok")
    await expect(tech.locator("#radiologist")).to_contain_text("Paging")

    # The request reaches the radiologist's open console by push, without a reload.
    item = rad.locator(f'li[data-session-id="{session_id}"]')
    await expect(item).to_be_visible(timeout=10_000)
    await expect(item).to_contain_text("North Imaging Center")
    await expect(item).to_contain_text("CT Room 1")
    await expect(item).not_to_contain_text("ACC-2026.0001")  # no accession number in the lobby
    await expect(rad.locator("#request-count")).to_have_text("1")
    assert await rad.evaluate("() => window.__sameDocument === true")

    await item.locator("button.accept").click()
    await expect(rad.locator("#call-panel")).to_have_attribute("data-session-id", session_id)
    await expect(rad.locator("#fact-accession")).to_have_text("ACC-2026.0001")
    await expect(item).to_have_count(0)

    for side in (tech, rad):
        await expect(side.locator("#state")).to_have_attribute(
            "data-state", "joined", timeout=JOIN_TIMEOUT_MS
        )
        await expect(side.locator("#state")).to_have_text("joined")
        await expect(side.locator("#media-status")).to_have_attribute("data-state", "verified")
        await expect(side.locator("#ice-status")).to_have_attribute("data-state", "ok")
        flows = await side.wait_for_function(REMOTE_MEDIA_FLOWS, polling=200, timeout=10_000)
        seen = await flows.json_value()
        assert seen["width"] > 0
        assert seen["frames"] > 0
        assert seen["packets"] > 0
        before = await side.evaluate("() => document.getElementById('remote-video').currentTime")
        await side.wait_for_function(
            "(t) => document.getElementById('remote-video').currentTime > t + 0.3", arg=before
        )
        assert await side.evaluate("() => document.getElementById('local-video').videoWidth") > 0
    await expect(tech.locator("#radiologist")).to_contain_text("Dr Ray Diaz")
    await expect(tech.locator("#elapsed-caption")).to_contain_text("in session · joined")
    # Both pages report what they receive once a second; the server finds both directions live.
    for side in (tech, rad):
        await expect(side.locator("body")).to_have_attribute("data-link", "verified", timeout=8_000)
        await expect(side.locator("#notices")).not_to_contain_text("not reaching")

    # Each page also sends the server a small copy of its camera and microphone (North monitors
    # media): downscaled, about a frame a second. The server checks it, and the link says so.
    for side in (tech, rad):
        pill = side.locator("#media-status")
        await expect(pill).to_have_attribute("data-monitor", "sending", timeout=10_000)
        await expect(pill).to_have_attribute("data-checked", "true", timeout=10_000)
        await expect(pill).to_have_attribute("data-state", "verified")
        await expect(pill).to_contain_text("checked by the server")
        first = await (await side.wait_for_function(COPY_SENT, polling=500)).json_value()
        await side.wait_for_timeout(4_000)
        later = await (await side.wait_for_function(COPY_SENT, polling=500)).json_value()
        frame_rate = (later["frames"] - first["frames"]) / 4.0
        print(f"\nmonitor copy: {later['width']} px wide, {frame_rate:.2f} frames/s")
        assert 0 < later["width"] <= 320, later
        assert frame_rate <= 2.0, (first, later)
    await screenshot(tech, "tech-server-checked")
    await screenshot(rad, "rad-server-checked")

    stored = await stored_session(server, session_id)
    assert stored["state"] == "joined"
    assert stored["joined_at"] is not None
    assert stored["accepted_at"] is not None
    assert stored["ice_connected_at"] is not None
    assert isinstance(stored["join_latency_ms"], int)
    assert stored["radiologist"]["full_name"] == "Dr Ray Diaz"
    accepted = _ms(stored["accepted_at"])
    accept_to_join = _ms(stored["joined_at"]) - accepted
    assert 0 <= accept_to_join < JOIN_TIMEOUT_MS
    record_property("accept_to_joined_ms", accept_to_join)
    record_property("request_to_joined_ms", stored["join_latency_ms"])
    print(
        f"\n[{server.settings.database_url.split(':')[0]}] accepted_at -> joined_at: "
        f"{accept_to_join} ms; requested_at -> joined_at: {stored['join_latency_ms']} ms"
    )

    row = await db_session.scalar(
        select(SupervisionSession).where(SupervisionSession.id == session_id)
    )
    assert row is not None
    assert row.technologist_media_at is not None
    assert row.radiologist_media_at is not None
    verified = (
        await db_session.scalars(
            select(SessionEvent.detail).where(
                SessionEvent.session_id == session_id, SessionEvent.kind == "media_verified"
            )
        )
    ).all()
    assert sorted(v or "" for v in verified) == ["radiologist", "technologist"]

    # The technologist's camera stops (a pulled cable): within seconds both pages say what is wrong,
    # each in its own words, and the record keeps the change.
    await tech.evaluate(
        "() => document.getElementById('local-video').srcObject.getVideoTracks()[0].stop()"
    )
    await expect(rad.locator("#notices")).to_contain_text(
        "The technologist's video froze.", timeout=8_000
    )
    await expect(tech.locator("#notices")).to_contain_text(
        "Your video is frozen for the radiologist.", timeout=8_000
    )
    for side in (tech, rad):
        await expect(side.locator("body")).to_have_attribute("data-link", "problem")
    await screenshot(rad, "rad-link-frozen")
    await screenshot(tech, "tech-link-frozen")
    link_events = (
        await db_session.scalars(
            select(SessionEvent.detail).where(
                SessionEvent.session_id == session_id, SessionEvent.kind == "link"
            )
        )
    ).all()
    assert "verified two-way live" in link_events
    # (the server's check of the copy may see the video go first: "frozen (video_lost, no_frames)")
    assert any(
        (d or "").startswith("technologist: frozen (") and "no_frames" in (d or "")
        for d in link_events
    ), link_events

    # The technologist ends it; both consoles see it end, and the technologist can go on.
    await expect(tech.locator("#end")).to_be_hidden()  # Cancel is gone, End is elsewhere
    await tech.click("#complete")
    await tech.click('[data-testid="confirm-yes"]')
    await expect(tech.locator("#ended-panel")).to_have_attribute("data-outcome", "completed")
    await expect(tech.locator("#ended-summary")).to_contain_text("Completed with Dr Ray Diaz")
    await expect(tech.locator("#request")).to_be_enabled()
    await expect(rad.locator("#lobby")).to_be_visible()
    await expect(rad.locator("#call-panel")).to_be_hidden()
    await expect(rad.locator("#notices")).to_contain_text(
        "The technologist, Tina Torres, ended the session"
    )
    for side in (tech, rad):
        await expect(side.locator("#media-status")).to_have_attribute("data-state", "idle")
    ended = await stored_session(server, session_id)
    assert ended["state"] == "ended"
    assert ended["outcome"] == "completed"
    rad_w.check()
    tech_w.check()


async def test_cancel_needs_reason_clears_the_lobby_and_allows_a_new_request(
    server: LiveServer, pages: Pages
) -> None:
    rad_w = await pages.open()
    tech_w = await pages.open(viewport={"width": 390, "height": 844}, is_mobile=True)
    rad, tech = rad_w.page, tech_w.page
    await sign_in(rad, server, "drdiaz", "/rad")
    await sign_in(tech, server, "tech", "/tech")
    await expect(tech.locator("#request")).to_be_enabled()

    # A malformed accession number is refused in the page, before anything is sent.
    option = tech.locator(
        '#room option[data-facility-name="Lakeside Imaging"][data-room-code="CT-A"]'
    )
    await tech.select_option("#room", value=await option.get_attribute("value"))
    await tech.fill("#accession", "-bad start")
    await tech.click("#request")
    await expect(tech.locator("#notices")).to_contain_text("accession number")
    await expect(tech.locator("#call-panel")).to_be_hidden()

    session_id = await request_supervision(tech, "Lakeside Imaging", "CT-A", "LK-77")
    item = rad.locator(f'li[data-session-id="{session_id}"]')
    await expect(item).to_be_visible(timeout=10_000)
    await expect(item).to_contain_text("Lakeside Imaging")

    await expect(tech.locator("#end")).to_have_text("Cancel request")
    await tech.click("#end")
    await expect(tech.locator("#notices")).to_contain_text("Choose why")
    await expect(tech.locator("#state")).to_have_attribute("data-state", "paging")

    await tech.select_option("#cancel-reason", "exam_cancelled")
    await tech.click("#end")
    await tech.click('[data-testid="confirm-yes"]')
    await expect(tech.locator("#ended-panel")).to_have_attribute("data-outcome", "cancelled")
    await expect(tech.locator("#ended-summary")).to_contain_text("exam cancelled")
    await expect(item).to_have_count(0)  # closed on the radiologist's console, live
    await expect(rad.locator("#lobby-empty")).to_be_visible()

    stored = await stored_session(server, session_id)
    assert stored["state"] == "ended"
    assert stored["outcome"] == "cancelled"
    assert stored["cancel_reason"] == "exam_cancelled"

    # The next exam, without reloading.
    second = await request_supervision(tech, "Lakeside Imaging", "CT-A", "LK-78")
    assert second != session_id
    await expect(rad.locator(f'li[data-session-id="{second}"]')).to_be_visible(timeout=10_000)
    rad_w.check()
    tech_w.check()


async def test_a_request_taken_meanwhile_says_by_whom(server: LiveServer, pages: Pages) -> None:
    """Accept on a request someone else has just taken: the page names the taker, drops the item."""
    rad_w = await pages.open()
    rad = rad_w.page

    # Hold back the lobby's request_closed and covered pushes, as a slow network would: the page
    # still shows the request after another radiologist took it.
    async def hold_back_closures(route: WebSocketRoute) -> None:
        upstream = route.connect_to_server()

        def from_server(message: str | bytes) -> None:
            if not any(kind in str(message) for kind in ('"request_closed"', '"covered"')):
                route.send(message)

        upstream.on_message(from_server)

    await rad.route_web_socket(re.compile(r"/ws$"), hold_back_closures)
    await sign_in(rad, server, "drdiaz", "/rad")
    await expect(rad.locator("#ws-status")).to_have_attribute("data-state", "ok")

    async with api(server, await login(server, "tech")) as tech:
        rooms = (await tech.get("/api/rooms")).json()["rooms"]
        room = next(r for r in rooms if r["code"] == "CT1")
        created = await tech.post(
            "/api/sessions", json={"room_id": room["id"], "accession_number": "T-1"}
        )
        assert created.status_code == 201, created.text
        session_id = created.json()["session"]["id"]
    item = rad.locator(f'li[data-session-id="{session_id}"]')
    await expect(item).to_be_visible(timeout=10_000)

    async with api(server, await login(server, "drpatel")) as patel:
        taken = await patel.post(f"/api/sessions/{session_id}/join")
        assert taken.status_code == 200, taken.text
    await expect(item).to_be_visible()  # the closure was held back

    await item.locator("button.accept").click()
    # 409 "already joined by ..." when both raced; 404 when the request was no longer visible.
    await expect(rad.locator("#notices")).to_contain_text(
        re.compile(r"already joined by Dr Anya Patel|no longer open")
    )
    await expect(item).to_have_count(0)
    await expect(rad.locator("#call-panel")).to_be_hidden()
    await expect(rad.locator("#lobby")).to_be_visible()
    # The camera that started with the click is off again.
    await rad.wait_for_function("() => document.getElementById('local-video').srcObject === null")
    rad_w.check()


async def test_login_errors_are_shown(server: LiveServer, pages: Pages) -> None:
    watched = await pages.open(viewport={"width": 390, "height": 844})
    page = watched.page
    await page.goto("/login")
    await page.fill("#username", "tech")
    await page.fill("#password", "not-the-password")
    await page.click("#sign-in")
    await expect(page.locator("#login-error")).to_be_visible()
    await expect(page.locator("#login-error")).to_contain_text("wrong username or password")
    await expect(page).to_have_url(f"{server.url}/login")

    # Four more failures from this address make it wait: the page says so, with the wait.
    async with httpx.AsyncClient(base_url=server.url) as client:
        for _ in range(4):
            response = await client.post(
                "/api/login", json={"username": "tech", "password": "still-wrong"}
            )
            assert response.status_code == 401
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in")
    await expect(page.locator("#login-error")).to_contain_text("too many failed logins")
    await expect(page).to_have_url(f"{server.url}/login")
    watched.check()


async def test_an_account_without_a_console_role_is_told_so(
    server: LiveServer, pages: Pages, db_session: AsyncSession
) -> None:
    """Every role has a console now (supervisors and admins: /super); an account holding none is
    told so after signing in, and may sign out."""
    db_session.add(
        User(
            username="norole",
            full_name="No Role",
            password_hash=hash_password(PASSWORD),
            created_at=datetime.now(UTC),
        )
    )
    await db_session.commit()
    watched = await pages.open()
    page = watched.page
    await page.goto("/login")
    await page.fill("#username", "norole")
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in")
    await expect(page.locator("#login-info")).to_contain_text("no role with a console")
    await expect(page.locator("#sign-out")).to_be_visible()
    await page.click("#sign-out")
    await expect(page.locator("#login-form")).to_be_visible()
    watched.check()


@pytest.mark.parametrize("console", ["/tech", "/rad"])
async def test_consoles_without_login_go_to_login(
    server: LiveServer, pages: Pages, console: str
) -> None:
    watched = await pages.open()
    await watched.page.goto(console)
    await expect(watched.page).to_have_url(f"{server.url}/login")
    await expect(watched.page.locator("#sign-in")).to_be_visible()
    watched.check()


def _ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
