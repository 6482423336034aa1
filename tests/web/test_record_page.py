"""The exam record on the pages, in Chromium (issue 10): the technologist saves the exam, confirms
the checklist and presses "Injecting now" under verified two-way supervision; the radiologist taps
"Reaction" and the technologist's page shows it at once; an injection with nobody on the line says
so in red."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Page, Route, expect
from sqlalchemy.ext.asyncio import AsyncSession

from tests.live import LiveServer
from tests.signaling.record.test_record import set_exam_setup
from tests.web.pages import Pages
from tests.web.test_browser import JOIN_TIMEOUT_MS, request_supervision, screenshot, sign_in

pytestmark = pytest.mark.browser
CARD = {
    "title": "Contrast reaction card (demo)",
    "approved": "Demo content: replace with the facility's approved card",
    "sections": [{"heading": "Hives", "lines": ["Observe; call the radiologist"]}],
}


async def fill_exam(tech: Page) -> None:
    await tech.select_option("#rec-agent", "OMNI350")
    await tech.fill("#rec-volume", "100")
    await tech.fill("#rec-site", "left antecubital")
    await tech.click("#rec-save-exam")
    await expect(tech.get_by_test_id("rec-exam")).to_contain_text("Saved")
    for box in await tech.locator('[data-testid="rec-checklist"] input[type=checkbox]').all():
        await box.check()
    await tech.click("#rec-confirm")
    await expect(tech.get_by_test_id("rec-checklist")).to_contain_text("all 6 confirmed")


async def test_injection_under_verified_supervision_and_a_reaction_from_the_radiologist(
    server: LiveServer, pages: Pages, db_session: AsyncSession
) -> None:
    """Joined with live video both ways: the injection is stamped verified and the minutes since
    it count; the radiologist's Reaction reaches the technologist's page as a reaction form beside
    the facility's card; a severity chosen there shows on both."""
    await set_exam_setup(db_session, reaction_card=CARD)
    tech_w = await pages.open(viewport={"width": 1366, "height": 768})
    rad_w = await pages.open(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    tech, rad = tech_w.page, rad_w.page
    await sign_in(rad, server, "drdiaz", "/rad")
    await sign_in(tech, server, "tech", "/tech")
    await tech.wait_for_function("() => document.getElementById('local-video').videoWidth > 0")
    session_id = await request_supervision(tech, "North Imaging Center", "CT1", "ACC-2026.0101")
    await expect(tech.get_by_test_id("record-panel")).to_be_visible()
    await fill_exam(tech)
    item = rad.locator(f'li[data-session-id="{session_id}"]')
    await item.locator("button.accept").click()
    for side in (tech, rad):
        await expect(side.locator("#state")).to_have_attribute(
            "data-state", "joined", timeout=JOIN_TIMEOUT_MS
        )
    await expect(tech.locator("#media-status")).to_have_attribute("data-state", "verified")
    await tech.wait_for_timeout(2500)  # the radiologist's live evidence reaches the session's row
    await tech.click("#inject-now")
    injected = tech.get_by_test_id("rec-injection")
    await expect(injected).to_have_attribute("data-verified", "yes")
    await expect(injected).to_contain_text("under verified two-way supervision")
    await expect(injected.locator(".rec-since-time")).to_have_text("0:02", timeout=10_000)
    await expect(rad.get_by_test_id("rec-injection")).to_contain_text("Injected")

    await rad.click("#reaction-now")
    form = tech.get_by_test_id("reaction-form")
    await expect(form).to_be_visible()
    await expect(form).to_contain_text("Recorded by Dr Ray Diaz")
    await expect(tech.get_by_test_id("reaction-card")).to_contain_text(
        "Observe; call the radiologist"
    )
    await form.locator('button[data-value="mild"]').click()
    await expect(form).to_have_attribute("data-severity", "mild")
    await form.locator('button[data-value="allergic_like"]').click()
    await form.get_by_label("Hives, limited").check()
    await form.get_by_role("button", name="Save the signs").click()
    await expect(form.get_by_label("Hives, limited")).to_be_checked()
    await expect(rad.get_by_test_id("reaction-form")).to_have_attribute("data-severity", "mild")
    # The technologist is typing when the radiologist saves a sign: the re-render keeps the field.
    drug = form.get_by_label("Drug")
    await drug.fill("diphen")
    rad_form = rad.get_by_test_id("reaction-form")
    # The radiologist's page has shown the technologist's save (its panel re-renders on it: a tap
    # during that re-render would land on the panel being replaced).
    await expect(rad_form.get_by_label("Hives, limited")).to_be_checked()
    await rad_form.get_by_label("Itching").check()
    await rad_form.get_by_role("button", name="Save the signs").click()
    await expect(form.get_by_label("Itching")).to_be_checked()
    await expect(drug).to_be_focused()
    await tech.keyboard.type("hydramine")
    await expect(drug).to_have_value("diphenhydramine")
    await form.get_by_label("Dose").fill("25 mg")
    await form.get_by_label("Route").fill("PO")
    await form.get_by_label("Given by").fill("RN Lee")
    await form.get_by_role("button", name="Add treatment").click()
    await expect(rad.get_by_test_id("reaction-form")).to_contain_text("diphenhydramine 25 mg PO")
    await screenshot(tech, "record-tech-laptop")
    await screenshot(rad, "record-rad-phone")
    await tech.set_viewport_size({"width": 390, "height": 844})
    await screenshot(tech, "record-tech-phone")
    for watched in (tech_w, rad_w):
        watched.check()


async def test_an_injection_with_nobody_on_the_line_is_shown_in_red(
    server: LiveServer, pages: Pages, db_session: AsyncSession
) -> None:
    """No radiologist has joined: the injection is recorded, and the page says plainly that it was
    not under verified supervision and why; where the facility requires it, it is refused."""
    await set_exam_setup(db_session)
    tech_w = await pages.open(viewport={"width": 1366, "height": 768})
    tech = tech_w.page
    await sign_in(tech, server, "tech", "/tech")
    await request_supervision(tech, "North Imaging Center", "CT1", "ACC-2026.0102")
    await fill_exam(tech)
    await tech.click("#inject-now")
    injected = tech.get_by_test_id("rec-injection")
    await expect(injected).to_have_attribute("data-verified", "no")
    await expect(injected).to_contain_text(
        "NOT under verified supervision: no radiologist has joined the session"
    )
    await screenshot(tech, "record-unsupervised-laptop")
    tech_w.check()


async def test_the_facility_rule_refuses_an_unsupervised_injection_on_the_page(
    server: LiveServer, pages: Pages, db_session: AsyncSession
) -> None:
    """The facility records injections only under verified supervision: the page says so before,
    and pressing "Injecting now" with nobody on the line is refused with why; the button stays."""
    await set_exam_setup(db_session, require_verified_injection=True)
    tech_w = await pages.open(viewport={"width": 1366, "height": 768})
    tech = tech_w.page
    await sign_in(tech, server, "tech", "/tech")
    await request_supervision(tech, "North Imaging Center", "CT1", "ACC-2026.0103")
    await expect(tech.get_by_test_id("rec-injection")).to_contain_text(
        "records an injection only under verified two-way supervision"
    )
    await tech.click("#inject-now")
    refused = tech.locator("#inject-refused")
    await expect(refused).to_be_visible()
    await expect(refused).to_contain_text("Not recorded:")
    await expect(refused).to_contain_text("no radiologist has joined the session")
    await expect(tech.locator("#inject-now")).to_be_enabled()
    tech_w.check()


async def test_a_late_answer_does_not_show_an_older_record(
    server: LiveServer, pages: Pages
) -> None:
    """Two reads of the record in flight answer out of order (a save's own read held back while
    the next change's read answers): the older answer, arriving last, is not shown over the newer
    one, which would leave the page stale until the next change."""
    tech = (await pages.open(viewport={"width": 1366, "height": 768})).page
    await sign_in(tech, server, "tech", "/tech")
    await request_supervision(tech, "North Imaging Center", "CT1", "ACC-2026.0102")
    await expect(tech.locator("#rec-save-exam")).to_be_visible()  # the record read and shown
    held: list[Route] = []
    fetched, release = asyncio.Event(), asyncio.Event()

    async def hold_the_first(route: Route) -> None:
        if held:
            await route.continue_()
            return
        held.append(route)
        answer = await route.fetch()  # read now, delivered late
        fetched.set()
        await release.wait()
        await route.fulfill(response=answer)

    await tech.route(re.compile(r".*/api/sessions/[^/]+/record$"), hold_the_first)
    await tech.select_option("#rec-agent", "iohexol-350")  # the directory's own formulary
    await tech.fill("#rec-volume", "100")
    await tech.click("#rec-save-exam")
    await asyncio.wait_for(fetched.wait(), 15)
    await expect(tech.get_by_test_id("rec-exam")).to_contain_text("Saved")  # a later read
    for box in await tech.locator('[data-testid="rec-checklist"] input[type=checkbox]').all():
        await box.check()
    await tech.click("#rec-confirm")
    checklist = tech.get_by_test_id("rec-checklist")
    confirmed = re.compile(r"all \d+ confirmed")
    await expect(checklist).to_contain_text(confirmed)
    release.set()  # the save's own read, from before the checklist was confirmed, answers now
    await tech.wait_for_timeout(1000)
    await expect(checklist).to_contain_text(confirmed)
    await expect(tech.locator("#rec-confirm")).to_have_count(0)
