"""SMS and voice pages through the carrier, and what their webhooks mean.

A page carries the site, the urgency and a link that needs a login: never patient information.
Webhook URLs name the page row (an integer), never a person or a session's contents.

A reply or keypress acts at most once: it is claimed by its carrier id (``paging.inbound``) in the
same transaction as the accept it causes, so a replayed webhook, even validly signed, on any worker
and after any restart, changes nothing and sends nothing. An SMS "YES" accepts the request whose
page went to that number most recently among those still open for acceptance, never another one;
the reply names the site and room it accepted (no patient information), or says plainly that none
is open.
"""

from __future__ import annotations

import logging
import re
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from paging import inbound
from paging.engine import PAGING_PURPOSES, AlertKind, Page, Purpose, alert_kind
from paging.policy import Channel
from paging.store import pages
from paging.twilio import (
    TwilioCarrier,
    alert_text,
    is_accept_reply,
    reaction_alert_text,
    sms_text,
    stat_sms_text,
)
from signaling.accounts.principal import load_principal
from signaling.clock import utc_now
from signaling.common.errors import InvalidInput, StandbyError, Unavailable
from signaling.pager.sites import SiteNames
from signaling.sessions import responders
from signaling.sessions.state import SessionState
from signaling.sessions.supervision import Via
from signaling.storage.database import SessionFactory
from signaling.storage.models import SupervisionSession, User

log = logging.getLogger(__name__)

# A call or its status callback says a machine answered: the page failed (its person is paged on
# their next channel), and this is its detail, which the metrics count as voicemail.
VOICEMAIL = "voicemail: not reached"


class PhoneSender:
    """The SMS or voice channel of the pager, through Twilio (or any Twilio-compatible server).

    The wording follows the page's purpose: an ordinary page, a STAT (a contrast reaction: site
    and room, "needed now"), or the supervisors' alert (paging ran out, or a contrast reaction),
    linking to their console. A call's words are its TwiML
    (``signaling.http.twilio_webhooks``), fetched when it is answered."""

    def __init__(
        self, channel: Channel, carrier: TwilioCarrier, db: SessionFactory, base_url: str
    ) -> None:
        self.channel = channel
        self.carrier = carrier
        self.db = db
        self.base_url = base_url.rstrip("/")
        self.sites = SiteNames(db)

    async def send(self, page: Page) -> str:
        assert page.address is not None  # the engine skips people without a number
        status = f"{self.base_url}/twilio/status/{page.id}"
        if self.channel is Channel.SMS:
            site = await self.sites.of(page.session_id)
            if page.purpose == Purpose.ALERT and alert_kind(page.tier) == AlertKind.REACTION:
                text = reaction_alert_text(site.facility, site.room, f"{self.base_url}/super")
            elif page.purpose == Purpose.ALERT:
                text = alert_text(site.facility, f"{self.base_url}/super")
            elif page.purpose == Purpose.STAT:
                text = stat_sms_text(site.facility, site.room, f"{self.base_url}/rad")
            else:
                text = sms_text(site.facility, "urgent", f"{self.base_url}/rad")
            return await self.carrier.send_sms(page.address, text, status)
        return await self.carrier.place_call(
            page.address, f"{self.base_url}/twilio/voice/{page.id}", status, machine_detection=True
        )


# --- what replies and keypresses mean -----------------------------------------------------------

_MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
JOIN_NOW = "Open Standby on your phone or laptop now and press Join to start the video."
NOT_PRESSED = "Not accepted. Goodbye."
ALREADY_PRESSED = "That key press was already recorded. Goodbye."


def _carrier_id(value: str, pattern: re.Pattern[str], name: str, example: str) -> str:
    if not pattern.match(value):
        shown = f"{len(value)} characters starting {value[:2]!r}" if value else "nothing"
        raise InvalidInput(f"expected {name} such as {example}, got {shown}")
    return value


def message_sid(value: str) -> str:
    """An inbound SMS's ``MessageSid`` (its de-duplication key); InvalidInput otherwise."""
    return _carrier_id(value, _MESSAGE_SID, "a MessageSid", "SM followed by 32 hex digits")


def call_sid(value: str) -> str:
    """A call's ``CallSid`` (with the digits, a keypress's de-duplication key)."""
    return _carrier_id(value, _CALL_SID, "a CallSid", "CA followed by 32 hex digits")


def _where(s: SupervisionSession) -> str:
    """The request as its radiologist may be told it by SMS: site, room, local time requested."""
    local = s.requested_at.astimezone(ZoneInfo(s.facility.timezone))
    return f"{s.facility.name}, {s.room.name} (requested {local:%H:%M})"


