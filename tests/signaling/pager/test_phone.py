"""SMS and voice pages through a fake Twilio that is a real HTTP server and signs its callbacks.

EAST pages Dr Patel (+15550000005) at T+0 on in-app, SMS and voice; PORT pages Dr Harbor
(+15550000201) at T+0 by SMS only and runs out at T+4 s, when its supervisor Sue Pier
(+15550000202) is alerted; tests/directory.yaml.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx

from tests.conftest import make_settings
from tests.fakes.twilio_server import FakeTwilio, Signing
from tests.live import LiveServer, api, connect, free_port, login, run_server
from tests.signaling.helpers import get_session, join_request, open_session, room_id

PATEL = "+15550000005"
HARBOR = "+15550000201"
PIER = "+15550000202"


async def east_request(server: LiveServer) -> tuple[str, dict[str, object]]:
    tech = await login(server, "techeast")
    room = await room_id(server, tech, "East Side Imaging")
    return tech, await open_session(server, tech, room_id=room, accession_number="ACC-SECRET-42")


async def test_sms_page_carries_site_and_link_but_no_patient_information(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """The on-call primary gets an SMS naming the site, with a login link and no accession."""
    await east_request(phone_server)
    sms = await fake_twilio.expect_sms(PATEL)
    assert "East Side Imaging" in sms.body
    assert f"{phone_server.url}/rad" in sms.body
    assert "ACC-SECRET-42" not in sms.body
    assert sms.status_callback is not None
    assert sms.status_callback.startswith(f"{phone_server.url}/twilio/status/")


async def test_sms_reply_yes_accepts(phone_server: LiveServer, fake_twilio: FakeTwilio) -> None:
    """Replying YES to the page accepts the request for that radiologist."""
    tech, session = await east_request(phone_server)
    await fake_twilio.expect_sms(PATEL)
    reply = await fake_twilio.reply_sms(PATEL, " Yes. ", f"{phone_server.url}/twilio/sms")
    assert reply.status_code == 200
    assert "Accepted" in reply.text
    assert "Join" in reply.text
    stored = await get_session(phone_server, tech, str(session["id"]))
    # Accepting is not joining: the session is not hers until she joins from a console.
    assert stored["radiologist"] is None
    assert [(a["radiologist"]["full_name"], a["via"]) for a in stored["accepts"]] == [
        ("Dr Anya Patel", "sms")
    ]
    again = await fake_twilio.reply_sms(PATEL, "YES", f"{phone_server.url}/twilio/sms")
    assert again.status_code == 200
    async with api(phone_server, tech) as client:
        events = (await client.get(f"/api/sessions/{session['id']}/events")).json()["events"]
    assert [e["kind"] for e in events].count("accepted") == 1


async def test_unsigned_or_forged_webhooks_change_nothing(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """A reply without, or with a wrong, X-Twilio-Signature is refused with 403 and accepts nothing."""
    tech, session = await east_request(phone_server)
    await fake_twilio.expect_sms(PATEL)
    for signing in (Signing.MISSING, Signing.WRONG):
        response = await fake_twilio.reply_sms(
            PATEL, "1", f"{phone_server.url}/twilio/sms", signing=signing
        )
        assert response.status_code == 403
    stored = await get_session(phone_server, tech, str(session["id"]))
    assert stored["radiologist"] is None
    assert stored["accepts"] == []


async def test_failed_delivery_is_recorded(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """An undelivered SMS shows as failed in the paging record, once, however often Twilio says so."""
    fake_twilio.fail_next(PATEL, "sms")
    tech, session = await east_request(phone_server)
    sms = await fake_twilio.expect_sms(PATEL)
    for _ in range(100):
        async with api(phone_server, tech) as client:
            summary = (await client.get(f"/api/sessions/{session['id']}/paging")).json()["paging"]
        sms_pages = [p for p in summary["pages"] if p["channel"] == "sms"]
        if sms_pages and sms_pages[0]["status"] == "failed":
            break
        await asyncio.sleep(0.05)
    assert sms_pages[0]["status"] == "failed"
    assert "undelivered" in sms_pages[0]["detail"]
    assert sms.statuses


async def test_a_hung_carrier_call_delays_nobody_else(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """Dr Patel's voice page hangs at the carrier: her SMS page, sent in the same tier, is recorded
    sent as soon as its own request returns, so her YES accepts while the call still hangs."""
    fake_twilio.hang_next(PATEL, "call")
    try:
        tech, session = await east_request(phone_server)
        await fake_twilio.expect_sms(PATEL)
        statuses: dict[str, str] = {}
        for _ in range(300):  # until the SMS page is recorded (the call's timeout is 10 s)
            async with api(phone_server, tech) as client:
                summary = (await client.get(f"/api/sessions/{session['id']}/paging")).json()
            statuses = {p["channel"]: p["status"] for p in summary["paging"]["pages"]}
            if statuses.get("sms") != "sending":
                break
            await asyncio.sleep(0.05)
        # Recorded while the call's own request still waits for the carrier, not after it gave up.
        sent = {channel: statuses.get(channel) for channel in ("in_app", "sms", "voice")}
        assert sent == {"in_app": "sent", "sms": "sent", "voice": "sending"}
        reply = await fake_twilio.reply_sms(PATEL, "YES", f"{phone_server.url}/twilio/sms")
        assert "Accepted" in reply.text
        stored = await get_session(phone_server, tech, str(session["id"]))
        assert [a["via"] for a in stored["accepts"]] == ["sms"]
    finally:
        fake_twilio.release_hung()


async def test_pressing_1_on_the_call_accepts(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """The voice page asks to press 1; the keypress accepts for the called radiologist."""
    tech, session = await east_request(phone_server)
    call = await fake_twilio.expect_call(PATEL)
    assert call.machine_detection == "Enable"
    heard = await call.answer(digits="1")
    assert "Accepted" in heard
    assert "Press 1 to accept" in call.twiml[0]
    assert "ACC-SECRET-42" not in "".join(call.twiml)
    stored = await get_session(phone_server, tech, str(session["id"]))
    assert [(a["radiologist"]["full_name"], a["via"]) for a in stored["accepts"]] == [
        ("Dr Anya Patel", "voice")
    ]


async def test_voicemail_is_not_reached_and_accepts_nothing(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """An answering machine counts as not reached: no accept, and the page is marked so."""
    tech, session = await east_request(phone_server)
    call = await fake_twilio.expect_call(PATEL)
    await call.voicemail()
    stored = await get_session(phone_server, tech, str(session["id"]))
    assert stored["accepts"] == []
    async with api(phone_server, tech) as client:
        summary = (await client.get(f"/api/sessions/{session['id']}/paging")).json()["paging"]
    voice = [p for p in summary["pages"] if p["channel"] == "voice" and p["tier"] == 0]
    assert voice[0]["status"] == "failed"
    assert voice[0]["detail"] == "voicemail: not reached"


async def port_request(server: LiveServer) -> tuple[str, dict[str, object]]:
    tech = await login(server, "techport")
    room = await room_id(server, tech, "Port Imaging")
    return tech, await open_session(server, tech, room_id=room, accession_number="ACC-SECRET-77")


async def paging_summary(server: LiveServer, tech: str, session_id: object) -> dict[str, Any]:
    async with api(server, tech) as client:
        response = await client.get(f"/api/sessions/{session_id}/paging")
    assert response.status_code == 200, response.text
    return response.json()["paging"]  # type: ignore[no-any-return]


async def test_undelivered_sms_moves_the_person_to_a_call_at_once(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """PORT pages Dr Harbor by SMS only; Twilio reports it undelivered: he is called at once,
    and the record shows the SMS failed and the call that followed."""
    fake_twilio.fail_next(HARBOR, "sms")
    tech, session = await port_request(phone_server)
    sms = await fake_twilio.expect_sms(HARBOR)
    await fake_twilio.expect_call(HARBOR)
    assert sms.statuses == ["undelivered"]
    summary = await paging_summary(phone_server, tech, session["id"])
    mine = {p["channel"]: (p["status"], p["detail"]) for p in summary["pages"] if p["tier"] == 0}
    assert mine["sms"][0] == "failed"
    assert "undelivered" in (mine["sms"][1] or "")
    assert mine["voice"] == ("sent", "sms failed")


async def test_duplicated_and_out_of_order_callbacks_change_state_once(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """Twilio repeats a callback, and 'delivered' arrives after 'undelivered': the page fails
    once, one call follows, and a late 'delivered' or 'sent' moves nothing back."""
    fake_twilio.fail_next(HARBOR, "sms")
    tech, session = await port_request(phone_server)
    sms = await fake_twilio.expect_sms(HARBOR)
    await fake_twilio.expect_call(HARBOR)
    for _ in range(3):
        assert (await sms.repeat_last()).status_code == 204
    assert (await sms.send_status("failed")).status_code == 204
    assert (await sms.deliver()).status_code == 204
    assert (await sms.send_status("sent")).status_code == 204
    await asyncio.sleep(0.3)  # (anything the repeats wrongly caused would be out by now)
    assert [c.to for c in fake_twilio.calls] == [HARBOR]
    summary = await paging_summary(phone_server, tech, session["id"])
    sms_pages = [p for p in summary["pages"] if p["channel"] == "sms"]
    assert [p["status"] for p in sms_pages] == ["failed"]


async def test_status_callbacks_need_a_valid_signature(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """An unsigned or wrongly signed 'undelivered' is refused and moves nobody to another channel."""
    tech, session = await port_request(phone_server)
    sms = await fake_twilio.expect_sms(HARBOR)
    for signing in (Signing.MISSING, Signing.WRONG):
        response = await sms.send_status("undelivered", signing=signing)
        assert response.status_code == 403
    summary = await paging_summary(phone_server, tech, session["id"])
    assert [p["status"] for p in summary["pages"] if p["channel"] == "sms"] == ["sent"]
    assert fake_twilio.calls == []


async def test_running_out_alerts_the_facilitys_supervisors(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """Nobody joins at PORT: at T+4 s paging runs out, the technologist sees it, and the facility's
    supervisor gets an SMS (site and link to their console, no patient information) and a live
    in-app alert, delivered because the page said it showed it."""
    async with connect(phone_server, await login(phone_server, "superport")) as console:
        await console.expect("hello")
        tech, session = await port_request(phone_server)
        await fake_twilio.expect_sms(HARBOR)
        alert = await console.expect("supervisor_alert", timeout=10)
        assert set(alert) == {"type", "session_id", "alert", "round", "facility", "room", "ack"}
        assert (alert["session_id"], alert["alert"]) == (session["id"], "exhausted")
        assert (alert["facility"], alert["room"]) == ("Port Imaging", "CT Port")
        await console.send({"type": "alert_shown", "ack": alert["ack"]})
        await asyncio.sleep(0.3)  # (the confirmation on its way back before the socket closes)
    sms = await fake_twilio.expect_sms(PIER, timeout=5)
    assert "Port Imaging" in sms.body
    assert "ACC-SECRET-77" not in sms.body
    assert sms.body.startswith("Standby ALERT")
    assert sms.body.endswith(f"Open {phone_server.url}/super")
    summary = await paging_summary(phone_server, tech, session["id"])
    assert summary["exhausted"] is True
    alerts = await settled_alerts(phone_server, tech, session["id"])
    assert {(a["name"], a["channel"], a["status"]) for a in alerts} == {
        ("Sue Pier", "in_app", "sent"),
        ("Sue Pier", "sms", "sent"),
    }
    assert "+1555" not in str(summary)
    # A supervisor's "YES" is not a radiologist's accept.
    reply = await fake_twilio.reply_sms(PIER, "YES", f"{phone_server.url}/twilio/sms")
    assert "no open page" in reply.text


async def settled_alerts(server: LiveServer, token: str, session_id: str) -> list[dict[str, Any]]:
    """The supervisors' alerts once none is still on its way (pending or sending)."""
    alerts: list[dict[str, Any]] = []
    for _ in range(100):
        alerts = (await paging_summary(server, token, session_id))["supervisors_alerted"]
        if alerts and all(a["status"] not in ("pending", "sending") for a in alerts):
            break
        await asyncio.sleep(0.1)
    return alerts


