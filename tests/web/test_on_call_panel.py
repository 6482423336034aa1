"""Who is on call, beside the technologist's request form, in a real Chromium against a real server.

EAST (tests/directory.yaml) pages EAST-PRIMARY (Dr Anya Patel) at once, EAST-BACKUP (Dr Ray Diaz)
after 1 s and the whole eligible pool after 2 s; NORTH has no schedule and pages its pool at once.
Schedules are changed through the admin API, as an admin would.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, Route, expect

from tests.live import LiveServer, api, login
from tests.web.test_browser import Pages, request_supervision, sign_in
from tests.web.test_paging_view import EAST, VIEWPORTS, no_phone_numbers, screenshot

pytestmark = pytest.mark.browser

CHICAGO = ZoneInfo("America/Chicago")
NORTH = "North Imaging Center"


async def put_schedule(
    server: LiveServer, code: str, participants: list[str], **rotation: str
) -> None:
    """Hand an EAST schedule to ``participants`` (one shift each, a week long unless told)."""
    schedule = {
        "code": code,
        "timezone": "America/Chicago",
        "facilities": ["EAST"],
        "rotations": [
            {"name": "r", "participants": participants, "start": "2026-01-01T00:00", "shift": "7d"}
            | rotation
        ],
    }
    async with api(server, await login(server, "admin")) as client:
        response = await client.put(f"/api/admin/schedules/{code}", json=schedule)
    assert response.status_code == 200, response.text


async def choose_room(tech: Page, facility: str, room_code: str) -> None:
    option = tech.locator(
        f'#room option[data-facility-name="{facility}"][data-room-code="{room_code}"]'
    )
    await tech.select_option("#room", value=await option.get_attribute("value"))


@pytest.mark.parametrize("device", sorted(VIEWPORTS))
async def test_techeast_sees_dr_patel_on_call_for_east(
    server: LiveServer, pages: Pages, device: str
) -> None:
    """East's primary and backup by name and role, the paging order after them, no warning."""
    tech_w = await pages.open(**VIEWPORTS[device])
    tech = tech_w.page
    await sign_in(tech, server, "techeast", "/tech")

    box = tech.locator("#on-call")
    await expect(box).to_have_attribute("data-state", "ok")
    await expect(box.locator(".on-call-head")).to_have_text("On call now East Side Imaging")
    primary = box.locator('.on-call-item[data-schedule="EAST-PRIMARY"]')
    await expect(primary).to_have_text("primary Dr Anya Patel")
    await expect(primary).to_have_attribute("data-pageable", "true")
    await expect(box.locator('.on-call-item[data-schedule="EAST-BACKUP"]')).to_have_text(
        "backup Dr Ray Diaz"
    )
    await expect(box.locator(".on-call-item").first).to_have_attribute(
        "data-schedule", "EAST-PRIMARY"
    )
    await expect(tech.locator("#on-call-note")).to_have_text(
        "Paging order: primary at once · backup after 1 s · whole eligible pool after 2 s."
    )
    await expect(tech.locator("#on-call-warning")).to_be_hidden()
    await expect(tech.locator("#request")).to_be_enabled()
    await no_phone_numbers(tech)
    await screenshot(tech, f"tech-on-call-{device}")

    # Out of sight while a request is open, back once it has ended.
    await request_supervision(tech, EAST, "CT-E", "OC-1")
    await expect(box).to_be_hidden()
    await tech.select_option("#cancel-reason", "requested_in_error")
    await tech.click("#end")
    await tech.click('[data-testid="confirm-yes"]')
    await expect(tech.locator("#ended-panel")).to_be_visible()
    await expect(primary).to_have_text("primary Dr Anya Patel")
    tech_w.check()


