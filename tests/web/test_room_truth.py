"""What the people in the room see must be the truth (issue 9, A): a radiologist whose picture is
gone never looks live, End and Hand back are apart and need a second action, each side is told who
ended the session and how, and a new user's stumbling blocks are gone."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.live import LiveServer, api, login
from tests.signaling.helpers import open_session
from tests.web.pages import Pages
from tests.web.test_browser import request_supervision, screenshot, sign_in, stored_session
from tests.web.test_reconnect import joined

COVER = '[data-testid="remote-cover"]'
YES, NO = '[data-testid="confirm-yes"]', '[data-testid="confirm-no"]'


async def camera(page: Page, on: bool) -> None:
    """Cover or uncover the lens: the page goes on sending frames, black ones (the server's check
    of the copy sees them; North monitors media)."""
    await page.evaluate(
        "(on) => { document.getElementById('local-video').srcObject"
        ".getVideoTracks()[0].enabled = on; }",
        on,
    )


async def test_a_black_camera_covers_the_picture_and_turns_the_state_red_until_it_is_live_again(
    server: LiveServer, pages: Pages
) -> None:
    """The radiologist covers the lens: the technologist's page hides the last picture behind a
    red "not connected — do not inject", calls the camera black (not frozen), and the badge says
    "not connected"; the cover lifts when the link is verified again. The same on the
    radiologist's page for the technologist's camera."""
    session_id, tech, rad = await joined(pages, server)
    for watcher, sender, title in (
        (tech, rad, "The radiologist is not connected — do not inject"),
        (rad, tech, "The technologist is not connected — you are not supervising"),
    ):
        await expect(watcher.locator(COVER)).to_be_hidden()
        await camera(sender, False)
        await expect(watcher.locator(COVER)).to_be_visible(timeout=15_000)
        await expect(watcher.locator(COVER)).to_contain_text(title)
        await expect(watcher.locator(COVER)).to_contain_text("black picture")
        await expect(watcher.locator(COVER)).not_to_contain_text("frozen")
        await expect(watcher.locator("#state")).to_have_attribute("data-state", "link-lost")
        await expect(watcher.locator("#state")).to_have_text("not connected")
        await screenshot(watcher, f"cover-{'tech' if watcher is tech else 'rad'}")
        await camera(sender, True)
        await expect(watcher.locator(COVER)).to_be_hidden(timeout=15_000)
        await expect(watcher.locator("#state")).to_have_attribute("data-state", "joined")
    stored = await stored_session(server, session_id)
    assert stored["state"] == "joined"  # a covered lens for seconds is not a lost radiologist
    for page in pages.opened:
        page.check()


async def test_ending_needs_a_second_action_and_the_other_side_is_told_who_ended_it(
    server: LiveServer, pages: Pages
) -> None:
    """End sits apart from Cancel; a double tap on it opens the confirmation and ends nothing;
    "Stay in the session" keeps it; confirming ends it and the technologist reads "Dr Ray Diaz
    ended the session"."""
    session_id, tech, rad = await joined(pages, server)
    for page in (tech, rad):
        await expect(page.locator("#complete")).to_be_visible()
    await expect(tech.locator("#end")).to_be_hidden()
    await expect(rad.locator("#release")).to_be_hidden()
    await rad.dblclick("#complete")
    await expect(rad.locator('[data-testid="confirm"]')).to_be_visible()
    await screenshot(rad, "rad-confirm-end")
    await rad.click(NO)
    await expect(rad.locator('[data-testid="confirm"]')).to_have_count(0)
    assert (await stored_session(server, session_id))["state"] == "joined"
    await rad.click("#complete")
    await rad.click(YES)
    await expect(rad.locator("#lobby")).to_be_visible()
    await expect(tech.locator("#ended-summary")).to_contain_text("Dr Ray Diaz ended the session")
    await screenshot(tech, "tech-ended-by-radiologist")
    stored = await stored_session(server, session_id)
    assert (stored["outcome"], stored["ended_by"]["full_name"]) == ("completed", "Dr Ray Diaz")
    assert stored["ended_by"]["role"] == "radiologist"
    for page in pages.opened:
        page.check()


