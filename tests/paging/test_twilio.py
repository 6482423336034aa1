"""The Twilio carrier against a fake Twilio on loopback, and a webhook receiver that checks signatures."""

from __future__ import annotations

import asyncio
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paging.carrier import CarrierError
from paging.twilio import (
    CALL_EVENTS,
    TwilioCarrier,
    TwilioSettings,
    gather_twiml,
    is_accept_reply,
    reaction_alert_text,
    say_twiml,
    sms_text,
    valid_signature,
)
from tests.fakes.twilio_server import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    FakeTwilio,
    Signing,
    run_fake_twilio,
    serve,
)

RADIOLOGIST = "+15551230001"
ACCESSION = "ACC20261122042"
PROMPT = "Standby: contrast supervision needed at North Imaging Center. Press 1 to accept."
LINK = "https://standby.example.org/rad"


@dataclass(frozen=True)
class Webhook:
    path: str
    params: dict[str, str]
    signed: bool
    idempotency_token: str | None


class Receiver:
    """Standby's side in miniature: checks each webhook's signature, serves TwiML, records all."""

    def __init__(self, auth_token: str = AUTH_TOKEN) -> None:
        self.auth_token = auth_token
        self.url = ""
        self.hooks: list[Webhook] = []
        self._changed = threading.Condition()

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/twilio/{name:path}", self._hook, methods=["POST"])])

    async def _hook(self, request: Request) -> Response:
        params = parse_qsl((await request.body()).decode(), keep_blank_values=True)
        signed = valid_signature(
            self.auth_token, str(request.url), params, request.headers.get("x-twilio-signature")
        )
        hook = Webhook(
            request.url.path,
            dict(params),
            signed,
            request.headers.get("i-twilio-idempotency-token"),
        )
        with self._changed:
            self.hooks.append(hook)
            self._changed.notify_all()
        if not signed:
            return Response(status_code=403)
        if hook.path == "/twilio/voice":
            return twiml(gather_twiml(PROMPT, f"{self.url}/twilio/voice/gather"))
        if hook.path == "/twilio/voice/gather":
            accepted = hook.params.get("Digits") == "1"
            return twiml(say_twiml("Accepted. Open Standby to join." if accepted else "Goodbye."))
        return Response(status_code=204)

    def at(self, path: str) -> list[Webhook]:
        with self._changed:
            return [hook for hook in self.hooks if hook.path == path]

    async def wait_for(self, match: Callable[[Webhook], bool], timeout: float = 5.0) -> Webhook:
        """The first webhook that matches, waiting up to ``timeout`` for it to arrive."""

        def wait() -> Webhook | None:
            with self._changed:
                self._changed.wait_for(lambda: any(map(match, self.hooks)), timeout)
                return next(filter(match, self.hooks), None)

        hook = await asyncio.to_thread(wait)
        if hook is None:
            raise AssertionError(f"no matching webhook within {timeout} s; got {self.hooks}")
        return hook


def twiml(document: str) -> Response:
    return Response(document, media_type="application/xml")


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with run_fake_twilio() as twilio:
        yield twilio


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiving = Receiver()
    with serve(receiving.app(), "receiver") as url:
        receiving.url = url
        yield receiving


@pytest.fixture
async def carrier(
    fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[TwilioCarrier]:
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    async with TwilioCarrier(TwilioSettings()) as twilio:
        yield twilio


def settings(**overrides: object) -> TwilioSettings:
    values: dict[str, object] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": SecretStr(AUTH_TOKEN),
        "from_number": FROM_NUMBER,
    }
    return TwilioSettings.model_validate(values | overrides)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_send_sms_reaches_the_configured_base_url(
    carrier: TwilioCarrier, fake: FakeTwilio, receiver: Receiver
) -> None:
    """STANDBY_TWILIO_API_BASE_URL sends the SMS to the fake, which returns the SID it recorded."""
    body = sms_text("North Imaging Center", "urgent", LINK)
    sid = await carrier.send_sms(RADIOLOGIST, body, f"{receiver.url}/twilio/sms/status")
    message = await fake.expect_sms(RADIOLOGIST)
    assert sid.startswith("SM")
    assert message.sid == sid
    assert (message.from_, message.body) == (FROM_NUMBER, body)
    assert message.status_callback == f"{receiver.url}/twilio/sms/status"
    assert [r.status for r in fake.requests] == [201]
    assert fake.requests[0].path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


