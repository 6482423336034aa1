"""A fake Twilio: a real HTTP server on loopback that speaks the REST subset Standby uses.

It accepts ``Messages.json`` and ``Calls.json`` with HTTP Basic auth, answers like Twilio (201 JSON,
401 and 404 JSON errors) and records every request. The scenario then plays the phone network's
side, every callback signed with X-Twilio-Signature the way Twilio signs it::

    with run_fake_twilio() as twilio:
        monkeypatch.setenv(...twilio.env())            # Standby talks to the fake
        ...page the radiologist...
        message = await twilio.expect_sms("+15551230001")
        await message.deliver()                        # "delivered" status callback
        await twilio.reply_sms("+15551230001", "YES", inbound_url)
        call = await twilio.expect_call("+15551230001")
        await call.answer(digits="1")                  # fetch TwiML, press 1 on its <Gather>

Callbacks are posted from the caller's event loop; nothing happens on its own except what
``fail_next`` asks for (a failure receipt right after Twilio's 201, as the real network does).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import itertools
import logging
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from enum import Enum
from typing import Literal, TypeVar
from urllib.parse import parse_qsl, urljoin

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp
from twilio.request_validator import RequestValidator

from paging.twilio import TwilioSettings

logger = logging.getLogger(__name__)

ACCOUNT_SID = "AC" + "feedface" * 4
AUTH_TOKEN = "fake-twilio-auth-token-0123456789abcdef"
FROM_NUMBER = "+15005550006"
API_VERSION = "2010-04-01"
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})

Kind = Literal["sms", "call"]
_Item = TypeVar("_Item", "FakeMessage", "FakeCall")


class Signing(Enum):
    """How a callback is signed: as Twilio would, with the wrong token, or not at all."""

    VALID = "valid"
    WRONG = "wrong"
    MISSING = "missing"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake's REST API received, whatever its outcome."""

    method: str
    path: str
    form: tuple[tuple[str, str], ...]
    status: int
    at: datetime = field(default_factory=lambda: datetime.now(UTC))  # when the fake received it

    def get(self, name: str) -> str | None:
        return next((value for key, value in self.form if key == name), None)

    def getall(self, name: str) -> list[str]:
        return [value for key, value in self.form if key == name]


@dataclass(frozen=True)
class Callback:
    """One webhook the fake posted, and what the receiving server answered."""

    url: str
    params: dict[str, str]
    signature: str | None
    status_code: int
    text: str


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _now() -> str:
    return formatdate(usegmt=True)


