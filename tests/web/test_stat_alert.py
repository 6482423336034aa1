"""A reaction summons help, in real Chromium (issue 10 item 4): a STAT page shows on an open
radiologist console as a red banner with a repeating tone until acted on, and a reaction alert to the
radiologist in the session shows over the call until acknowledged.

The record's routes (the lead's) make these calls; until they exist the tests make them on the
server's own event loop (``tests/signaling/pager/test_stat.py``).
"""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from signaling.clock import utc_now
from signaling.pager import summons
from tests.live import LiveServer, api, login
from tests.signaling.helpers import open_session
from tests.signaling.pager.test_stat import stat
from tests.web.pages import Pages
from tests.web.test_browser import screenshot, sign_in
from tests.web.test_reconnect import joined

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
ALARMS = "() => Number(document.body.dataset.alarms || 0)"


async def alarms(page: Page) -> int:
    return int(await page.evaluate(ALARMS))


async def alarm_sounds(page: Page) -> None:
    """The tone repeats: two more bursts are heard from now."""
    before = await alarms(page)
    await page.wait_for_function(f"() => ({ALARMS})() >= {before + 2}", timeout=8_000)
    await expect(page.locator("body")).to_have_attribute("data-alarm", "ringing")


async def alarm_silent(page: Page) -> None:
    """The tone has stopped: no burst for a while."""
    await expect(page.locator("body")).to_have_attribute("data-alarm", "off")
    before = await alarms(page)
    await page.wait_for_timeout(2_000)  # longer than the 1.6 s between bursts
    assert await alarms(page) == before


async def test_a_stat_page_rings_on_an_open_console_until_acted_on(
    server: LiveServer, pages: Pages
) -> None:
    """A STAT for a request on two open consoles: each shows the red banner at the top of the
    request with a repeating tone; "Seen" silences it and the banner stays; Accept on the other
    joins, and the first hears it is covered and its banner goes."""
    desk_w = await pages.open(viewport=DESKTOP)
    phone_w = await pages.open(viewport=PHONE, is_mobile=True, has_touch=True)
    desk, phone = desk_w.page, phone_w.page
    await sign_in(desk, server, "drpatel", "/rad")
    await sign_in(phone, server, "drdiaz", "/rad")
    session_id = str((await open_session(server))["id"])  # NORTH: the pool, paged at once
    for page in (desk, phone):
        item = page.locator(f'li[data-session-id="{session_id}"]')
        await expect(item).to_have_attribute("data-paged", "true")
        await expect(item.locator(".stat-banner")).to_have_count(0)
    assert await stat(server, session_id) > 0
    for page in (desk, phone):
        item = page.locator(f'li[data-session-id="{session_id}"]')
        banner = item.locator(".stat-banner")
        await expect(banner).to_have_text(
            "STAT: contrast reaction, North Imaging Center CT Room 1Seen"
        )
        await expect(item).to_have_attribute("data-stat", "true")
        await alarm_sounds(page)
        # at the top of the item, the full width of it
        item_box, banner_box = await item.bounding_box(), await banner.bounding_box()
        assert item_box is not None
        assert banner_box is not None
        assert banner_box["y"] - item_box["y"] < 4
        assert banner_box["width"] >= item_box["width"] - 20
    await expect(desk).to_have_title("STAT · Radiologist · Standby")
    await screenshot(desk, "rad-stat-1366x768")
    await screenshot(phone, "rad-stat-390x844")

    await desk.locator('[data-testid="stat-seen"]').click()
    await alarm_silent(desk)
    desk_item = desk.locator(f'li[data-session-id="{session_id}"]')
    await expect(desk_item.locator(".stat-banner")).to_be_visible()
    await expect(desk_item).to_have_attribute("data-stat", "seen")
    await expect(desk_item.locator('[data-testid="stat-seen"]')).to_have_text("Silenced")
    await alarm_sounds(phone)  # Seen on one console silences that one only

    await phone.locator(f'li[data-session-id="{session_id}"] button.accept').click()
    await expect(phone.locator("#call-panel")).to_be_visible()
    await alarm_silent(phone)
    await expect(desk.locator("#notices")).to_contain_text("Covered by Dr Ray Diaz")
    await expect(desk_item).to_have_count(0)
    for watched in (desk_w, phone_w):
        watched.check()


async def test_a_reaction_alert_shows_over_the_call_until_acknowledged(
    server: LiveServer, pages: Pages
) -> None:
    """In a live call the technologist records a moderate reaction: a red banner across the top of
    the radiologist's call page with a repeating tone, saying who reported it and when it began.
    Acknowledge stops the tone, takes the banner away and is recorded as the radiologist's first
    action; an acknowledgement the server refuses keeps the banner and says so."""
    session_id, tech, rad = await joined(pages, server)
    hub = server.app_state().services.hub
    token = await login(server, "tech")
    async with api(server, token) as client:
        opened = await client.post(
            f"/api/sessions/{session_id}/reactions", json={"severity": "moderate"}
        )
    assert opened.status_code == 201, opened.text
    banner = rad.locator('[data-testid="reaction-alert"]')
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("STAT: contrast reaction (moderate) in this session")
    await expect(banner).to_contain_text("reported by Tina Torres")
    await expect(banner).to_contain_text("North Imaging Center, CT Room 1")
    await alarm_sounds(rad)
    box = await banner.bounding_box()
    assert box is not None
    assert box["y"] == 0
    assert box["width"] >= PHONE["width"] - 1
    # The call goes on under it, and nothing of the page hides beneath it.
    await expect(rad.locator("#state")).to_have_attribute("data-state", "joined")
    stage = await rad.locator("#stage").bounding_box()
    assert stage is not None
    assert stage["y"] >= box["height"] - 1
    await screenshot(rad, "rad-reaction-alert-390x844")
    await rad.set_viewport_size(DESKTOP)
    await expect(banner).to_be_visible()
    wide = await banner.bounding_box()
    assert wide is not None
    assert wide["width"] >= DESKTOP["width"] - 20  # (less a scroll bar)
    await screenshot(rad, "rad-reaction-alert-1366x768")

    await rad.locator('[data-testid="reaction-ack"]').click()
    await expect(banner).to_be_hidden()
    await alarm_silent(rad)
    async with api(server, token) as client:
        record = (await client.get(f"/api/sessions/{session_id}/record")).json()["record"]
    assert record["reactions"][0]["first_action"] == "acknowledged"
    assert record["reactions"][0]["first_action_by"]["name"] == "Dr Ray Diaz"

    # An alert for a reaction the server does not know: the acknowledgement is refused and said so.
    await server.run(summons.reaction_alert(hub, session_id, 999_999, utc_now(), "mild", "X"))
    await expect(banner).to_be_visible()
    await rad.locator('[data-testid="reaction-ack"]').click()
    await expect(rad.locator('[data-testid="reaction-error"]')).to_contain_text(
        "Your acknowledgement was not recorded (404: no reaction 999999 in this session)"
    )
    await expect(banner).to_be_visible()
    await screenshot(rad, "rad-reaction-alert-not-recorded-1366x768")
    assert await tech.evaluate("() => document.body.dataset.alarms") is None
    for watched in pages.opened:
        watched.check()
