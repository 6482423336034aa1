"""Twilio as the pager's carrier: outbound SMS and voice, webhook signatures, TwiML and SMS wording.

Everything goes through the official ``twilio`` package, asynchronously (``AsyncTwilioHttpClient``
and the ``create_async`` methods), so a slow carrier never blocks the event loop.

``STANDBY_TWILIO_API_BASE_URL`` points the REST client at any Twilio-compatible server (the test
fake, a regional proxy): it replaces the ``base_url`` of the client's ``api`` domain, the one place
twilio-python builds ``https://api.twilio.com/2010-04-01/...`` URLs from.

Pages carry no patient information: the SMS names the site and the urgency and links to a page
that requires login; the voice prompt says no more than that.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import Awaitable, Iterable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import aiohttp
from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from paging.carrier import CarrierError

logger = logging.getLogger(__name__)
# twilio's HTTP client logs every request and its headers at INFO; ours say what matters, masked.
logging.getLogger("twilio.async_http_client").setLevel(logging.WARNING)
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

TWILIO_API_BASE_URL = "https://api.twilio.com"
SMS_SEGMENT = 160  # GSM-7 characters in one SMS segment
CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_ACCEPT_REPLIES = frozenset({"1", "y", "yes"})
_T = TypeVar("_T")


class TwilioSettings(BaseSettings):
    """Twilio account and sending number; Twilio is off while no account SID is set."""

    model_config = SettingsConfigDict(env_prefix="STANDBY_TWILIO_", extra="ignore")

    account_sid: str = ""
    auth_token: SecretStr = SecretStr("")
    from_number: str = ""
    api_base_url: str = TWILIO_API_BASE_URL
    timeout_seconds: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.account_sid)

    @field_validator("api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"api_base_url must start with https:// or http://, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> Self:
        if not self.enabled:
            return self
        if not _ACCOUNT_SID.match(self.account_sid):
            raise ValueError(
                f"account_sid must be 'AC' and 32 hex digits, got {len(self.account_sid)} "
                f"characters starting {self.account_sid[:2]!r}"
            )
        if not self.auth_token.get_secret_value():
            raise ValueError("auth_token is required when account_sid is set")
        if not _E164.match(self.from_number):
            raise ValueError(
                f"from_number must be an E.164 number such as +15551230000, got {self.from_number!r}"
            )
        if self.timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be positive, got {self.timeout_seconds}")
        return self


class _HttpClient(AsyncTwilioHttpClient):
    """twilio-python's aiohttp client, sending Basic auth as a header.

    twilio 9.x wraps credentials in ``aiohttp.BasicAuth``, which aiohttp now deprecates (a
    DeprecationWarning on every request); the header it would produce is sent directly instead.
    """

    async def request(  # type: ignore[override]  # twilio types HttpClient.request as sync
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        headers = dict(headers or {})
        if auth is not None:
            credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {credentials}"
        return await super().request(
            method, url, params, data, headers, None, timeout, allow_redirects
        )


class TwilioCarrier:
    """Sends SMS and places calls through Twilio's REST API.

    Use it as an async context manager (or call ``aclose``): it owns an aiohttp session, created on
    first use because aiohttp sessions belong to a running event loop.
    """

    def __init__(self, settings: TwilioSettings) -> None:
        if not settings.enabled:
            raise ValueError("Twilio is not configured: STANDBY_TWILIO_ACCOUNT_SID is not set")
        self._settings = settings
        self._client: Client | None = None
        self._http: _HttpClient | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()  # type: ignore[no-untyped-call]
        self._http = None
        self._client = None

    def warm(self) -> None:
        """Build the REST client and import the modules its first SMS and call need, now.

        twilio-python imports its REST modules lazily, on first use: about a second of synchronous
        imports on this machine. Done inside the first send, that stalls the event loop past the
        pager's lease, another worker takes the lease over, and the first pages go out twice and
        late. Call this at startup, before serving.
        """
        client = self._rest()
        _ = (client.messages, client.calls)

    def _rest(self) -> Client:
        if self._client is None:
            settings = self._settings
            self._http = _HttpClient(timeout=settings.timeout_seconds)
            self._client = Client(
                username=settings.account_sid,
                password=settings.auth_token.get_secret_value(),
                account_sid=settings.account_sid,
                http_client=self._http,
                # Not os.environ: a TWILIO_EDGE or TWILIO_REGION in the shell would rewrite
                # the host. STANDBY_TWILIO_* is the only configuration. (An empty mapping
                # would fall back to os.environ.)
                environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""},
            )
            self._client.api.base_url = settings.api_base_url
        return self._client

    async def send_sms(self, to: str, body: str, status_callback: str) -> str:
        """Queue an SMS to ``to`` and return its message SID (``SM...``).

        Delivery receipts arrive at ``status_callback`` (queued, sent, delivered, undelivered,
        failed). Raises CarrierError.
        """
        _require_e164(to)
        message = await self._request(
            f"send an SMS to ...{to[-4:]}",
            self._rest().messages.create_async(
                to=to,
                from_=self._settings.from_number,
                body=body,
                status_callback=status_callback,
            ),
        )
        sid = _sid(message.sid, "SM", "message")
        logger.info("twilio sms %s queued to ...%s", sid, to[-4:])
        return sid

    async def place_call(
        self, to: str, twiml_url: str, status_callback: str, machine_detection: bool = True
    ) -> str:
        """Place a call to ``to`` that plays the TwiML at ``twiml_url``; return its call SID.

        Status callbacks for initiated, ringing, answered and completed go to ``status_callback``.
        With ``machine_detection``, answering-machine detection runs asynchronously (the prompt
        starts at once instead of after seconds of silence) and its verdict, ``AnsweredBy``, is
        posted to ``status_callback`` as well. Raises CarrierError.
        """
        _require_e164(to)
        amd: dict[str, str] = {}
        if machine_detection:
            amd = {
                "machine_detection": "Enable",
                "async_amd": "true",
                "async_amd_status_callback": status_callback,
                "async_amd_status_callback_method": "POST",
            }
        call = await self._request(
            f"place a call to ...{to[-4:]}",
            self._rest().calls.create_async(
                to=to,
                from_=self._settings.from_number,
                url=twiml_url,
                method="POST",
                status_callback=status_callback,
                status_callback_method="POST",
                status_callback_event=CALL_EVENTS,
                **amd,
            ),
        )
        sid = _sid(call.sid, "CA", "call")
        logger.info("twilio call %s queued to ...%s", sid, to[-4:])
        return sid

    async def _request(self, what: str, request: Awaitable[_T]) -> _T:
        """Await a twilio-python request, bounded in time, translating its errors."""
        failed = f"Twilio could not {what}"
        try:
            # AsyncTwilioHttpClient stores its timeout but never hands it to aiohttp.
            async with asyncio.timeout(self._settings.timeout_seconds):
                return await request
        except (TwilioRestException, TwilioServiceException) as exc:
            status = int(exc.status)
            code = int(exc.code) if exc.code is not None else None
            detail = getattr(exc, "msg", None) or getattr(exc, "detail", None) or ""
            retryable = status == 429 or status >= 500
            raise CarrierError(
                f"{failed}: HTTP {status}, Twilio error {code}: {detail}".rstrip(": "),
                retryable=retryable,
                status=status,
                code=code,
            ) from exc
        except TimeoutError as exc:
            raise CarrierError(
                f"{failed}: no answer from {self._settings.api_base_url} within "
                f"{self._settings.timeout_seconds:g} s (it may or may not have been queued)",
                retryable=True,
            ) from exc
        except aiohttp.ClientError as exc:
            raise CarrierError(
                f"{failed}: cannot reach {self._settings.api_base_url}: {exc}", retryable=True
            ) from exc
        except TwilioException as exc:
            raise CarrierError(f"{failed}: {exc}", retryable=False) from exc


def _require_e164(number: str) -> None:
    if not _E164.match(number):
        raise CarrierError(
            f"expected an E.164 number such as +15551230000, got {number!r}", retryable=False
        )


def _sid(value: Any, prefix: str, kind: str) -> str:
    if not isinstance(value, str) or not value.startswith(prefix):
        raise CarrierError(
            f"Twilio accepted the {kind} but returned no {prefix}... SID: {value!r}",
            retryable=False,
        )
    return value


class _Params(dict[str, list[str]]):
    """Form parameters with repeats, in the shape RequestValidator reads (``getall``)."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def valid_signature(
    auth_token: str,
    url: str,
    params: Mapping[str, str] | Iterable[tuple[str, str]],
    signature: str | None,
) -> bool:
    """Whether ``signature`` (the X-Twilio-Signature header) signs ``url`` and ``params``.

    ``url`` is the full URL Twilio requested, as the public sees it (scheme, host, path, query);
    ``params`` the POST form fields, repeated fields as repeated pairs.
    """
    if not signature:
        return False
    pairs = params.items() if isinstance(params, Mapping) else params
    form = _Params()
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return bool(RequestValidator(auth_token).validate(url, form, signature))