async def test_hand_back_is_apart_from_end_and_a_cancel_names_who_and_why(
    server: LiveServer, pages: Pages
) -> None:
    """Before the call is up the radiologist sees Hand back (not End), and it asks first; a
    technologist cancelling a request he accepted reaches his page as "The technologist, Tina
    Torres, cancelled: patient declined"."""
    rad_w = await pages.open(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    rad = rad_w.page
    await sign_in(rad, server, "drdiaz", "/rad")
    tech = await login(server, "tech")

    first = await open_session(server, tech)  # no technologist page: the call never comes up
    await rad.locator(f'li[data-session-id="{first["id"]}"] button.accept').click()
    await expect(rad.locator("#call-panel")).to_have_attribute("data-session-id", first["id"])
    async with api(server, tech) as client:
        ended = await client.post(
            f"/api/sessions/{first['id']}/end",
            json={"outcome": "cancelled", "reason": "patient_declined"},
        )
    assert ended.status_code == 200, ended.text
    await expect(rad.locator("#notices")).to_contain_text(
        "The technologist, Tina Torres, cancelled: patient declined"
    )
    await expect(rad.locator("#lobby")).to_be_visible()

    second = await open_session(server, tech, accession_number="ACC-1002")
    await rad.locator(f'li[data-session-id="{second["id"]}"] button.accept').click()
    await expect(rad.locator("#call-panel")).to_have_attribute("data-session-id", second["id"])
    await expect(rad.locator("#release")).to_be_visible()
    await expect(rad.locator("#complete")).to_be_hidden()
    await screenshot(rad, "rad-hand-back-phone")
    await rad.click("#release")
    await expect(rad.locator('[data-testid="confirm"]')).to_contain_text("Hand the request back?")
    await rad.click(NO)
    await expect(rad.locator("#call-panel")).to_be_visible()
    assert (await stored_session(server, second["id"]))["radiologist"] is not None
    await rad.click("#release")
    await rad.click(YES)
    await expect(rad.locator("#notices")).to_contain_text("You handed the request back")
    assert (await stored_session(server, second["id"]))["radiologist"] is None
    rad_w.check()


async def test_what_a_new_technologist_tripped_over(server: LiveServer, pages: Pages) -> None:
    """The closed room list names the facility; an empty accession number says to enter one; once
    joined, the counter shows how long the session has run."""
    _, tech, _ = await joined(pages, server)
    await expect(tech.locator("#elapsed-caption")).to_contain_text("in session · joined")
    first = int(await tech.locator("#elapsed").get_attribute("data-seconds") or "0")
    await tech.wait_for_timeout(2_500)
    later = int(await tech.locator("#elapsed").get_attribute("data-seconds") or "0")
    assert later >= first + 2  # it runs: how long the session has lasted, not a frozen latency
    await tech.click("#complete")
    await tech.click(YES)
    await expect(tech.locator("#request-panel")).to_be_visible()
    selected = await tech.evaluate(
        "() => { const s = document.getElementById('room'); return s.options[s.selectedIndex].text; }"
    )
    assert selected == "CT Room 1 · CT — North Imaging Center"
    await expect(tech.locator("#room-where")).to_have_text("At North Imaging Center (TX)")
    await tech.fill("#accession", "")
    await tech.click("#request")
    await expect(tech.locator("#notices")).to_contain_text("Enter the exam's accession number.")
    for page in pages.opened:
        page.check()


async def test_on_a_phone_in_landscape_end_stays_in_reach(server: LiveServer, pages: Pages) -> None:
    """A technologist's phone on its side mid-exam: the End control is on the screen without
    scrolling past the picture."""
    rad_w = await pages.open(viewport={"width": 1280, "height": 800})
    tech_w = await pages.open(
        viewport={"width": 844, "height": 390}, is_mobile=True, has_touch=True
    )
    rad, tech = rad_w.page, tech_w.page
    await sign_in(rad, server, "drdiaz", "/rad")
    await sign_in(tech, server, "tech", "/tech")
    session_id = await request_supervision(tech, "North Imaging Center", "CT1", "ACC-LAND")
    await rad.locator(f'li[data-session-id="{session_id}"] button.accept').click()
    await expect(tech.locator("#state")).to_have_attribute("data-state", "joined", timeout=30_000)
    await tech.evaluate("() => window.scrollTo(0, 0)")
    end = tech.locator("#complete")
    await expect(end).to_be_visible()
    box = await end.bounding_box()
    assert box is not None
    assert box["y"] >= 0, box
    assert box["y"] + box["height"] <= 390, box
    await screenshot(tech, "tech-phone-landscape-joined")
    tech_w.check()