async def test_sms_that_reaches_twilio_has_no_patient_information(
    carrier: TwilioCarrier, fake: FakeTwilio, receiver: Receiver
) -> None:
    """The text Twilio receives names the site, not the accession or any patient detail."""
    await carrier.send_sms(
        RADIOLOGIST, sms_text("North Imaging Center", "urgent", LINK), f"{receiver.url}/s"
    )
    sent = fake.requests[0].get("Body") or ""
    assert "North Imaging Center" in sent
    assert ACCESSION not in sent
    assert "accession" not in sent.lower()


async def test_place_call_asks_for_progress_events_and_async_machine_detection(
    carrier: TwilioCarrier, fake: FakeTwilio, receiver: Receiver
) -> None:
    """A call names its TwiML URL, all four progress events, and asynchronous AMD."""
    sid = await carrier.place_call(
        RADIOLOGIST, f"{receiver.url}/twilio/voice", f"{receiver.url}/twilio/voice/status"
    )
    call = await fake.expect_call(RADIOLOGIST)
    assert sid.startswith("CA")
    assert call.sid == sid
    assert call.url == f"{receiver.url}/twilio/voice"
    assert call.events == frozenset(CALL_EVENTS)
    assert (call.machine_detection, call.async_amd) == ("Enable", True)
    assert call.amd_callback == f"{receiver.url}/twilio/voice/status"
    assert fake.requests[0].path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"


async def test_call_without_machine_detection_does_not_ask_for_it(
    carrier: TwilioCarrier, fake: FakeTwilio, receiver: Receiver
) -> None:
    """machine_detection=False leaves MachineDetection out of the request."""
    await carrier.place_call(
        RADIOLOGIST, f"{receiver.url}/v", f"{receiver.url}/s", machine_detection=False
    )
    call = await fake.expect_call(RADIOLOGIST)
    assert call.machine_detection is None
    assert fake.requests[0].get("AsyncAmd") is None


async def test_bad_credentials_are_not_retryable(fake: FakeTwilio) -> None:
    """A wrong auth token gets Twilio's 401 (code 20003): retrying will not help."""
    wrong = settings(api_base_url=fake.url, auth_token=SecretStr("not-the-token"))
    async with TwilioCarrier(wrong) as twilio:
        with pytest.raises(CarrierError) as caught:
            await twilio.send_sms(RADIOLOGIST, "hello", "https://standby.example.org/s")
    assert caught.value.retryable is False
    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert "HTTP 401" in str(caught.value)
    assert fake.messages == []
    assert [r.status for r in fake.requests] == [401]


async def test_unreachable_twilio_is_retryable() -> None:
    """Nothing listening at the base URL: the error says so and may be retried."""
    down = settings(api_base_url=f"http://127.0.0.1:{closed_port()}")
    async with TwilioCarrier(down) as twilio:
        with pytest.raises(CarrierError) as caught:
            await twilio.place_call(RADIOLOGIST, "https://x.example/v", "https://x.example/s")
    assert caught.value.retryable is True
    assert "cannot reach http://127.0.0.1:" in str(caught.value)


async def test_silent_twilio_times_out_as_retryable() -> None:
    """A server that accepts but never answers is cut off after timeout_seconds, retryable."""
    connections: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        silent = settings(api_base_url=f"http://127.0.0.1:{port}", timeout_seconds=0.3)
        async with TwilioCarrier(silent) as twilio:
            with pytest.raises(CarrierError) as caught:
                await twilio.send_sms(RADIOLOGIST, "hello", "https://x.example/s")
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()
    assert caught.value.retryable is True
    assert "within 0.3 s" in str(caught.value)


async def test_number_not_in_e164_is_refused_before_sending(
    carrier: TwilioCarrier, fake: FakeTwilio
) -> None:
    """'555-1234' is not E.164: a non-retryable error, and nothing reaches Twilio."""
    with pytest.raises(CarrierError) as caught:
        await carrier.send_sms("555-1234", "hello", "https://x.example/s")
    assert caught.value.retryable is False
    assert fake.requests == []