class FakeTwilio:
    """The fake's state and the scenario's controls. Start it with ``run_fake_twilio``."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.url = ""
        self.requests: list[RecordedRequest] = []
        self.messages: list[FakeMessage] = []
        self.calls: list[FakeCall] = []
        self.callbacks: list[Callback] = []
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._claimed: set[str] = set()
        self._failures: dict[tuple[str, Kind], int] = {}
        self._hangs: dict[tuple[str, Kind], int] = {}
        self._released = threading.Event()
        self.hanging = 0  # requests held open by ``hang_next`` right now

    def settings(self) -> TwilioSettings:
        """Twilio settings that point an in-process Standby at this fake."""
        return TwilioSettings(
            account_sid=self.account_sid,
            auth_token=self.auth_token,  # type: ignore[arg-type]
            from_number=FROM_NUMBER,
            api_base_url=self.url,
        )

    def env(self) -> dict[str, str]:
        """The STANDBY_TWILIO_* variables that point Standby at this fake."""
        return {
            "STANDBY_TWILIO_ACCOUNT_SID": self.account_sid,
            "STANDBY_TWILIO_AUTH_TOKEN": self.auth_token,
            "STANDBY_TWILIO_FROM_NUMBER": FROM_NUMBER,
            "STANDBY_TWILIO_API_BASE_URL": self.url,
        }

    # --- scenario controls -------------------------------------------------------------------

    async def expect_sms(self, to: str, timeout: float = 5.0) -> FakeMessage:
        """The next SMS to ``to`` not yet expected; fails the test if none is sent in time."""
        return await self._expect(self.messages, to, "SMS", timeout)

    async def expect_call(self, to: str, timeout: float = 5.0) -> FakeCall:
        """The next call to ``to`` not yet expected; fails the test if none is placed in time."""
        return await self._expect(self.calls, to, "call", timeout)

    def fail_next(self, to: str, kind: Kind = "sms") -> None:
        """The next SMS (undelivered, 30003) or call (failed) to ``to`` fails after Twilio's 201."""
        with self._lock:
            self._failures[(to, kind)] = self._failures.get((to, kind), 0) + 1

    def hang_next(self, to: str, kind: Kind = "call") -> None:
        """The next SMS or call request to ``to`` gets no answer until ``release_hung`` (or the end of
        the scenario): a carrier that hangs, as the client's timeout sees it."""
        with self._lock:
            self._hangs[(to, kind)] = self._hangs.get((to, kind), 0) + 1

    def release_hung(self) -> None:
        """Let every request held by ``hang_next`` go on (each then answers as usual)."""
        self._released.set()

    async def _hang_if_asked(self, to: str, kind: Kind) -> None:
        with self._lock:
            left = self._hangs.get((to, kind), 0)
            if not left:
                return
            self._hangs[(to, kind)] = left - 1
            self.hanging += 1
        try:
            await asyncio.to_thread(self._released.wait)
        finally:
            with self._lock:
                self.hanging -= 1

    async def reply_sms(
        self,
        from_: str,
        body: str,
        to_webhook_url: str,
        to: str = FROM_NUMBER,
        signing: Signing = Signing.VALID,
        sid: str | None = None,
    ) -> httpx.Response:
        """``from_`` texts ``body`` back: post Twilio's inbound-message webhook to the URL (as the
        message ``sid``, to deliver one message to several URLs; a new one by default)."""
        sid = sid or _sid("SM")
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "Body": body,
            "From": from_,
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": to,
        }
        return await self.post_callback(to_webhook_url, params, signing)

    async def replay(self, callback: Callback) -> httpx.Response:
        """Post a webhook already posted again, same URL, form and valid signature (Twilio retries
        after a slow answer; anyone holding a signed request can replay it)."""
        return await self.post_callback(callback.url, callback.params)

    def last_callback(self, path_suffix: str) -> Callback:
        """The last webhook posted to a URL ending in ``path_suffix``."""
        with self._lock:
            found = [c for c in self.callbacks if c.url.endswith(path_suffix)]
        if not found:
            raise AssertionError(f"no webhook was posted to ...{path_suffix}")
        return found[-1]

    async def post_callback(
        self,
        url: str,
        params: dict[str, str],
        signing: Signing = Signing.VALID,
        idempotency_token: str | None = None,
    ) -> httpx.Response:
        """POST a form to ``url`` as Twilio does, signed as ``signing`` says; record it."""
        token = {Signing.VALID: self.auth_token, Signing.WRONG: "not-" + self.auth_token}
        headers = {
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": idempotency_token or secrets.token_hex(16),
        }
        signature = None
        if signing is not Signing.MISSING:
            signature = RequestValidator(token[signing]).compute_signature(url, params)
            headers["X-Twilio-Signature"] = signature
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(url, data=params, headers=headers)
        with self._lock:
            self.callbacks.append(
                Callback(url, dict(params), signature, response.status_code, response.text)
            )
        return response

    # --- the REST API --------------------------------------------------------------------------

    def app(self) -> Starlette:
        base = f"/{API_VERSION}/Accounts/{{account}}"
        return Starlette(
            routes=[
                Route(f"{base}/Messages.json", self._create_message, methods=["POST"]),
                Route(f"{base}/Calls.json", self._create_call, methods=["POST"]),
            ],
            exception_handlers={404: self._not_found, 405: self._not_found},
        )

    async def _create_message(self, request: Request) -> JSONResponse:
        form, denied = await self._authorise(request)
        if denied is not None:
            return denied
        missing = _missing(form, [("To", 21604), ("From", 21603), ("Body", 21602)])
        if missing is not None:
            return self._respond(request, form, missing)
        await self._hang_if_asked(_first(form, "To"), "sms")
        sid = _sid("SM")
        message = FakeMessage(
            self,
            sid=sid,
            to=_first(form, "To"),
            from_=_first(form, "From"),
            body=_first(form, "Body"),
            status_callback=_first(form, "StatusCallback") or None,
        )
        task = None
        if self._take_failure(message.to, "sms"):
            task = BackgroundTask(message.send_status, "undelivered", error_code="30003")
        payload = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": message.body,
            "date_created": _now(),
            "date_sent": None,
            "date_updated": _now(),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": message.from_,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{self._account_path()}/Messages/{sid}/Media.json"},
            "to": message.to,
            "uri": f"{self._account_path()}/Messages/{sid}.json",
        }
        self._add(self.messages, message)
        return self._respond(request, form, JSONResponse(payload, 201, background=task))

    async def _create_call(self, request: Request) -> JSONResponse:
        form, denied = await self._authorise(request)
        if denied is not None:
            return denied
        missing = _missing(form, [("To", 21201), ("From", 21213), ("Url", 21205)])
        if missing is not None:
            return self._respond(request, form, missing)
        await self._hang_if_asked(_first(form, "To"), "call")
        sid = _sid("CA")
        call = FakeCall(
            self,
            sid=sid,
            to=_first(form, "To"),
            from_=_first(form, "From"),
            url=_first(form, "Url"),
            status_callback=_first(form, "StatusCallback") or None,
            events=frozenset(" ".join(_all(form, "StatusCallbackEvent")).split())
            or frozenset({"completed"}),
            machine_detection=_first(form, "MachineDetection") or None,
            async_amd=_first(form, "AsyncAmd").lower() == "true",
            amd_callback=_first(form, "AsyncAmdStatusCallback") or None,
        )
        task = None
        if self._take_failure(call.to, "call"):
            task = BackgroundTask(call.send_status, "failed")
        payload = {
            "account_sid": self.account_sid,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": _now(),
            "date_updated": _now(),
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "from": call.from_,
            "from_formatted": call.from_,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": sid,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {},
            "to": call.to,
            "to_formatted": call.to,
            "uri": f"{self._account_path()}/Calls/{sid}.json",
        }
        self._add(self.calls, call)
        return self._respond(request, form, JSONResponse(payload, 201, background=task))

    async def _not_found(self, request: Request, exc: Exception) -> JSONResponse:
        form = await _form(request)
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        body = {
            "code": 20404,
            "message": f"The requested resource {request.url.path} was not found",
            "more_info": "https://www.twilio.com/docs/errors/20404",
            "status": status,
        }
        return self._respond(request, form, JSONResponse(body, status))

    async def _authorise(
        self, request: Request
    ) -> tuple[tuple[tuple[str, str], ...], JSONResponse | None]:
        form = await _form(request)
        expected = f"{self.account_sid}:{self.auth_token}".encode()
        given = request.headers.get("authorization", "")
        scheme, _, encoded = given.partition(" ")
        try:
            credentials = base64.b64decode(encoded, validate=True)
        except ValueError:
            credentials = b""
        if (
            scheme.lower() == "basic"
            and hmac.compare_digest(credentials, expected)
            and request.path_params["account"] == self.account_sid
        ):
            return form, None
        body = {
            "code": 20003,
            "message": "Authenticate",
            "more_info": "https://www.twilio.com/docs/errors/20003",
            "status": 401,
        }
        return form, self._respond(request, form, JSONResponse(body, 401))

    def _respond(
        self, request: Request, form: tuple[tuple[str, str], ...], response: JSONResponse
    ) -> JSONResponse:
        with self._lock:
            self.requests.append(
                RecordedRequest(request.method, request.url.path, form, response.status_code)
            )
        return response

    def _account_path(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}"

    def _take_failure(self, to: str, kind: Kind) -> bool:
        with self._lock:
            left = self._failures.get((to, kind), 0)
            if left:
                self._failures[(to, kind)] = left - 1
            return bool(left)

    # --- waiting across threads: the server records, the scenario awaits ------------------

    def _add(self, items: list[_Item], item: _Item) -> None:
        with self._lock:
            items.append(item)
            waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(event.set)

    async def _expect(self, items: list[_Item], to: str, what: str, timeout: float) -> _Item:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = asyncio.Event()
            with self._lock:
                found = next((x for x in items if x.to == to and x.sid not in self._claimed), None)
                if found is not None:
                    self._claimed.add(found.sid)
                    return found
                self._waiters.append((loop, event))
            left = deadline - loop.time()
            try:
                if left <= 0:
                    raise TimeoutError
                await asyncio.wait_for(event.wait(), left)
            except TimeoutError:
                sent = [x.to for x in items]
                raise AssertionError(
                    f"expected a {what} to {to} within {timeout:g} s; {what}s went to {sent}"
                ) from None


