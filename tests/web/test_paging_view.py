"""The pager as the consoles show it, in a real Chromium against a real server.

EAST (tests/directory.yaml) pages EAST-PRIMARY (Dr Anya Patel: in-app, and SMS, which is not
configured here) at T+0, EAST-BACKUP (Dr Ray Diaz) at T+1 s, the pool at T+2 s (Dr Old License is
skipped: license expired), no repeats: exhausted about 3.5 s after the request if nobody accepts.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.live import LiveServer, api, login
from tests.web.test_browser import Pages, request_supervision, screenshot, sign_in

pytestmark = pytest.mark.browser

EAST = "East Side Imaging"
PHONE_NUMBER = re.compile(r"\+1\d{10}")
# Where to leave screenshots of the technologist console (unset: none are taken).

VIEWPORTS: dict[str, dict[str, Any]] = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "laptop": {"viewport": {"width": 1366, "height": 800}},
}


async def no_phone_numbers(page: Page) -> None:
    text = await page.evaluate("() => document.body.innerText")
    assert not PHONE_NUMBER.search(text), text
    assert not PHONE_NUMBER.search(await page.content())


@pytest.mark.parametrize("device", sorted(VIEWPORTS))
async def test_technologist_sees_the_tiers_then_do_not_inject(
    server: LiveServer, pages: Pages, device: str
) -> None:
    tech_w = await pages.open(**VIEWPORTS[device])
    tech = tech_w.page
    await sign_in(tech, server, "techeast", "/tech")
    await expect(tech.locator("#ws-status")).to_have_attribute("data-state", "ok")
    await request_supervision(tech, EAST, "CT-E", "EAST-1")

    panel = tech.locator("#paging")
    await expect(panel).to_be_visible(timeout=5_000)
    patel = panel.locator(".paging-person", has_text="Dr Anya Patel")
    await expect(patel).to_contain_text("in-app ✓")
    await expect(patel).to_contain_text("SMS skipped")
    await expect(tech.locator("#paging-tier")).to_have_text(re.compile(r"^Tier [123] of 3$"))
    await expect(panel).to_contain_text("Dr Ray Diaz", timeout=5_000)
    expired = panel.locator(".paging-person", has_text="Dr Old License")
    await expect(expired).to_contain_text("skipped: license expired", timeout=5_000)
    await expect(expired).not_to_contain_text("license_expired")
    await no_phone_numbers(tech)
    await screenshot(tech, f"tech-paging-{device}")

    # Nobody accepts: every tier has been paged.
    alert = tech.locator("#paging-alert")
    await expect(alert).to_be_visible(timeout=10_000)
    await expect(alert).to_contain_text("do not inject")
    await expect(alert).to_have_attribute("role", "alert")
    # EAST has no supervisor in the test directory: the page says so rather than pretending.
    await expect(alert).to_contain_text("No supervisor is set up for this facility")
    await expect(tech.locator("#timer")).to_have_attribute("data-band", "risk")
    await expect(tech.locator("#state")).not_to_have_attribute("data-state", "joined")
    await expect(tech.locator("#end")).to_be_visible()
    await expect(tech.locator("#end")).to_have_text("Cancel request")
    await expect(tech.locator("#cancel-reason")).to_have_value("no_coverage")
    await no_phone_numbers(tech)
    await screenshot(tech, f"tech-exhausted-{device}")

    # A reload restores it from GET /api/sessions/{id}/paging.
    await tech.reload()
    await expect(tech.locator("#paging-alert")).to_contain_text("do not inject", timeout=5_000)
    await expect(tech.locator("#paging")).to_contain_text("license expired")
    await expect(tech.locator("#cancel-reason")).to_have_value("no_coverage")
    await no_phone_numbers(tech)

    await tech.click("#end")
    await tech.click('[data-testid="confirm-yes"]')
    await expect(tech.locator("#ended-panel")).to_have_attribute("data-outcome", "cancelled")
    await expect(tech.locator("#ended-summary")).to_contain_text(
        "cancelled: no radiologist covered"
    )
    await expect(tech.locator("#paging-alert")).to_be_hidden()
    tech_w.check()


async def test_radiologist_paged_for_a_request_sees_it_marked(
    server: LiveServer, pages: Pages
) -> None:
    rad_w = await pages.open(viewport={"width": 390, "height": 844}, is_mobile=True)
    tech_w = await pages.open()
    rad, tech = rad_w.page, tech_w.page
    await sign_in(rad, server, "drpatel", "/rad")
    await expect(rad.locator("#ws-status")).to_have_attribute("data-state", "ok")
    await sign_in(tech, server, "techeast", "/tech")
    await expect(tech.locator("#ws-status")).to_have_attribute("data-state", "ok")

    session_id = await request_supervision(tech, EAST, "CT-E", "EAST-2")
    item = rad.locator(f'li[data-session-id="{session_id}"]')
    await expect(item).to_be_visible(timeout=10_000)
    await expect(item).to_have_attribute("data-paged", "true", timeout=5_000)
    await expect(item.locator(".paged-badge")).to_be_visible()
    await expect(item.locator(".paged-badge")).to_contain_text("Paging you")
    await no_phone_numbers(rad)
    rad_w.check()
    tech_w.check()


async def test_an_accept_shows_until_the_radiologist_joins(
    server: LiveServer, pages: Pages
) -> None:
    """Dr Patel accepts (a promise) without joining: the technologist sees who accepted and that
    they have not joined; Dr Patel's console offers "Join now", and pressing it takes the call."""
    rad_w = await pages.open(viewport={"width": 390, "height": 844}, is_mobile=True)
    tech_w = await pages.open()
    rad, tech = rad_w.page, tech_w.page
    await sign_in(tech, server, "techeast", "/tech")
    await expect(tech.locator("#ws-status")).to_have_attribute("data-state", "ok")
    session_id = await request_supervision(tech, EAST, "CT-E", "EAST-3")
    async with api(server, await login(server, "drpatel")) as patel:
        accepted = await patel.post(f"/api/sessions/{session_id}/accept")
        assert accepted.status_code == 200, accepted.text
    await expect(tech.locator("#paging-tier")).to_have_text(
        "Dr Anya Patel (console) accepted — waiting for them to join…", timeout=5_000
    )
    await expect(tech.locator("#radiologist")).to_contain_text("Waiting for them to join")
    person = tech.locator(".paging-person", has_text="Dr Anya Patel")
    await expect(person).to_have_attribute("data-status", "accepted")
    await screenshot(tech, "tech-accepted-not-joined")

    await sign_in(rad, server, "drpatel", "/rad")
    item = rad.locator(f'li[data-session-id="{session_id}"]')
    await expect(item).to_be_visible(timeout=10_000)
    await expect(item.locator(".request-accepts")).to_have_text("You accepted by console: join now")
    await expect(item.locator("button.accept")).to_have_text("Join now")
    await screenshot(rad, "rad-accepted-join-now")
    await item.locator("button.accept").click()
    await expect(rad.locator("#call-panel")).to_be_visible(timeout=10_000)
    await expect(tech.locator("#radiologist")).to_contain_text("Dr Anya Patel", timeout=10_000)
    await expect(tech.locator("#radiologist")).not_to_contain_text("Waiting for them to join")
    await no_phone_numbers(tech)
    rad_w.check()
    tech_w.check()