async def test_unknown_resource_is_a_twilio_404(fake: FakeTwilio) -> None:
    """The fake answers paths outside its subset with Twilio's JSON 404 (code 20404)."""
    async with httpx.AsyncClient(auth=(ACCOUNT_SID, AUTH_TOKEN)) as client:
        response = await client.get(f"{fake.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Queues.json")
    assert response.status_code == 404
    assert response.json()["code"] == 20404
    assert fake.requests[0].status == 404


async def test_delivery_receipt_arrives_signed_and_valid(
    carrier: TwilioCarrier, fake: FakeTwilio, receiver: Receiver
) -> None:
    """deliver() posts MessageStatus=delivered with a signature the receiver accepts."""
    sid = await carrier.send_sms(RADIOLOGIST, "hello", f"{receiver.url}/twilio/sms/status")
    message = await fake.expect_sms(RADIOLOGIST)
    response = await message.deliver()
    assert response.status_code == 204
    [hook] = receiver.at("/twilio/sms/status")
    assert hook.signed
    assert (hook.params["MessageSid"], hook.params["MessageStatus"]) == (sid, "delivered")
    assert hook.params["AccountSid"] == ACCOUNT_SID


async def test_wrong_or_missing_signature_is_rejected(
    carrier: TwilioCarrier, fake: FakeTwilio, receiver: Receiver
) -> None:
    """A receipt signed with another token, or not signed, fails validation."""
    await carrier.send_sms(RADIOLOGIST, "hello", f"{receiver.url}/twilio/sms/status")
    message = await fake.expect_sms(RADIOLOGIST)
    assert (await message.deliver(signing=Signing.WRONG)).status_code == 403
    assert (await message.deliver(signing=Signing.MISSING)).status_code == 403
    assert [hook.signed for hook in receiver.at("/twilio/sms/status")] == [False, False]


async def test_tampered_param_fails_validation(
    carrier: TwilioCarrier, fake: FakeTwilio, receiver: Receiver
) -> None:
    """The signature covers every parameter: changing MessageStatus breaks it."""
    await carrier.send_sms(RADIOLOGIST, "hello", f"{receiver.url}/twilio/sms/status")
    await (await fake.expect_sms(RADIOLOGIST)).send_status("failed")
    posted = fake.callbacks[-1]
    assert valid_signature(AUTH_TOKEN, posted.url, posted.params, posted.signature)
    tampered = posted.params | {"MessageStatus": "delivered"}
    assert not valid_signature(AUTH_TOKEN, posted.url, tampered, posted.signature)
    assert not valid_signature(AUTH_TOKEN, posted.url + "?x=1", posted.params, posted.signature)
    assert not valid_signature(AUTH_TOKEN, posted.url, posted.params, None)


async def test_failed_sms_gets_an_undelivered_receipt(
    carrier: TwilioCarrier, fake: FakeTwilio, receiver: Receiver
) -> None:
    """fail_next: Twilio queues the SMS (201), then reports it undelivered with ErrorCode 30003."""
    fake.fail_next(RADIOLOGIST, "sms")
    sid = await carrier.send_sms(RADIOLOGIST, "hello", f"{receiver.url}/twilio/sms/status")
    hook = await receiver.wait_for(lambda h: h.params.get("MessageSid") == sid)
    assert hook.signed
    assert (hook.params["MessageStatus"], hook.params["ErrorCode"]) == ("undelivered", "30003")


async def test_failed_call_gets_a_failed_status(
    carrier: TwilioCarrier, fake: FakeTwilio, receiver: Receiver
) -> None:
    """fail_next for a call: the status callback says CallStatus=failed."""
    fake.fail_next(RADIOLOGIST, "call")
    sid = await carrier.place_call(
        RADIOLOGIST, f"{receiver.url}/twilio/voice", f"{receiver.url}/twilio/voice/status"
    )
    hook = await receiver.wait_for(lambda h: h.params.get("CallSid") == sid)
    assert (hook.signed, hook.params["CallStatus"]) == (True, "failed")


async def test_callbacks_can_repeat_and_arrive_out_of_order(
    carrier: TwilioCarrier, fake: FakeTwilio, receiver: Receiver
) -> None:
    """repeat_last re-posts the same receipt (same idempotency token); 'sent' may follow 'delivered'."""
    await carrier.send_sms(RADIOLOGIST, "hello", f"{receiver.url}/twilio/sms/status")
    message = await fake.expect_sms(RADIOLOGIST)
    await message.deliver()
    await message.repeat_last()
    await message.send_status("sent")
    hooks = receiver.at("/twilio/sms/status")
    assert [h.params["MessageStatus"] for h in hooks] == ["delivered", "delivered", "sent"]
    assert hooks[0].idempotency_token == hooks[1].idempotency_token != hooks[2].idempotency_token
    assert all(h.signed for h in hooks)