@dataclass(eq=False)
class FakeMessage:
    """An SMS Standby sent through the fake; the scenario posts its delivery receipts."""

    twilio: FakeTwilio = field(repr=False)
    sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None
    statuses: list[str] = field(default_factory=list)
    _last: tuple[str, dict[str, str], str] | None = field(default=None, repr=False)

    async def deliver(self, signing: Signing = Signing.VALID) -> httpx.Response:
        """The handset received it: post the "delivered" receipt."""
        return await self.send_status("delivered", signing=signing)

    async def send_status(
        self, status: str, signing: Signing = Signing.VALID, error_code: str | None = None
    ) -> httpx.Response:
        """Post a status callback (sent, delivered, undelivered, failed...) in any order."""
        params = {
            "AccountSid": self.twilio.account_sid,
            "ApiVersion": API_VERSION,
            "From": self.from_,
            "MessageSid": self.sid,
            "MessageStatus": status,
            "SmsSid": self.sid,
            "SmsStatus": status,
            "To": self.to,
        }
        if error_code is not None:
            params["ErrorCode"] = error_code
        self.statuses.append(status)
        return await _post(self.twilio, self.status_callback, params, signing, self)

    async def repeat_last(self) -> httpx.Response:
        """Post the last callback again, byte for byte (Twilio retries; webhooks repeat)."""
        return await _repeat(self.twilio, self._last)


