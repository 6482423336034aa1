"""SMS and voice pages through the carrier, and what their webhooks mean.

A page carries the site, the urgency and a link that needs a login: never patient information.
Webhook URLs name the page row (an integer), never a person or a session's contents.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from paging.engine import Page, Purpose
from paging.policy import Channel
from paging.twilio import TwilioCarrier, alert_text, sms_text
from signaling.storage.database import SessionFactory
from signaling.storage.models import Facility, SupervisionSession

log = logging.getLogger(__name__)
SITE_CACHE = 4096


class PhoneSender:
    """The SMS or voice channel of the pager, through Twilio (or any Twilio-compatible server)."""

    def __init__(
        self, channel: Channel, carrier: TwilioCarrier, db: SessionFactory, base_url: str
    ) -> None:
        self.channel = channel
        self.carrier = carrier
        self.db = db
        self.base_url = base_url.rstrip("/")
        self._sites: dict[str, str] = {}

    async def _site(self, session_id: str) -> str:
        """The site's name for a session's pages (a session's facility never changes: cached)."""
        site = self._sites.get(session_id)
        if site is None:
            async with self.db() as db:
                name = await db.scalar(
                    select(Facility.name)
                    .join(SupervisionSession, SupervisionSession.facility_id == Facility.id)
                    .where(SupervisionSession.id == session_id)
                )
            site = name or "your imaging site"
            if len(self._sites) >= SITE_CACHE:
                self._sites.pop(next(iter(self._sites)))
            self._sites[session_id] = site
        return site

    async def send(self, page: Page) -> str:
        assert page.address is not None  # the engine skips people without a number
        status = f"{self.base_url}/twilio/status/{page.id}"
        if self.channel is Channel.SMS and page.purpose == Purpose.ALERT:
            text = alert_text(await self._site(page.session_id), f"{self.base_url}/")
            return await self.carrier.send_sms(page.address, text, status)
        if self.channel is Channel.SMS:
            text = sms_text(await self._site(page.session_id), "urgent", f"{self.base_url}/rad")
            return await self.carrier.send_sms(page.address, text, status)
        return await self.carrier.place_call(
            page.address, f"{self.base_url}/twilio/voice/{page.id}", status, machine_detection=True
        )
