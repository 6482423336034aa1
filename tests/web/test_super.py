"""The supervisor's console (``/super``) in a real Chromium against the real service: alerts arrive
live with a repeating tone and count as delivered in the outbox only because the page was open; the
live board's clock ticks past 30 s and 90 s; the session list filters and opens each record; a
report's JSON is drawn as cards and tables.

PORT (tests/directory.yaml) runs out of paging 4 s after a request; NORTH pages its pool at once.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.storage.models import SupervisionSession
from tests.live import LiveServer, api, login
from tests.signaling.helpers import open_session, room_id
from tests.signaling.pager.test_stat import stat
from tests.web.pages import Pages
from tests.web.test_browser import screenshot, sign_in
from tests.web.test_stat_alert import alarm_silent, alarm_sounds

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


async def port_request(server: LiveServer) -> tuple[str, str]:
    tech = await login(server, "techport")
    room = await room_id(server, tech, "Port Imaging")
    session = await open_session(server, tech, room_id=room, accession_number="ACC-SECRET-5")
    return tech, str(session["id"])


async def alerted(server: LiveServer, tech: str, session_id: str, key: str) -> list[dict[str, Any]]:
    """The session's supervisors' alerts of one kind once none is still on its way."""
    found: list[dict[str, Any]] = []
    for _ in range(150):
        async with api(server, tech) as client:
            paging = (await client.get(f"/api/sessions/{session_id}/paging")).json()["paging"]
        found = paging[key]
        if found and all(a["status"] not in ("pending", "sending") for a in found):
            return found
        await asyncio.sleep(0.1)
    return found


async def cancel(server: LiveServer, token: str, session_id: str) -> None:
    async with api(server, token) as client:
        response = await client.post(
            f"/api/sessions/{session_id}/end",
            json={"outcome": "cancelled", "reason": "no_coverage"},
        )
    assert response.status_code == 200, response.text


async def test_an_exhausted_alert_rings_and_is_delivered_only_with_the_console_open(
    server: LiveServer, pages: Pages
) -> None:
    """Paging runs out at PORT with no console open: the in-app alert is not delivered. With Sue
    Pier's /super open it arrives live: a red banner over the page with a repeating tone, the
    alert at the top of the inbox, and the outbox records it delivered in-app. Acknowledge stops
    the tone and the inbox says who acknowledged it."""
    tech, unseen = await port_request(server)
    missed = await alerted(server, tech, unseen, "supervisors_alerted")
    assert {(a["name"], a["channel"], a["status"]) for a in missed} == {
        ("Sue Pier", "in_app", "failed"),
        ("Sue Pier", "sms", "skipped"),  # (no carrier configured for this server)
    }
    await cancel(server, tech, unseen)

    watched = await pages.open(viewport=DESKTOP)
    page = watched.page
    await sign_in(page, server, "superport", "/super")
    await expect(page.locator("#ws-status")).to_have_attribute("data-state", "ok")
    # the one it missed is in the inbox as history, not ringing
    missed_item = page.locator(f'.sup-alert[data-session-id="{unseen}"]')
    await expect(missed_item).to_contain_text("Paging ran out: no radiologist joined")
    await expect(missed_item).to_contain_text(
        "Sue Pier: in-app: not delivered: no Standby page open · SMS: not sent"
    )
    await expect(page.locator("body")).to_have_attribute("data-alarm", "off")

    _, session_id = await port_request(server)
    banner = page.locator('[data-testid="alert-banner"]')
    await expect(banner).to_be_visible(timeout=20_000)
    await expect(banner).to_contain_text("Paging ran out: no radiologist joined")
    await expect(banner).to_contain_text("Port Imaging, CT Port")
    await alarm_sounds(page)
    await expect(page).to_have_title("ALERT · Supervisor · Standby")
    first = page.locator(".sup-alert").first
    await expect(first).to_have_attribute("data-session-id", session_id)
    await expect(first).to_have_attribute("data-live", "true")
    shown = await alerted(server, tech, session_id, "supervisors_alerted")
    assert ("Sue Pier", "in_app", "sent") in {(a["name"], a["channel"], a["status"]) for a in shown}
    await expect(first).to_contain_text("Sue Pier: shown on a Standby page")
    await expect(page.locator("#alerts-count")).to_have_text("2")
    await screenshot(page, "super-alert-1366x768")

    await page.locator('[data-testid="alert-banner-ack"]').click()
    await expect(banner).to_be_hidden()
    await alarm_silent(page)
    await expect(first.locator('[data-testid="alert-acked"]')).to_contain_text(
        "Acknowledged by Sue Pier"
    )
    await expect(page.locator("#alerts-count")).to_have_text("1")
    assert "ACC-SECRET-5" not in await page.content()
    watched.check()


async def test_a_stat_reaction_alert_rings_on_the_console(server: LiveServer, pages: Pages) -> None:
    """A contrast reaction at NORTH with nobody live pages every tier STAT, and Sam Okafor's open
    console (on a phone) rings with it, saying it is a reaction and where; delivered in-app
    because it was shown. Acknowledging from the inbox silences it."""
    watched = await pages.open(viewport=PHONE, is_mobile=True, has_touch=True)
    page = watched.page
    await sign_in(page, server, "super", "/super")
    await expect(page.locator("#ws-status")).to_have_attribute("data-state", "ok")
    await expect(page.locator("#alerts-empty")).to_be_visible()
    await screenshot(page, "super-alerts-empty-390x844")
    tech = await login(server, "tech")
    session_id = str((await open_session(server, tech))["id"])
    assert await stat(server, session_id) > 0
    banner = page.locator('[data-testid="alert-banner"]')
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("Contrast reaction: every tier paged STAT")
    await expect(banner).to_contain_text("North Imaging Center, CT Room 1")
    await alarm_sounds(page)
    box = await banner.bounding_box()
    assert box is not None
    assert box["y"] == 0
    assert box["width"] >= PHONE["width"] - 1
    told = await alerted(server, tech, session_id, "supervisors_told_of_reaction")
    assert {(t["name"], t["channel"], t["status"]) for t in told} == {
        ("Sam Okafor", "in_app", "sent"),
        ("Sam Okafor", "sms", "skipped"),  # (no mobile number)
    }
    item = page.locator(f'.sup-alert[data-session-id="{session_id}"]')
    await expect(item).to_contain_text("Session now: still waiting for a radiologist.")
    await expect(item).to_contain_text(
        "Sam Okafor: shown on a Standby page · SMS: not sent (no mobile number, or SMS not set up)"
    )
    # nothing of the page is hidden under the banner
    nav = await page.locator(".sup-nav").bounding_box()
    assert nav is not None
    assert nav["y"] >= box["height"] - 1
    await screenshot(page, "super-stat-alert-390x844")
    await item.locator('[data-testid="alert-ack"]').click()
    await expect(banner).to_be_hidden()
    await alarm_silent(page)
    await expect(item).to_have_attribute("data-acknowledged", "true")
    watched.check()


async def test_the_board_ticks_and_the_list_filters_and_opens_the_record(
    server: LiveServer, pages: Pages, db_session: AsyncSession
) -> None:
    """A NORTH request 85 s old is on the live board amber and turns red past 90 s by itself; once
    cancelled it leaves the board and is in the session list, found by its filters and not by
    others; its record opens in a new tab. Then a report's JSON is drawn as cards and tables."""
    watched = await pages.open(viewport=DESKTOP)
    page = watched.page
    await sign_in(page, server, "super", "/super")
    tech = await login(server, "tech")
    session_id = str((await open_session(server, tech))["id"])
    opened = await db_session.get(SupervisionSession, session_id)
    assert opened is not None
    earlier = opened.requested_at - timedelta(seconds=85)
    await db_session.execute(
        update(SupervisionSession)
        .where(SupervisionSession.id == session_id)
        .values(requested_at=earlier, paging_at=earlier)
    )
    await db_session.commit()
    await page.locator('[data-testid="tab-board"]').click()
    item = page.locator(f'.sup-live[data-session-id="{session_id}"]')
    await expect(item).to_have_attribute("data-band", "warn")
    await expect(item.locator('[data-testid="board-caption"]')).to_have_text(
        "waiting · past the 30 s mark"
    )
    await expect(item.locator('[data-testid="board-paging"]')).to_contain_text("Dr Ray Diaz")
    before = await item.locator('[data-testid="board-elapsed"]').text_content()
    await expect(item).to_have_attribute("data-band", "risk", timeout=12_000)
    await expect(item.locator('[data-testid="board-caption"]')).to_have_text(
        "waiting · past 90 s: at risk"
    )
    after = await item.locator('[data-testid="board-elapsed"]').text_content()
    assert before is not None
    assert after is not None
    assert before.startswith("1:2")
    assert after > before
    await expect(page.locator("#board-count")).to_have_text("1")
    await screenshot(page, "super-board-1366x768")
    await page.set_viewport_size(PHONE)
    await screenshot(page, "super-board-390x844")
    await page.set_viewport_size(DESKTOP)

    await cancel(server, tech, session_id)
    await expect(item).to_have_count(0, timeout=10_000)
    await page.locator('[data-testid="tab-sessions"]').click()
    row = page.locator(f'tr[data-session-id="{session_id}"]')
    await expect(row).to_contain_text("cancelled: no radiologist covered")
    await expect(row).to_contain_text("unmeasured: a failure")
    await expect(row).to_contain_text("Tina Torres")
    await page.select_option("#f-outcome", "completed")
    await page.click("#f-apply")
    await expect(page.locator('[data-testid="sessions-summary"]')).to_have_text(
        "No sessions match these filters."
    )
    await expect(row).to_have_count(0)
    await page.select_option("#f-outcome", "cancelled")
    await page.select_option("#f-band", "unmeasured")
    await page.select_option("#f-modality", "CT")
    await page.click("#f-apply")
    await expect(row).to_be_visible()
    await expect(page.locator('[data-testid="sessions-summary"]')).to_contain_text("1 session from")
    await page.select_option("#f-modality", "MR")
    await page.click("#f-apply")
    await expect(row).to_have_count(0)
    await page.click("#f-reset")
    await expect(row).to_be_visible()
    await screenshot(page, "super-sessions-1366x768")
    await page.set_viewport_size(PHONE)
    await screenshot(page, "super-sessions-390x844")
    await page.set_viewport_size(DESKTOP)
    async with page.context.expect_page() as opening:
        await row.locator('[data-testid="record-link"]').click()
    record = await opening.value
    await record.wait_for_load_state()
    assert record.url.endswith(f"/api/sessions/{session_id}/record.html")
    await expect(record.locator("body")).to_contain_text("North Imaging Center")
    await expect(record.locator("body")).to_contain_text("Tina Torres")
    await record.close()

    await page.locator('[data-testid="tab-reports"]').click()
    # The section reads the real response-time report first; the sample is drawn over it after.
    await expect(page.locator('[data-testid="report-status"]')).to_have_attribute(
        "data-state", "ok"
    )
    await page.evaluate(
        """async (report) => {
          const { renderReport } = await import("/static/report_view.js");
          renderReport(report, document.getElementById("report-root"));
        }""",
        SAMPLE_REPORT,
    )
    root = page.locator('[data-testid="report-root"]')
    await expect(root.locator(".report-title")).to_have_text("Response time")
    cards = root.locator(".report-card")
    await expect(cards).to_have_count(3)
    await expect(cards.nth(0)).to_contain_text("p90 join latency")
    await expect(cards.nth(0).locator(".report-value")).to_have_text("41.5 s")
    await expect(cards.nth(0).locator(".report-change")).to_have_text(
        "▼ \u22128.5 s vs 50.0 s before"
    )
    await expect(cards.nth(0)).to_have_attribute("data-trend", "better")
    await expect(cards.nth(1).locator(".report-value")).to_have_text("12.5 %")
    await expect(cards.nth(1).locator(".report-change")).to_have_text("▲ +2.5 pts vs 10.0 % before")
    await expect(cards.nth(1)).to_have_attribute("data-trend", "worse")
    await expect(cards.nth(2).locator(".report-change")).to_have_text(
        "no previous period to compare"
    )
    table = root.locator('.report-table[data-key="by_facility"]')
    await expect(table.locator("th")).to_have_text(["Facility", "Sessions", "p90"])
    await expect(table.locator("tbody tr").nth(0).locator("td")).to_have_text(
        ["North Imaging Center", "1,204", "2 min 05 s"]
    )
    await expect(table.locator("tbody tr").nth(1).locator("td")).to_have_text(
        ["Lakeside Imaging", "0", "—"]
    )
    await expect(root.locator(".report-notes li")).to_have_text(["3 sessions still open"])
    await screenshot(page, "super-report-sample-1366x768")
    watched.check()