async def test_an_in_app_alert_with_no_page_open_is_not_counted_as_alerting(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """Paging runs out at PORT while its supervisor has no Standby page open that shows alerts
    (a socket that receives the alert but never says it showed it counts for nothing): the
    in-app alert is recorded as not delivered (the technologist is not told she was alerted that
    way); the SMS that reached the carrier still counts."""
    async with connect(phone_server, await login(phone_server, "superport")) as silent:
        await silent.expect("hello")
        tech, session = await port_request(phone_server)
        await fake_twilio.expect_sms(HARBOR)
        await fake_twilio.expect_sms(PIER, timeout=10)
        assert (await silent.expect("supervisor_alert"))["session_id"] == session["id"]
        by_channel = {
            a["channel"]: a for a in await settled_alerts(phone_server, tech, session["id"])
        }
    assert by_channel["in_app"]["status"] == "failed"
    assert by_channel["in_app"]["detail"] == "not delivered: no Standby page open"
    assert by_channel["sms"]["status"] == "sent"


async def test_webhooks_for_unknown_pages_and_oversized_bodies(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """A signed callback naming a page that does not exist changes nothing and says so; a body over
        the 64 KiB limit is refused (413) before anything reads it; a page id that is not a number, or past
    the schema's range, is 422."""
    base = phone_server.url
    status = await fake_twilio.post_callback(
        f"{base}/twilio/status/999999", {"MessageStatus": "undelivered", "MessageSid": "SMx"}
    )
    assert status.status_code == 204
    voice = await fake_twilio.post_callback(f"{base}/twilio/voice/999999", {"CallSid": "CAx"})
    assert voice.status_code == 200
    assert "no longer valid" in voice.text
    huge = await fake_twilio.post_callback(f"{base}/twilio/sms", {"Body": "Y" * 70_000})
    assert huge.status_code == 413
    odd = await fake_twilio.post_callback(f"{base}/twilio/status/not-a-page", {"CallSid": "CAx"})
    assert odd.status_code == 422
    for path in (
        f"/twilio/status/{2**63}",
        f"/twilio/voice/{2**31}",
        f"/twilio/voice/{2**63}/gather",
    ):
        past_range = await fake_twilio.post_callback(f"{base}{path}", {"CallSid": "CAx"})
        assert past_range.status_code == 422, path
    assert fake_twilio.messages == []
    assert fake_twilio.calls == []


async def test_webhooks_without_a_carrier_are_refused(server: LiveServer) -> None:
    """With no carrier configured there is no token to check signatures against: 403, always."""
    async with api(server) as client:
        response = await client.post("/twilio/sms", data={"Body": "YES", "From": PATEL})
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


# --- a replayed webhook never acts twice; a YES accepts what was paged to that number -------------


async def accepted_events(server: LiveServer, session_id: object) -> int:
    """How many accepts the session's record shows (a repeat that changed nothing adds none)."""
    async with api(server, await login(server, "techeast")) as client:
        response = await client.get(f"/api/sessions/{session_id}/events")
    assert response.status_code == 200, response.text
    return [e["kind"] for e in response.json()["events"]].count("accepted")


async def withdraw(server: LiveServer, username: str, session_id: object) -> None:
    """The radiologist withdraws an accept from the console (paging resumes)."""
    async with api(server, await login(server, username)) as client:
        response = await client.post(f"/api/sessions/{session_id}/release")
    assert response.status_code == 200, response.text


def accepts(stored: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["radiologist"]["full_name"], a["via"]) for a in stored["accepts"]]


async def test_a_replayed_sms_reply_acts_once_even_after_a_restart(
    database_url: str, fake_twilio: FakeTwilio
) -> None:
    """Dr Patel's YES accepts and she withdraws it; the same signed message (same MessageSid)
    replayed to the restarted service accepts nothing and texts nothing back; a new YES accepts."""
    port = free_port()
    twilio = fake_twilio.settings()
    with run_server(make_settings(database_url, port), port, twilio) as first:
        _, session = await east_request(first)
        await fake_twilio.expect_sms(PATEL)
        reply = await fake_twilio.reply_sms(PATEL, "YES", f"{first.url}/twilio/sms")
        assert "Accepted East Side Imaging, CT East (requested " in reply.text
        await withdraw(first, "drpatel", session["id"])
    yes = fake_twilio.last_callback("/twilio/sms")
    with run_server(make_settings(database_url, port), port, twilio) as second:
        replayed = await fake_twilio.replay(yes)
        assert replayed.status_code == 200
        assert "<Message>" not in replayed.text
        assert await accepted_events(second, session["id"]) == 1
        tech = await login(second, "techeast")
        assert accepts(await get_session(second, tech, str(session["id"]))) == []
        fresh = await fake_twilio.reply_sms(PATEL, "YES", f"{second.url}/twilio/sms")
        assert "Accepted East Side Imaging" in fresh.text
        assert await accepted_events(second, session["id"]) == 2


async def test_the_same_reply_at_two_workers_at_once_acts_once(
    database_url: str, fake_twilio: FakeTwilio
) -> None:
    """Two workers on one database receive the same signed YES at the same moment: one of them
    accepts and texts back, the other answers with an empty reply."""
    twilio = fake_twilio.settings()
    port_a, port_b = free_port(), free_port()
    with (
        run_server(make_settings(database_url, port_a), port_a, twilio) as a,
        run_server(make_settings(database_url, port_b), port_b, twilio) as b,
    ):
        _, session = await east_request(a)
        await fake_twilio.expect_sms(PATEL)
        # Both servers run in this one process (threads): FastAPI builds a route's parameter
        # models on its first request, and two threads doing that at once race in pydantic. Real
        # workers are processes; an unsigned request to each first (refused, 403) builds them.
        async with httpx.AsyncClient() as client:
            for worker in (a, b):
                unsigned = await client.post(f"{worker.url}/twilio/sms", data={"Body": "YES"})
                assert unsigned.status_code == 403
        sid = "SM" + secrets.token_hex(16)
        replies = await asyncio.gather(
            *(
                fake_twilio.reply_sms(PATEL, "YES", f"{worker.url}/twilio/sms", sid=sid)
                for worker in (a, b)
            )
        )
        assert [r.status_code for r in replies] == [200, 200]
        assert sorted("<Message>" in r.text for r in replies) == [False, True]
        assert await accepted_events(b, session["id"]) == 1


async def test_a_replayed_keypress_acts_once(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """Dr Patel presses 1 and she withdraws the accept; the same keypress (CallSid and Digits)
    posted again hears what the first one heard and accepts nothing."""
    tech, session = await east_request(phone_server)
    call = await fake_twilio.expect_call(PATEL)
    heard = await call.answer(digits="1")
    assert "Accepted" in heard
    await withdraw(phone_server, "drpatel", session["id"])
    again = await fake_twilio.replay(fake_twilio.last_callback("/gather"))
    assert again.status_code == 200
    assert again.text == heard
    assert await accepted_events(phone_server, session["id"]) == 1
    assert accepts(await get_session(phone_server, tech, str(session["id"]))) == []


async def test_yes_accepts_the_request_paged_to_that_number_not_the_newest(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """East pages Dr Patel, then a newer Port request pages Dr Harbor: her YES accepts East's and
    names its site and room (no patient information); Port's waits for Harbor's own YES."""
    tech_east, east = await east_request(phone_server)
    await fake_twilio.expect_sms(PATEL)
    tech_port, port = await port_request(phone_server)
    await fake_twilio.expect_sms(HARBOR)
    url = f"{phone_server.url}/twilio/sms"
    reply = await fake_twilio.reply_sms(PATEL, "YES", url)
    assert "Accepted East Side Imaging, CT East (requested " in reply.text
    assert "ACC-SECRET" not in reply.text
    assert accepts(await get_session(phone_server, tech_east, str(east["id"]))) == [
        ("Dr Anya Patel", "sms")
    ]
    assert accepts(await get_session(phone_server, tech_port, str(port["id"]))) == []
    reply = await fake_twilio.reply_sms(HARBOR, "1", url)
    assert "Accepted Port Imaging, CT Port (requested " in reply.text
    assert accepts(await get_session(phone_server, tech_port, str(port["id"]))) == [
        ("Dr Hal Harbor", "sms")
    ]


async def test_yes_after_the_request_was_covered_says_so_and_accepts_nothing_newer(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """Dr Diaz takes East's request, and a newer Port request pages Dr Harbor: Dr Patel's late YES
    says East's is already covered and accepts nothing, Port's least of all."""
    tech_east, east = await east_request(phone_server)
    await fake_twilio.expect_sms(PATEL)
    await join_request(phone_server, await login(phone_server, "drdiaz"), str(east["id"]))
    tech_port, port = await port_request(phone_server)
    await fake_twilio.expect_sms(HARBOR)
    reply = await fake_twilio.reply_sms(PATEL, "YES", f"{phone_server.url}/twilio/sms")
    assert reply.status_code == 200
    assert "no open page to accept" in reply.text
    assert "East Side Imaging, CT East (requested " in reply.text
    assert "is already covered" in reply.text
    assert accepts(await get_session(phone_server, tech_port, str(port["id"]))) == []
    stored = await get_session(phone_server, tech_east, str(east["id"]))
    assert stored["radiologist"]["full_name"] == "Dr Ray Diaz"
    assert "Dr Anya Patel" not in [name for name, _ in accepts(stored)]


async def test_a_reply_without_a_message_sid_is_refused_and_accepts_nothing(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """A signed YES with no usable MessageSid cannot be de-duplicated: 422 naming MessageSid."""
    tech, session = await east_request(phone_server)
    await fake_twilio.expect_sms(PATEL)
    for sid in ("", "SM-not-a-sid"):
        form = {"Body": "YES", "From": PATEL, "MessageSid": sid}
        response = await fake_twilio.post_callback(f"{phone_server.url}/twilio/sms", form)
        assert response.status_code == 422
        assert response.json()["error"] == "invalid_input"
        assert "MessageSid" in response.json()["detail"]
    assert accepts(await get_session(phone_server, tech, str(session["id"]))) == []
