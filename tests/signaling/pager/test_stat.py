"""A reaction summons help, through the real service and the fake Twilio (issue 10 item 4): the STAT
page's own wording on SMS, voice and in-app, accepting it by reply or keypress, and the reaction alert
to the radiologist in the session.

GULF (tests/directory.yaml) pages Dr Bay, Dr Cove and Dr Dune at T+0 on every channel, Dr Reef at
T+4 s, the pool at T+6 s by SMS: a STAT pages all four at once on every channel. The record's routes
(the lead's) call ``signaling.pager.summons``; until they exist these tests make the same calls on
the server's own event loop.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from signaling.clock import utc_now
from signaling.pager import summons
from signaling.storage.models import SupervisionSession
from tests.fakes.twilio_server import FakeMessage, FakeTwilio
from tests.live import LiveServer, api, connect, login
from tests.signaling.helpers import call, get_session, open_session, room_id

BAY, COVE, DUNE, REEF = "+15550000101", "+15550000102", "+15550000103", "+15550000104"
ACCESSION = "ACC-SECRET-99"


async def gulf_request(server: LiveServer) -> tuple[str, str]:
    tech = await login(server, "techgulf")
    room = await room_id(server, tech, "Gulf Coast Imaging")
    session = await open_session(server, tech, room_id=room, accession_number=ACCESSION)
    return tech, str(session["id"])


async def stat(server: LiveServer, session_id: str) -> int:
    """What the record does when a moderate reaction is recorded with nobody live: the STAT in its
    transaction, the pages sent after the commit. How many pages it sent."""
    services = server.app_state().services

    async def work() -> int:
        async with services.db() as db, db.begin():
            now = utc_now()
            s = await db.get(SupervisionSession, session_id)
            fresh = await summons.stat(services.pager, db, session_id, s.facility_id, now)
        await summons.send_stat(services.pager, fresh, session_id, now)
        return len(fresh)

    return await server.run(work())


async def stat_sms(fake: FakeTwilio, number: str) -> FakeMessage:
    """The next SMS to ``number`` that is a STAT (the ordinary first-tier pages come first)."""
    while True:
        message = await fake.expect_sms(number)
        if message.body.startswith("STAT"):
            return message


async def test_a_stat_reaches_every_tier_by_sms_and_call_in_its_own_words(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """Every radiologist of every tier gets the STAT SMS (site, room, login link, no accession) and
    a call, within moments of each other: Dr Reef's tier would have waited 4 s."""
    _, session_id = await gulf_request(phone_server)
    for number in (BAY, COVE, DUNE):  # the first tier, paged as the session opened
        await fake_twilio.expect_sms(number)
        await fake_twilio.expect_call(number)
    asked = utc_now()
    assert await stat(phone_server, session_id) == 12
    texts = [await stat_sms(fake_twilio, n) for n in (BAY, COVE, DUNE, REEF)]
    calls = [await fake_twilio.expect_call(n) for n in (BAY, COVE, DUNE, REEF)]
    expected = (
        "STAT: contrast reaction at Gulf Coast Imaging, CT Gulf. Supervising radiologist needed "
        f"now. Open: {phone_server.url}/rad Reply 1 or YES to accept."
    )
    assert {t.body for t in texts} == {expected}
    assert all(ACCESSION not in t.body for t in texts)
    urls = {c.url for c in calls}
    for _ in range(100):  # (the fake records a request just after handing out its message)
        stat_requests = [
            r
            for r in fake_twilio.requests
            if (r.get("Body") or "").startswith("STAT") or r.get("Url") in urls
        ]
        if len(stat_requests) == 8:
            break
        await asyncio.sleep(0.02)
    assert len(stat_requests) == 8
    assert min(r.at for r in stat_requests) >= asked
    spread = max(r.at for r in stat_requests) - min(r.at for r in stat_requests)
    assert spread < timedelta(seconds=3), f"the STAT's pages took {spread} to go out"
    heard = await calls[3].answer(digits=None)
    assert "Standby STAT. A contrast reaction at Gulf Coast Imaging, CT Gulf." in heard
    assert "Press 1 to accept" in heard
    assert ACCESSION not in heard