# A Report as signaling/reports/shape.py gives it (dataclasses.asdict, times ISO-8601).
SAMPLE_REPORT = {
    "key": "response_time",
    "title": "Response time",
    "start": "2026-03-01T00:00:00.000Z",
    "end": "2026-04-01T00:00:00.000Z",
    "facilities": ["North Imaging Center", "Lakeside Imaging"],
    "cards": [
        {
            "key": "p90",
            "label": "p90 join latency",
            "value": 41.5,
            "previous": 50.0,
            "unit": "seconds",
            "better": "lower",
        },
        {
            "key": "share_over_90",
            "label": "Over 90 s or unmeasured",
            "value": 0.125,
            "previous": 0.1,
            "unit": "share",
            "better": "lower",
        },
        {
            "key": "sessions",
            "label": "Sessions",
            "value": 1204,
            "previous": None,
            "unit": "count",
            "better": None,
        },
    ],
    "tables": [
        {
            "key": "by_facility",
            "title": "By facility",
            "columns": [
                {"key": "facility", "label": "Facility", "unit": "text"},
                {"key": "sessions", "label": "Sessions", "unit": "count"},
                {"key": "p90_s", "label": "p90", "unit": "seconds"},
            ],
            "rows": [["North Imaging Center", 1204, 125.2], ["Lakeside Imaging", 0, None]],
        }
    ],
    "notes": ["3 sessions still open"],
}


async def test_the_console_needs_a_supervisor_or_an_admin(server: LiveServer, pages: Pages) -> None:
    """Signed out, /super goes to the login page; a technologist goes to their own console; an
    admin signs in straight to /super."""
    watched = await pages.open()
    page = watched.page
    await page.goto("/super")
    await expect(page).to_have_url(f"{server.url}/login")
    await sign_in(page, server, "tech", "/tech")
    await page.goto("/super")
    await expect(page).to_have_url(f"{server.url}/tech")
    admin = await pages.open()
    await sign_in(admin.page, server, "admin", "/super")
    await expect(admin.page.locator("#covers")).to_contain_text("Port Imaging")
    watched.check()
    admin.check()
