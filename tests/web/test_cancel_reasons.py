"""Cancelling a request on the technologist's console: the reasons it offers, in words, and what the
server stores (a real Chromium against a real server; NORTH, CT Room 1)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.live import LiveServer
from tests.web.test_browser import Pages, request_supervision, screenshot, sign_in, stored_session

pytestmark = pytest.mark.browser

VIEWPORTS: dict[str, dict[str, Any]] = {
    "laptop": {"viewport": {"width": 1366, "height": 768}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
OFFERED = [
    ("", "Choose a reason…"),
    ("no_coverage", "No radiologist covered"),
    ("patient_declined", "Patient declined"),
    ("clinical", "Clinical reason"),
    ("equipment", "Equipment problem"),
    ("exam_cancelled", "Exam cancelled"),
    ("requested_in_error", "Requested in error"),
    ("other", "Other"),
]


@pytest.mark.parametrize("device", sorted(VIEWPORTS))
async def test_the_cancel_dialog_offers_the_reasons_in_words(
    server: LiveServer, pages: Pages, device: str
) -> None:
    """The reason list is today's set with clear labels; the confirmation names the chosen one;
    the ended panel says it and the server stores its name."""
    tech_w = await pages.open(**VIEWPORTS[device])
    tech = tech_w.page
    await sign_in(tech, server, "tech", "/tech")
    await expect(tech.locator("#ws-status")).to_have_attribute("data-state", "ok")
    session_id = await request_supervision(tech, "North Imaging Center", "CT1", "N-CANCEL-1")

    options = tech.locator("#cancel-reason option")
    await expect(options).to_have_count(len(OFFERED))
    offered = await options.evaluate_all("(all) => all.map((o) => [o.value, o.textContent])")
    assert [tuple(pair) for pair in offered] == OFFERED
    await tech.select_option("#cancel-reason", "equipment")
    await tech.locator("#cancel-controls").scroll_into_view_if_needed()
    await screenshot(tech, f"tech-cancel-reason-{device}")

    await tech.click("#end")
    dialog = tech.locator('[data-testid="confirm"]')
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Reason: Equipment problem.")
    await expect(tech.locator('[data-testid="confirm-yes"]')).to_be_enabled()
    await screenshot(tech, f"tech-cancel-confirm-{device}")
    await tech.click('[data-testid="confirm-yes"]')

    await expect(tech.locator("#ended-panel")).to_have_attribute("data-outcome", "cancelled")
    await expect(tech.locator("#ended-summary")).to_contain_text("cancelled: equipment problem")
    await screenshot(tech, f"tech-cancel-ended-{device}")
    stored = await stored_session(server, session_id)
    assert (stored["outcome"], stored["cancel_reason"]) == ("cancelled", "equipment")
    tech_w.check()