async def test_switching_to_a_facility_without_schedules_says_the_pool_is_paged(
    server: LiveServer, pages: Pages
) -> None:
    """techeast also works at North (given by an admin): choosing a North room shows North's
    pager, the whole eligible pool at once; choosing East again shows Dr Patel."""
    async with api(server, await login(server, "admin")) as client:
        user = (await client.get("/api/admin/users/techeast")).json()["user"]
        response = await client.put(
            "/api/admin/users/techeast", json=user | {"facilities": ["EAST", "NORTH"]}
        )
    assert response.status_code == 200, response.text
    tech_w = await pages.open(**VIEWPORTS["laptop"])
    tech = tech_w.page
    await sign_in(tech, server, "techeast", "/tech")
    box = tech.locator("#on-call")
    # Two facilities and no room chosen yet: which one is not known.
    await expect(box).to_have_attribute("data-state", "choose")
    await expect(box).to_contain_text("Choose a room to see who is on call there.")

    await choose_room(tech, EAST, "CT-E")
    await expect(box.locator(".on-call-item")).to_have_count(2)
    await expect(box).to_contain_text("Dr Anya Patel")

    await choose_room(tech, NORTH, "MR1")
    await expect(tech.locator("#on-call-where")).to_have_text(NORTH)
    await expect(tech.locator("#on-call-note")).to_have_text(
        "No on-call schedule here: the whole eligible pool is paged at once."
    )
    await expect(box.locator(".on-call-item")).to_have_count(0)
    await expect(box).not_to_contain_text("Dr Anya Patel")
    await expect(tech.locator("#on-call-warning")).to_be_hidden()
    await no_phone_numbers(tech)
    await screenshot(tech, "tech-on-call-pool-laptop")

    await choose_room(tech, EAST, "CT-E")
    await expect(tech.locator("#on-call-where")).to_have_text(EAST)
    await expect(box).to_contain_text("Dr Anya Patel")
    tech_w.check()


async def test_a_paging_order_without_schedules_names_who_is_paged(
    server: LiveServer, pages: Pages
) -> None:
    """Gulf pages named radiologists, not schedules: the box gives the order, names and delays."""
    tech_w = await pages.open(**VIEWPORTS["phone"])
    tech = tech_w.page
    await sign_in(tech, server, "techgulf", "/tech")
    await expect(tech.locator("#on-call-note")).to_have_text(
        "No on-call schedule here. Paging order: Dr Mae Bay, Dr Cal Cove, Dr Dee Dune at once"
        " · Dr Rae Reef after 4 s · whole eligible pool after 6 s."
    )
    await expect(tech.locator("#on-call")).to_have_attribute("data-state", "ok")
    await expect(tech.locator("#on-call-warning")).to_be_hidden()
    await no_phone_numbers(tech)
    tech_w.check()


async def test_a_handoff_shows_until_when_in_the_facility_time_and_who_is_next(
    server: LiveServer, pages: Pages
) -> None:
    """Patel and Diaz take 3 h turns on East's primary: "until" is the handoff on Chicago's 24 h
    clock, then who takes over; a browser keeping another zone's time also sees the zone's name."""
    now = datetime.now(CHICAGO)
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    await put_schedule(
        server,
        "EAST-PRIMARY",
        ["drpatel", "drdiaz"],
        start=start.replace(tzinfo=None).isoformat(timespec="minutes"),
        shift="3h",
    )
    async with api(server, await login(server, "techeast")) as client:
        east = (await client.get("/api/rooms")).json()["rooms"][0]["facility"]["id"]
        view = (await client.get(f"/api/facilities/{east}/on-call")).json()["on_call"]
    until = next(s["until"] for s in view["schedules"] if s["code"] == "EAST-PRIMARY")
    handoff = datetime.fromisoformat(until).astimezone(CHICAGO)
    assert timedelta(hours=1) < handoff - now <= timedelta(hours=3)
    clock = handoff.strftime("%H:%M")
    if handoff.date() != now.date():
        clock = f"{handoff.strftime('%a')} {clock}"

    local_w = await pages.open(**VIEWPORTS["phone"], timezone_id="America/Chicago")
    utc_w = await pages.open(**VIEWPORTS["laptop"], timezone_id="UTC", color_scheme="dark")
    for watched, zone in ((local_w, ""), (utc_w, r" C[SD]T")):
        tech = watched.page
        await sign_in(tech, server, "techeast", "/tech")
        primary = tech.locator('.on-call-item[data-schedule="EAST-PRIMARY"]')
        await expect(primary).to_have_text(
            re.compile(rf"^primary Dr Anya Patel until {clock}{zone}, then Dr Ray Diaz$")
        )
        await no_phone_numbers(tech)
    await screenshot(local_w.page, "tech-on-call-until-phone")
    await screenshot(utc_w.page, "tech-on-call-until-laptop-dark")
    local_w.check()
    utc_w.check()