async def test_answering_presses_1_on_the_gather(
    carrier: TwilioCarrier, fake: FakeTwilio, receiver: Receiver
) -> None:
    """A human answers, hears the prompt, presses 1: the Gather action gets Digits=1, signed."""
    sid = await carrier.place_call(
        RADIOLOGIST, f"{receiver.url}/twilio/voice", f"{receiver.url}/twilio/voice/status"
    )
    call = await fake.expect_call(RADIOLOGIST)
    heard = await call.answer(digits="1")
    assert "Accepted" in heard
    assert PROMPT in call.twiml[0]
    [pressed] = receiver.at("/twilio/voice/gather")
    assert pressed.signed
    assert (pressed.params["CallSid"], pressed.params["Digits"]) == (sid, "1")
    statuses = receiver.at("/twilio/voice/status")
    assert all(h.signed for h in statuses)
    assert [h.params.get("CallStatus") for h in statuses if "CallStatus" in h.params] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert {h.params.get("AnsweredBy") for h in statuses} >= {"human"}


async def test_voicemail_presses_nothing(
    carrier: TwilioCarrier, fake: FakeTwilio, receiver: Receiver
) -> None:
    """Voicemail: AMD says machine_start, the prompt plays, no Gather action is posted."""
    await carrier.place_call(
        RADIOLOGIST, f"{receiver.url}/twilio/voice", f"{receiver.url}/twilio/voice/status"
    )
    call = await fake.expect_call(RADIOLOGIST)
    await call.voicemail()
    assert receiver.at("/twilio/voice/gather") == []
    amd = [h for h in receiver.at("/twilio/voice/status") if "MachineDetectionDuration" in h.params]
    assert [h.params["AnsweredBy"] for h in amd] == ["machine_start"]


async def test_no_answer_reports_no_answer(
    carrier: TwilioCarrier, fake: FakeTwilio, receiver: Receiver
) -> None:
    """It rings out: the last status is no-answer and no TwiML was fetched."""
    await carrier.place_call(
        RADIOLOGIST, f"{receiver.url}/twilio/voice", f"{receiver.url}/twilio/voice/status"
    )
    call = await fake.expect_call(RADIOLOGIST)
    await call.no_answer()
    statuses = [h.params["CallStatus"] for h in receiver.at("/twilio/voice/status")]
    assert statuses == ["initiated", "ringing", "no-answer"]
    assert receiver.at("/twilio/voice") == []


async def test_reply_sms_posts_a_signed_inbound_message(
    fake: FakeTwilio, receiver: Receiver
) -> None:
    """The radiologist texts YES: the inbound webhook is signed and reads as an acceptance."""
    response = await fake.reply_sms(RADIOLOGIST, " Yes. ", f"{receiver.url}/twilio/sms/inbound")
    assert response.status_code == 204
    [hook] = receiver.at("/twilio/sms/inbound")
    assert hook.signed
    assert (hook.params["From"], hook.params["To"]) == (RADIOLOGIST, FROM_NUMBER)
    assert hook.params["MessageSid"].startswith("SM")
    assert is_accept_reply(hook.params["Body"])


async def test_expect_sms_fails_when_nothing_is_sent(fake: FakeTwilio) -> None:
    """expect_sms names the number it waited for when no SMS comes."""
    with pytest.raises(AssertionError, match=r"\+15551230001"):
        await fake.expect_sms(RADIOLOGIST, timeout=0.05)


def test_gather_twiml_waits_for_one_key_then_hangs_up() -> None:
    """The prompt sits inside <Gather numDigits=1 action=... POST>; then a goodbye and <Hangup/>."""
    action = "https://standby.example.org/twilio/voice/gather?page=7&t=a"
    root = ET.fromstring(gather_twiml(PROMPT, action))  # noqa: S314 - our own TwiML
    assert [child.tag for child in root] == ["Gather", "Say", "Hangup"]
    gather = root[0]
    assert (gather.get("numDigits"), gather.get("action"), gather.get("method")) == (
        "1",
        action,
        "POST",
    )
    assert gather.findtext("Say") == PROMPT