def gather_twiml(say: str, action_url: str) -> str:
    """A call that says ``say`` twice while waiting for one key, POSTed to ``action_url``.

    If no key is pressed the caller hears that nothing was recorded and the call hangs up.
    """
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=action_url, method="POST", timeout=5)
    gather.say(say, loop=2)
    response.append(gather)
    response.say("No key pressed. Goodbye.")
    response.hangup()
    return str(response)


def say_twiml(text: str) -> str:
    """A call that says ``text`` and ends."""
    response = VoiceResponse()
    response.say(text)
    return str(response)


def message_twiml(text: str | None) -> str:
    """The answer to an inbound SMS: a reply saying ``text``, or (None) no reply at all."""
    response = MessagingResponse()
    if text is not None:
        response.message(text)
    return str(response)


def sms_text(site: str, urgency: str, link: str) -> str:
    """The page sent by SMS: site, urgency, how to accept, the link. No patient information.

    The site name is shortened (never the link) to keep the text in one 160-character segment.
    """
    site = " ".join(site.split())
    urgency = " ".join(urgency.split())
    head = "Standby: contrast supervision needed at "
    tail = f" ({urgency}). Reply 1 or YES to accept, or open {link}"
    room = SMS_SEGMENT - len(head) - len(tail)
    if len(site) > room >= 8:
        site = site[: room - 3].rstrip() + "..."
    return f"{head}{site}{tail}"


