"""The pager inside the service: the engine with the service's directory and in-app channel, the
policy a facility pages with, and what the service tells people when paging changes."""

from __future__ import annotations

import logging
import os
import socket as _socket
from collections.abc import Mapping
from datetime import timedelta

from paging.carrier import CarrierError
from paging.engine import Engine, Page, Purpose, Sender, alert_kind
from paging.policy import Channel
from signaling.common.switchboard import Switchboard
from signaling.pager.directory_view import ServiceDirectory
from signaling.pager.sites import SiteNames
from signaling.storage.database import SessionFactory

log = logging.getLogger(__name__)

# How long an in-app alert waits to hear that a page of the person's showed it.
ALERT_CONFIRM_S = 2.0
NO_PAGE_OPEN = "not delivered: no Standby page open"


class InAppSender:
    """The in-app channel: a ``page`` message to every open console of the person, any worker.

    A supervisors' alert (paging ran out, or a contrast reaction's STAT) counts as sent only when
    an open page of the person confirmed that it showed it (the supervisor's console, ``/super``,
    does; a page that does not show alerts stays silent): a supervisor with no such page open was
    not alerted, and the technologist must not be told they were. It names its kind, facility and
    room. (A page to a radiologist is sent to the lobby's consoles as before: their tiers page
    them by SMS and voice too.) A STAT page says so (``stat``) and names the facility and room,
    so a console shows the alarm even for a request it does not list."""

    def __init__(self, hub: Switchboard, db: SessionFactory) -> None:
        self.hub = hub
        self.sites = SiteNames(db)

    async def send(self, page: Page) -> str:
        if page.purpose == Purpose.ALERT:
            site = await self.sites.of(page.session_id)
            alert = {
                "kind": "alert",
                "session_id": page.session_id,
                "alert": alert_kind(page.tier),
                "round": page.round,
                "facility": site.facility,
                "room": site.room,
            }
            reached = await self.hub.to_user_confirmed(page.user_id, alert, ALERT_CONFIRM_S)
            if not reached:
                raise CarrierError(NO_PAGE_OPEN, retryable=False)
        elif page.purpose == Purpose.STAT:
            site = await self.sites.of(page.session_id)
            message = {
                "kind": "page",
                "session_id": page.session_id,
                "tier": page.tier,
                "stat": True,
                "facility": site.facility,
                "room": site.room,
            }
            await self.hub.to_user(page.user_id, message)
        else:
            await self.hub.to_user(
                page.user_id, {"kind": "page", "session_id": page.session_id, "tier": page.tier}
            )
        return f"in-app:{page.id}"  # (the row's id: a key may outgrow carrier_ref's 64 characters)


def make_pager(
    db: SessionFactory,
    hub: Switchboard,
    phone: Mapping[Channel, Sender] | None = None,
    *,
    grace: timedelta = timedelta(seconds=30),
) -> Engine:
    """The engine with the in-app channel, plus SMS and voice when a carrier is configured."""

    async def tell(session_id: str, what: str) -> None:
        # Only a note that paging changed: the worker holding a participant's socket reads the
        # summary for it (signaling/live/socket.py), so nobody reads it for sessions nobody watches.
        await hub.to_session(session_id, {"kind": "paging_changed", "session_id": session_id})
        if what == "exhausted":
            log.warning(
                "session %s: paging exhausted, no supervising radiologist; supervisors alerted",
                session_id,
            )

    return Engine(
        db,
        ServiceDirectory(),
        {Channel.IN_APP: InAppSender(hub, db), **(phone or {})},
        worker=f"{_socket.gethostname()}:{os.getpid()}",
        grace=grace,
        notify=tell,
    )