def test_say_twiml_says_the_text() -> None:
    """say_twiml is one <Say> with the text, XML-escaped."""
    root = ET.fromstring(say_twiml("Accepted <now> & thanks"))  # noqa: S314 - our own TwiML
    assert [(child.tag, child.text) for child in root] == [("Say", "Accepted <now> & thanks")]


def test_sms_text_names_site_and_urgency_in_one_segment() -> None:
    """Site, urgency, how to accept and the link; one segment; the only digit outside the link is the reply key."""
    text = sms_text("North Imaging Center", "urgent", LINK)
    assert "North Imaging Center" in text
    assert "(urgent)" in text
    assert text.endswith(LINK)
    assert "Reply 1 or YES" in text
    assert len(text) <= 160
    assert [c for c in text.removesuffix(LINK) if c.isdigit()] == ["1"]


def test_sms_text_shortens_a_long_site_name_but_never_the_link() -> None:
    """A very long site name is cut with '...' so the text stays within 160 characters."""
    site = "North Imaging Center of the Greater Metropolitan Area Radiology Associates Partnership"
    text = sms_text(site, "urgent", LINK)
    assert len(text) == 160
    assert text.endswith(LINK)
    assert "North Imaging Center" in text
    assert "..." in text


def test_sms_text_keeps_to_one_line() -> None:
    """Newlines in a site name do not reach the SMS."""
    assert "\n" not in sms_text("North\nImaging  Center", "urgent", LINK)


@pytest.mark.parametrize(
    ("body", "accepts"),
    [
        ("1", True),
        ("yes", True),
        ("Y", True),
        (" Yes. ", True),
        ("YES!", True),
        ("no", False),
        ("2", False),
        ("11", False),
        ("yes please", False),
        ("", False),
        ("STOP", False),
    ],
)
def test_is_accept_reply(body: str, accepts: bool) -> None:
    """Only 1, Y or YES (any case, spaces, a final dot) accept a page."""
    assert is_accept_reply(body) is accepts


def test_settings_are_disabled_without_an_account_sid() -> None:
    """No STANDBY_TWILIO_ACCOUNT_SID: Twilio is off and the carrier refuses to start."""
    off = TwilioSettings()
    assert off.enabled is False
    assert off.api_base_url == "https://api.twilio.com"
    with pytest.raises(ValueError, match="STANDBY_TWILIO_ACCOUNT_SID"):
        TwilioCarrier(off)


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """STANDBY_TWILIO_* configure the carrier; a trailing slash on the base URL is dropped."""
    monkeypatch.setenv("STANDBY_TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("STANDBY_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("STANDBY_TWILIO_FROM_NUMBER", FROM_NUMBER)
    monkeypatch.setenv("STANDBY_TWILIO_API_BASE_URL", "http://127.0.0.1:9/")
    read = TwilioSettings()
    assert read.enabled
    assert read.api_base_url == "http://127.0.0.1:9"
    assert AUTH_TOKEN not in repr(read)


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"account_sid": "AC123"}, "account_sid must be"),
        ({"auth_token": SecretStr("")}, "auth_token is required"),
        ({"from_number": "555-1234"}, "E.164"),
        ({"api_base_url": "api.twilio.com"}, "https:// or http://"),
    ],
)
def test_settings_refuse_incomplete_accounts(overrides: dict[str, object], complaint: str) -> None:
    """An enabled account needs a real SID, a token, an E.164 sender and an http(s) base URL."""
    with pytest.raises(ValidationError, match=complaint):
        settings(**overrides)


def test_the_reaction_alert_sms_shortens_names_never_the_link() -> None:
    """Very long site names are shortened so the supervisors' reaction alert fits two segments;
    the link to their console is kept whole."""
    link = "https://standby.example.org/super"
    text = reaction_alert_text("North " * 40, "CT Room " * 20, link)
    assert len(text) <= 320
    assert text.startswith("Standby ALERT: contrast reaction at North North")
    assert text.endswith(f"every radiologist tier was paged STAT. Open {link}")
    short = reaction_alert_text("Lakeside Imaging", "CT A", link)
    assert short == (
        "Standby ALERT: contrast reaction at Lakeside Imaging, CT A. Nobody was supervising live; "
        f"every radiologist tier was paged STAT. Open {link}"
    )