def _pages_to(number: str) -> Select[tuple[str, int]]:
    """Requests paged by SMS to ``number`` while it is still the paged person's, newest first."""
    return (
        select(pages.c.session_id, pages.c.user_id)
        .join(User, User.id == pages.c.user_id)
        .join(SupervisionSession, SupervisionSession.id == pages.c.session_id)
        .where(
            pages.c.address == number,
            User.mobile == number,
            pages.c.channel == Channel.SMS.value,
            pages.c.purpose.in_(PAGING_PURPOSES),
            pages.c.sent_at.is_not(None),
        )
        .order_by(pages.c.id.desc())
        .limit(1)
    )


async def _nothing_open(db: AsyncSession, number: str) -> str:
    """The reply when no request paged to ``number`` is open: which one was, and what became of it."""
    last = (await db.execute(_pages_to(number))).first()
    s = await db.get(SupervisionSession, last.session_id) if last is not None else None
    if s is None:
        return "Standby: no open page to accept."
    if s.state == SessionState.ENDED.value:
        became = "has ended"
    elif s.radiologist_id is not None:  # taken: joined, or the call still coming up
        became = "is already covered"
    else:
        became = "is no longer open"
    return f"Standby: no open page to accept. The request at {_where(s)} {became}."


async def _refused(worker: responders.Worker, key: str, answer: str) -> bool:
    """Claim an event whose action was refused (its transaction rolled back, claim and all), so a
    replay is not judged again later; False if another delivery claimed it first."""
    async with worker.db() as db, db.begin():
        if not await inbound.claim(db, key, utc_now()):
            return False
        await inbound.answered(db, key, answer)
    return True


async def sms_reply(worker: responders.Worker, sid: str, from_number: str, body: str) -> str | None:
    """Act on an inbound SMS once: what to text back, or None to text nothing (not an accept,
    or a replay of a message already acted on)."""
    if not is_accept_reply(body):
        return None
    key = inbound.sms_key(message_sid(sid))
    try:
        async with worker.db() as db, db.begin():
            now = utc_now()
            if not await inbound.claim(db, key, now):
                log.info("sms reply %s: a replay, ignored", sid)
                return None
            paged = (
                await db.execute(
                    _pages_to(from_number).where(
                        SupervisionSession.state == SessionState.PAGING.value,
                        SupervisionSession.radiologist_id.is_(None),
                    )
                )
            ).first()
            principal = await load_principal(db, paged.user_id) if paged is not None else None
            if paged is None or principal is None:
                answer = (
                    await _nothing_open(db, from_number)
                    if paged is None
                    else "Standby: your account is not active."
                )
                await inbound.answered(db, key, answer)
                return answer
            accepted = await responders.record_accept(
                worker, db, principal, paged.session_id, now, Via.SMS
            )
            what = "Accepted" if accepted.new else "You had already accepted"
            answer = f"Standby: {what} {_where(accepted.session)}. {JOIN_NOW}"
            await inbound.answered(db, key, answer)
    except Unavailable:
        raise  # this worker cannot now; the carrier's retry may act
    except StandbyError as exc:
        answer = f"Standby: not accepted: {exc.message}."
        return answer if await _refused(worker, key, answer) else None
    await responders.announce_accept(worker, accepted)
    return answer


async def keypress(worker: responders.Worker, page_id: int, sid: str, digits: str) -> str:
    """Act on a key pressed on a voice page once: what to say next. A replayed keypress says
    again what the first one was told, and does nothing."""
    if digits != "1":
        return NOT_PRESSED
    key = inbound.keypress_key(call_sid(sid), digits)
    try:
        async with worker.db() as db, db.begin():
            now = utc_now()
            if not await inbound.claim(db, key, now):
                log.info("keypress on call %s: a replay, ignored", sid)
                return await inbound.first_answer(db, key) or ALREADY_PRESSED
            page = (await db.execute(select(pages).where(pages.c.id == page_id))).first()
            principal = await load_principal(db, page.user_id) if page is not None else None
            if page is None or principal is None:
                answer = (
                    "This page is no longer valid. Goodbye."
                    if page is None
                    else "Your account is not active."
                )
                await inbound.answered(db, key, answer)
                return answer
            accepted = await responders.record_accept(
                worker, db, principal, page.session_id, now, Via.VOICE
            )
            answer = f"Accepted. {JOIN_NOW}"
            await inbound.answered(db, key, answer)
    except Unavailable:
        raise
    except StandbyError as exc:
        answer = f"Not accepted: {exc.message}."
        return answer if await _refused(worker, key, answer) else ALREADY_PRESSED
    await responders.announce_accept(worker, accepted)
    return answer
