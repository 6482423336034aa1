"""The pager inside the service: the engine with the service's directory and in-app channel, the
policy a facility pages with, and what the service tells people when paging changes."""

from __future__ import annotations

import logging
import os
import socket as _socket
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from paging.engine import Engine, Page, Purpose, Sender
from paging.policy import Channel, EscalationPolicy, default_policy
from signaling.database import SessionFactory
from signaling.hub import Hub
from signaling.models import FacilityPolicy
from signaling.pager_directory import ServiceDirectory

log = logging.getLogger(__name__)


class InAppSender:
    """The in-app channel: a ``page`` message to every open console of the person, any worker."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def send(self, page: Page) -> str:
        if page.purpose == Purpose.ALERT:
            await self.hub.to_user(page.user_id, {"kind": "alert", "session_id": page.session_id})
        else:
            await self.hub.to_user(
                page.user_id, {"kind": "page", "session_id": page.session_id, "tier": page.tier}
            )
        return f"in-app:{page.key}"


async def facility_policy(db: AsyncSession, facility_id: int) -> EscalationPolicy:
    """The facility's stored policy, or the default (the whole eligible pool at once)."""
    row = await db.get(FacilityPolicy, facility_id)
    return EscalationPolicy.model_validate(row.policy) if row else default_policy()


def make_pager(
    db: SessionFactory,
    hub: Hub,
    phone: Mapping[Channel, Sender] | None = None,
    *,
    grace: timedelta = timedelta(seconds=30),
) -> Engine:
    """The engine with the in-app channel, plus SMS and voice when a carrier is configured."""

    async def tell(session_id: str, what: str) -> None:
        # Only a note that paging changed: the worker holding a participant's socket reads the
        # summary for it (signaling/socket.py), so nobody reads it for sessions nobody watches.
        await hub.to_session(session_id, {"kind": "paging_changed", "session_id": session_id})
        if what == "exhausted":
            log.warning(
                "session %s: paging exhausted, no supervising radiologist; supervisors alerted",
                session_id,
            )

    return Engine(
        db,
        ServiceDirectory(),
        {Channel.IN_APP: InAppSender(hub), **(phone or {})},
        worker=f"{_socket.gethostname()}:{os.getpid()}",
        grace=grace,
        notify=tell,
    )