def alert_text(site: str, link: str) -> str:
    """The supervisors' alert when paging ran out: the site and the link, no patient information."""
    site = " ".join(site.split())
    head = "Standby ALERT: no radiologist has joined a contrast supervision request at "
    tail = f" after every tier was paged. Open {link}"
    room = SMS_SEGMENT * 2 - len(head) - len(tail)
    if len(site) > room >= 8:
        site = site[: room - 3].rstrip() + "..."
    return f"{head}{site}{tail}"


def _fit(names: list[str], fixed: int, budget: int) -> list[str]:
    """Shorten the longest of ``names`` (never the link) until the text fits ``budget``."""
    names = [" ".join(name.split()) for name in names]
    while fixed + sum(map(len, names)) > budget:
        longest = max(range(len(names)), key=lambda i: len(names[i]))
        if len(names[longest]) <= 8:
            break
        over = fixed + sum(map(len, names)) - budget
        keep = max(5, len(names[longest]) - over - 3)
        names[longest] = names[longest][:keep].rstrip() + "..."
    return names


def stat_sms_text(facility: str, room: str, link: str) -> str:
    """The STAT page by SMS (a contrast reaction, nobody supervising live): site, room, the link
    that needs a login, and how to accept. No patient information. At most two segments: the
    names are shortened, never the link."""
    head = "STAT: contrast reaction at "
    middle = ". Supervising radiologist needed now. Open: "
    tail = f"{link} Reply 1 or YES to accept."
    facility, room = _fit(
        [facility, room], len(head) + 2 + len(middle) + len(tail), 2 * SMS_SEGMENT
    )
    return f"{head}{facility}, {room}{middle}{tail}"


def reaction_alert_text(facility: str, room: str, link: str) -> str:
    """The supervisors' alert of a contrast reaction with nobody supervising live (every tier was
    paged STAT): site, room and the link that needs a login; no patient information. At most two
    segments: the names are shortened, never the link."""
    head = "Standby ALERT: contrast reaction at "
    middle = ". Nobody was supervising live; every radiologist tier was paged STAT. Open "
    facility, room = _fit(
        [facility, room], len(head) + 2 + len(middle) + len(link), 2 * SMS_SEGMENT
    )
    return f"{head}{facility}, {room}{middle}{link}"


def stat_voice_text(facility: str, room: str) -> str:
    """What a STAT voice page says (twice, in a <Gather>): as the SMS, in speech."""
    return (
        f"Standby STAT. A contrast reaction at {' '.join(facility.split())}, "
        f"{' '.join(room.split())}. A supervising radiologist is needed now. Press 1 to accept."
    )


def is_accept_reply(body: str) -> bool:
    """Whether an SMS reply accepts the page: "1", "Y" or "yes", any case, spaces and final dots."""
    return body.strip().rstrip(".!").strip().casefold() in _ACCEPT_REPLIES