@dataclass(eq=False)
class FakeCall:
    """A call Standby placed through the fake; the scenario decides who picks up and what they press."""

    twilio: FakeTwilio = field(repr=False)
    sid: str
    to: str
    from_: str
    url: str
    status_callback: str | None
    events: frozenset[str]
    machine_detection: str | None
    async_amd: bool
    amd_callback: str | None
    statuses: list[str] = field(default_factory=list)
    twiml: list[str] = field(default_factory=list)
    _last: tuple[str, dict[str, str], str] | None = field(default=None, repr=False)
    _sequence: Iterator[int] = field(default_factory=itertools.count, repr=False)

    async def ring(self) -> None:
        """The call is placed and the phone rings (initiated, ringing callbacks if subscribed)."""
        for status in ("initiated", "ringing"):
            if status in self.events:
                await self.send_status(status)

    async def answer(self, digits: str | None = "1", answered_by: str = "human") -> str:
        """Pick up, hear the TwiML, press ``digits`` on its <Gather>, hang up.

        Returns the last TwiML document the call played (the Gather action's answer when a key
        was pressed). Fails the test if Standby's TwiML endpoints do not answer 2xx, or if keys
        are to be pressed and the TwiML has no <Gather>.
        """
        await self.ring()
        if "answered" in self.events:
            await self.send_status("in-progress", answered_by=answered_by)
        sync_amd = self.machine_detection is not None and not self.async_amd
        params = self._params("in-progress")
        if sync_amd:
            params["AnsweredBy"] = answered_by
        document = await self._fetch(self.url, params)
        if self.machine_detection is not None and self.async_amd and self.amd_callback:
            amd = {
                "AccountSid": self.twilio.account_sid,
                "AnsweredBy": answered_by,
                "CallSid": self.sid,
                "MachineDetectionDuration": "1800",
            }
            await _post(self.twilio, self.amd_callback, amd, Signing.VALID, self)
        if digits is not None:
            gather = ET.fromstring(document).find("Gather")  # noqa: S314 - Standby's own TwiML
            if gather is None:
                raise AssertionError(
                    f"cannot press {digits}: the TwiML has no <Gather>: {document}"
                )
            action = urljoin(self.url, gather.get("action") or self.url)
            document = await self._fetch(
                action, self._params("in-progress") | {"Digits": digits, "FinishedOnKey": ""}
            )
        await self.send_status("completed", answered_by=answered_by, duration="12")
        return document

    async def voicemail(self) -> str:
        """Voicemail picks up: AnsweredBy=machine_start, the prompt plays, no key is pressed."""
        return await self.answer(digits=None, answered_by="machine_start")

    async def no_answer(self) -> httpx.Response:
        """It rings out: the final status callback says no-answer."""
        await self.ring()
        return await self.send_status("no-answer")

    async def send_status(
        self,
        status: str,
        signing: Signing = Signing.VALID,
        answered_by: str | None = None,
        duration: str | None = None,
    ) -> httpx.Response:
        """Post a call status callback (CallStatus=``status``) in any order, subscribed or not."""
        params = self._params(status) | {
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(next(self._sequence)),
            "Timestamp": _now(),
        }
        if answered_by is not None and self.machine_detection is not None:
            params["AnsweredBy"] = answered_by
        if duration is not None:
            params["CallDuration"] = duration
        self.statuses.append(status)
        return await _post(self.twilio, self.status_callback, params, signing, self)

    async def repeat_last(self) -> httpx.Response:
        """Post the last callback again, byte for byte."""
        return await _repeat(self.twilio, self._last)

    def _params(self, status: str) -> dict[str, str]:
        return {
            "AccountSid": self.twilio.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.sid,
            "CallStatus": status,
            "Direction": "outbound-api",
            "From": self.from_,
            "To": self.to,
        }

    async def _fetch(self, url: str, params: dict[str, str]) -> str:
        response = await _post(self.twilio, url, params, Signing.VALID, self)
        if not response.is_success:
            raise AssertionError(
                f"TwiML request to {url} answered {response.status_code}: {response.text[:200]}"
            )
        self.twiml.append(response.text)
        return response.text


