"""Twilio webhooks: the call's TwiML, the keypress, SMS replies, delivery and call status.

Every request must carry a valid ``X-Twilio-Signature`` over the public URL and the form; otherwise
it is refused (403) and nothing changes. Webhooks may arrive twice or out of order: every effect is
idempotent (a reply or keypress acts once, by its carrier id, see ``signaling.pager.phone``; a status
only moves a page forward, never back).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from sqlalchemy import select

from paging.engine import Purpose
from paging.store import pages
from paging.twilio import (
    gather_twiml,
    message_twiml,
    say_twiml,
    stat_voice_text,
    valid_signature,
)
from signaling.clock import utc_now
from signaling.common.errors import Forbidden
from signaling.http.deps import ROW_ID_MAX, ServicesDep
from signaling.pager import phone
from signaling.services import Services
from signaling.storage.models import SupervisionSession

log = logging.getLogger(__name__)
router = APIRouter(prefix="/twilio", include_in_schema=False)
FAILED = {"failed", "undelivered", "no-answer", "busy", "canceled"}
MACHINE = {"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax"}


def _twiml(body: str) -> Response:
    return Response(body, media_type="application/xml")


async def _signed_form(request: Request, services: ServicesDep) -> dict[str, str]:
    """The webhook's form, if ``X-Twilio-Signature`` signs it; 403 and no change otherwise."""
    if services.twilio is None:
        raise Forbidden("no carrier is configured")
    # Twilio posts application/x-www-form-urlencoded; no multipart parser is needed.
    params = dict(
        parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    )
    base = str(services.settings.public_base_url).rstrip("/")
    url = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not valid_signature(
        services.twilio.auth_token.get_secret_value(),
        url,
        params,
        request.headers.get("x-twilio-signature"),
    ):
        log.warning("twilio webhook %s: bad or missing signature, refused", request.url.path)
        raise Forbidden("invalid Twilio signature")
    return params


SignedForm = Annotated[dict[str, str], Depends(_signed_form)]


async def _page(services: Services, page_id: int) -> Any:
    async with services.db() as db:
        return (await db.execute(select(pages).where(pages.c.id == page_id))).first()


PageId = Annotated[int, Path(ge=1, le=ROW_ID_MAX, description="the page's row")]


@router.post("/voice/{page_id}")
async def voice(page_id: PageId, params: SignedForm, services: ServicesDep) -> Response:
    page = await _page(services, page_id)
    if page is None:
        return _twiml(say_twiml("This page is no longer valid. Goodbye."))
    stat = page.purpose == Purpose.STAT
    if params.get("AnsweredBy") in MACHINE:
        await _set_status(services, page_id, phone.VOICEMAIL)
        left = (
            "Standby STAT page. Please open Standby now."
            if stat
            else "Standby page. Please open Standby."
        )
        return _twiml(say_twiml(left))
    async with services.db() as db:
        session = await db.get(SupervisionSession, page.session_id)
    facility = session.facility.name if session else "an imaging site"
    action = str(services.settings.public_base_url).rstrip("/") + f"/twilio/voice/{page_id}/gather"
    if stat:
        room = session.room.name if session else "a room"
        return _twiml(gather_twiml(stat_voice_text(facility, room), action))
    return _twiml(
        gather_twiml(
            f"Standby. Contrast supervision is needed at {facility}. Press 1 to accept.", action
        )
    )


@router.post("/voice/{page_id}/gather")
async def gather(page_id: PageId, params: SignedForm, services: ServicesDep) -> Response:
    answer = await phone.keypress(
        services, page_id, params.get("CallSid", ""), params.get("Digits", "")
    )
    return _twiml(say_twiml(answer))


@router.post("/sms")
async def sms_reply(params: SignedForm, services: ServicesDep) -> Response:
    answer = await phone.sms_reply(
        services, params.get("MessageSid", ""), params.get("From", ""), params.get("Body", "")
    )
    return _twiml(message_twiml(answer))


@router.post("/status/{page_id}")
async def status(page_id: PageId, params: SignedForm, services: ServicesDep) -> Response:
    state = params.get("MessageStatus") or params.get("CallStatus") or ""
    if params.get("AnsweredBy") in MACHINE:
        await _set_status(services, page_id, phone.VOICEMAIL)
    elif state in FAILED:
        await _set_status(services, page_id, f"carrier: {state}")
    return Response(status_code=204)


async def _set_status(services: Services, page_id: int, detail: str) -> None:
    """A sent page was not delivered: failed once, and its person paged on their next channel."""
    await services.pager.page_failed(page_id, detail, utc_now())
