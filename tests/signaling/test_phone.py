"""SMS and voice pages through a fake Twilio that is a real HTTP server and signs its callbacks.

EAST pages Dr Patel (+15550000005) at T+0 on in-app and SMS; tests/directory.yaml.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from paging.twilio import TwilioSettings
from tests.conftest import make_settings
from tests.fakes.twilio_server import FROM_NUMBER, FakeTwilio, Signing, run_fake_twilio
from tests.live import LiveServer, api, free_port, login, run_server
from tests.signaling.helpers import get_session, open_session, room_id

PATEL = "+15550000005"


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with run_fake_twilio() as fake:
        yield fake


@pytest.fixture
def phone_server(database_url: str, fake_twilio: FakeTwilio) -> Iterator[LiveServer]:
    """The real service with SMS and voice going to the fake Twilio."""
    port = free_port()
    twilio = TwilioSettings(
        account_sid=fake_twilio.account_sid,
        auth_token=fake_twilio.auth_token,  # type: ignore[arg-type]
        from_number=FROM_NUMBER,
        api_base_url=fake_twilio.url,
    )
    with run_server(make_settings(database_url, port), port, twilio) as live:
        yield live


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
    stored = await get_session(phone_server, tech, str(session["id"]))
    assert stored["radiologist"]["full_name"] == "Dr Anya Patel"
    assert stored["accepted_at"] is not None


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
    assert stored["radiologist"]["full_name"] == "Dr Anya Patel"


async def test_voicemail_is_not_reached_and_accepts_nothing(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """An answering machine counts as not reached: no accept, and the page is marked so."""
    tech, session = await east_request(phone_server)
    call = await fake_twilio.expect_call(PATEL)
    await call.voicemail()
    stored = await get_session(phone_server, tech, str(session["id"]))
    assert stored["radiologist"] is None
    async with api(phone_server, tech) as client:
        summary = (await client.get(f"/api/sessions/{session['id']}/paging")).json()["paging"]
    voice = [p for p in summary["pages"] if p["channel"] == "voice" and p["tier"] == 0]
    assert voice[0]["status"] == "failed"
    assert voice[0]["detail"] == "voicemail: not reached"