async def test_nobody_on_call_pageable_is_a_clear_warning_and_it_refreshes_every_minute(
    server: LiveServer, pages: Pages
) -> None:
    """Primary expired, backup fine: the backup is paged after 1 s. A minute later (the backup has
    lost EAST meanwhile) nobody on call can be paged: the whole eligible pool will be."""
    await put_schedule(server, "EAST-PRIMARY", ["drexpired"])
    tech_w = await pages.open(**VIEWPORTS["phone"])
    tech = tech_w.page
    await tech.clock.install()
    await sign_in(tech, server, "techeast", "/tech")
    box = tech.locator("#on-call")
    warning = tech.locator("#on-call-warning")
    primary = box.locator('.on-call-item[data-schedule="EAST-PRIMARY"]')
    await expect(primary).to_have_text(
        "primary Dr Old License (cannot be paged now: license expired)"
    )
    await expect(primary).to_have_attribute("data-pageable", "false")
    await expect(warning).to_have_text(
        "Nobody on call for the primary can be paged now: the backup, Dr Ray Diaz, "
        "will be paged after 1 s."
    )
    await expect(box).to_have_attribute("data-state", "warn")
    await screenshot(tech, "tech-on-call-backup-first-phone")

    await put_schedule(server, "EAST-BACKUP", ["drnopriv"])
    await tech.clock.fast_forward(61_000)
    await expect(box.locator('.on-call-item[data-schedule="EAST-BACKUP"]')).to_have_text(
        "backup Dr No Privileges (cannot be paged now: no privileges here)"
    )
    await expect(warning).to_have_text(
        "Nobody on call can be paged now: the whole eligible pool will be paged after 2 s."
    )
    await expect(tech.locator("#request")).to_be_enabled()
    await no_phone_numbers(tech)
    # (the jump in time outran the socket's pings: it reconnects by itself)
    await expect(tech.locator("#ws-status")).to_have_attribute("data-state", "ok")
    await screenshot(tech, "tech-on-call-warning-phone")
    tech_w.check()


async def test_an_unavailable_on_call_view_is_one_quiet_line_and_requests_still_go(
    server: LiveServer, pages: Pages
) -> None:
    """The endpoint failing leaves a muted line, no warning, and the request form working."""

    async def refuse(route: Route) -> None:
        await route.fulfill(status=500, json={"error": "internal", "detail": "boom"})

    tech_w = await pages.open(**VIEWPORTS["laptop"])
    tech = tech_w.page
    await tech.route(re.compile(r"/api/facilities/\d+/on-call$"), refuse)
    await sign_in(tech, server, "techeast", "/tech")
    box = tech.locator("#on-call")
    await expect(box).to_have_attribute("data-state", "error")
    await expect(tech.locator("#on-call-note")).to_have_text(
        "Who is on call could not be loaded just now."
    )
    await expect(box.locator(".on-call-item")).to_have_count(0)
    await expect(tech.locator("#on-call-warning")).to_be_hidden()
    await expect(tech.locator("#notices")).to_be_empty()
    await screenshot(tech, "tech-on-call-unavailable-laptop")
    await request_supervision(tech, EAST, "CT-E", "OC-2")
    tech_w.check()