async def _post(
    twilio: FakeTwilio,
    url: str | None,
    params: dict[str, str],
    signing: Signing,
    item: FakeMessage | FakeCall,
) -> httpx.Response:
    if url is None:
        raise AssertionError(f"{item.sid} has no callback URL to post {params}")
    token = secrets.token_hex(16)
    item._last = (url, params, token)
    return await twilio.post_callback(url, params, signing, idempotency_token=token)


async def _repeat(
    twilio: FakeTwilio, last: tuple[str, dict[str, str], str] | None
) -> httpx.Response:
    if last is None:
        raise AssertionError("nothing has been posted yet to repeat")
    url, params, token = last
    return await twilio.post_callback(url, params, Signing.VALID, idempotency_token=token)


async def _form(request: Request) -> tuple[tuple[str, str], ...]:
    # Twilio's API takes application/x-www-form-urlencoded; parsed here without python-multipart.
    return tuple(parse_qsl((await request.body()).decode(), keep_blank_values=True))


def _first(form: Sequence[tuple[str, str]], name: str) -> str:
    return next((value for key, value in form if key == name), "")


def _all(form: Sequence[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in form if key == name]


def _missing(
    form: Sequence[tuple[str, str]], required: list[tuple[str, int]]
) -> JSONResponse | None:
    for name, code in required:
        if not _first(form, name):
            body = {
                "code": code,
                "message": f"A '{name}' parameter is required.",
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": 400,
            }
            return JSONResponse(body, 400)
    return None


@contextlib.contextmanager
def serve(app: ASGIApp, name: str = "app") -> Iterator[str]:
    """Run ``app`` on uvicorn in a thread on a free loopback port; yield its base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the {name} server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextlib.contextmanager
def run_fake_twilio(
    account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN
) -> Iterator[FakeTwilio]:
    """A fake Twilio serving on loopback for the duration of the block."""
    fake = FakeTwilio(account_sid, auth_token)
    with serve(fake.app(), "fake-twilio") as url:
        fake.url = url
        try:
            yield fake
        finally:
            fake.release_hung()  # so the server can stop
