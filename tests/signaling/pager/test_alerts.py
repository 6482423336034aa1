"""The supervisors' alerts through the real service and the fake Twilio: a contrast reaction's STAT
alerts the facility's supervisors too, in-app and by SMS in words that say it is a reaction (no
patient information); the in-app alert counts as delivered only once a page of theirs said it
showed it; the inbox lists it with both deliveries."""

from __future__ import annotations

import asyncio

from signaling.pager.wiring import NO_PAGE_OPEN
from tests.fakes.twilio_server import FakeTwilio
from tests.live import LiveServer, api, connect, login
from tests.signaling.pager.test_phone import HARBOR, PIER, port_request, settled_alerts
from tests.signaling.pager.test_stat import stat


async def test_a_stat_alerts_the_supervisor_as_a_reaction_in_app_and_by_sms(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """A reaction at PORT with nobody live: besides Dr Harbor's STAT, Sue Pier's console gets a
    ``reaction`` alert naming site and room and confirms it; her SMS says it is a contrast
    reaction and links her console; her inbox shows both as delivered."""
    async with connect(phone_server, await login(phone_server, "superport")) as console:
        await console.expect("hello")
        tech, session = await port_request(phone_server)
        await fake_twilio.expect_sms(HARBOR)  # the first tier, as the request opened
        assert await stat(phone_server, str(session["id"])) == 3  # in-app, SMS and a call
        alert = await console.expect("supervisor_alert", timeout=10)
        assert (alert["session_id"], alert["alert"], alert["round"]) == (
            session["id"],
            "reaction",
            1,
        )
        assert (alert["facility"], alert["room"]) == ("Port Imaging", "CT Port")
        await console.send({"type": "alert_shown", "ack": alert["ack"]})
        sms = await fake_twilio.expect_sms(PIER, timeout=10)
        assert sms.body == (
            "Standby ALERT: contrast reaction at Port Imaging, CT Port. Nobody was supervising "
            f"live; every radiologist tier was paged STAT. Open {phone_server.url}/super"
        )
        assert "ACC-SECRET-77" not in sms.body
        told: list[dict[str, object]] = []
        for _ in range(100):
            async with api(phone_server, tech) as client:
                paging = (await client.get(f"/api/sessions/{session['id']}/paging")).json()
            told = paging["paging"]["supervisors_told_of_reaction"]
            if told and all(t["status"] not in ("pending", "sending") for t in told):
                break
            await asyncio.sleep(0.1)
    assert {(t["channel"], t["status"]) for t in told} == {("in_app", "sent"), ("sms", "sent")}
    assert paging["paging"]["supervisors_alerted"] == []  # paging has not run out
    async with api(phone_server, await login(phone_server, "superport")) as client:
        inbox = (await client.get("/api/super/alerts")).json()["alerts"]
    assert [(a["kind"], a["session_id"], a["delivered"]) for a in inbox] == [
        ("reaction", session["id"], True)
    ]
    assert {(d["channel"], d["status"]) for d in inbox[0]["deliveries"]} == {
        ("in_app", "sent"),
        ("sms", "sent"),
    }


async def test_a_confirmation_of_an_alert_never_handed_out_counts_for_nothing(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """A page that answers ``alert_shown`` with a token it was not given (or a malformed one)
    delivers nothing: paging runs out at PORT and the in-app alert is still not delivered."""
    async with connect(phone_server, await login(phone_server, "superport")) as console:
        await console.expect("hello")
        await console.send({"type": "alert_shown", "ack": "nope"})
        error = await console.expect("error")
        assert error["code"] == "invalid_message"
        tech, session = await port_request(phone_server)
        await fake_twilio.expect_sms(HARBOR)
        alert = await console.expect("supervisor_alert", timeout=10)
        await console.send({"type": "alert_shown", "ack": "0" * 32})  # not the one handed out
        assert alert["ack"] != "0" * 32
        by_channel = {
            a["channel"]: a for a in await settled_alerts(phone_server, tech, session["id"])
        }
    assert (by_channel["in_app"]["status"], by_channel["in_app"]["detail"]) == (
        "failed",
        NO_PAGE_OPEN,
    )