async def test_pressing_1_on_a_stat_call_accepts(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """Dr Reef, paged only by the STAT, presses 1: he has accepted the request, by phone."""
    tech, session_id = await gulf_request(phone_server)
    await stat(phone_server, session_id)
    phoned = await fake_twilio.expect_call(REEF)
    heard = await phoned.answer(digits="1")
    assert phoned.twiml[0].count("Standby STAT. A contrast reaction") == 1
    assert "Accepted" in heard
    stored = await get_session(phone_server, tech, session_id)
    assert [(a["radiologist"]["full_name"], a["via"]) for a in stored["accepts"]] == [
        ("Dr Rae Reef", "voice")
    ]


async def test_replying_yes_to_a_stat_sms_accepts(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """Dr Reef replies YES to the STAT SMS: accepted, and the reply names the site and room."""
    tech, session_id = await gulf_request(phone_server)
    await stat(phone_server, session_id)
    await stat_sms(fake_twilio, REEF)
    reply = await fake_twilio.reply_sms(REEF, "yes", f"{phone_server.url}/twilio/sms")
    assert "Accepted Gulf Coast Imaging, CT Gulf" in reply.text
    stored = await get_session(phone_server, tech, session_id)
    assert [a["via"] for a in stored["accepts"]] == ["sms"]


async def test_a_stat_shows_in_app_and_in_the_paging_record(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """An open console gets a ``page`` marked STAT with the facility and room; the paging record
    lists the STAT pages as such; a second STAT moments later pages nobody."""
    tech, session_id = await gulf_request(phone_server)
    reef = await login(phone_server, "drreef")
    async with connect(phone_server, reef) as console:
        await console.expect("requests")
        await stat(phone_server, session_id)
        page = await console.expect("page")
        while not page["stat"]:  # (an ordinary page of his tier, on a slow machine)
            page = await console.expect("page")
    assert page == {
        "type": "page",
        "session_id": session_id,
        "tier": 1,
        "request": None,
        "stat": True,
        "facility": "Gulf Coast Imaging",
        "room": "CT Gulf",
    }
    assert await stat(phone_server, session_id) == 0
    async with api(phone_server, tech) as client:
        paging = (await client.get(f"/api/sessions/{session_id}/paging")).json()["paging"]
    reefs = [(p["channel"], p["purpose"]) for p in paging["pages"] if p["name"] == "Dr Rae Reef"]
    assert sorted(reefs) == [("in_app", "stat"), ("sms", "stat"), ("voice", "stat")]
    assert paging["state"] == "active"


def alert(session_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "seq": 7,
        "onset_at": utc_now().replace(microsecond=123000),
        "severity": "moderate",
        "reported_by": "Tina Torres",
    } | changes


async def test_the_radiologist_in_the_session_gets_the_reaction_alert(server: LiveServer) -> None:
    """The record tells the radiologist in the session: their socket gets ``reaction_alert`` with
    the entry, onset, severity and who reported it; the technologist's does not."""
    hub = server.app_state().services.hub
    async with call(server) as (session_id, tech, rad):
        sent = alert(session_id)
        await server.run(summons.reaction_alert(hub, **sent))
        got = await rad.expect("reaction_alert")
        await tech.send({"type": "ping"})
        await tech.expect("pong")
    assert got == {
        "type": "reaction_alert",
        "session_id": session_id,
        "seq": 7,
        "onset_at": sent["onset_at"].strftime("%Y-%m-%dT%H:%M:%S.123Z"),
        "severity": "moderate",
        "reported_by": "Tina Torres",
    }
    assert "reaction_alert" not in [m["type"] for m in tech.seen]


async def test_a_malformed_reaction_alert_is_not_shown_half(server: LiveServer) -> None:
    """An alert that does not validate (no reporter's name) never reaches the page; the socket
    stays and the next good one arrives."""
    hub = server.app_state().services.hub
    async with call(server) as (session_id, _tech, rad):
        await server.run(summons.reaction_alert(hub, **alert(session_id, reported_by="")))
        await server.run(summons.reaction_alert(hub, **alert(session_id, seq=8)))
        got = await rad.expect("reaction_alert")
    assert got["seq"] == 8
    assert [m["type"] for m in rad.seen].count("reaction_alert") == 1
