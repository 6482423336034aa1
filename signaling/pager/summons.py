"""A contrast reaction summons help (issue 10 item 4): the calls the reaction record makes.

- ``stat``: in the record's transaction, a STAT page of every tier at once on every channel
  (``paging.engine.Engine.stat``), from the session's own policy snapshot, or from the facility's
  policy if the session was never paged. After committing, ``send_stat`` sends what it returned.
- ``reaction_alert``: after committing, tell the radiologist in the session (their socket, on any
  worker) with an alert the call page shows over the call, with a tone, until acknowledged.

Whether to call them (moderate or severe, nobody verified live) is the record's decision.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from paging.engine import Engine, Page
from signaling.clock import iso_ms
from signaling.common.errors import BusUnavailable
from signaling.common.switchboard import Switchboard
from signaling.directory.queries import facility_policy

log = logging.getLogger(__name__)


async def stat(
    pager: Engine, db: AsyncSession, session_id: str, facility_id: int, now: datetime
) -> list[Page]:
    """Page every tier of the session now, in the caller's transaction (the session must still be
    open); [] if a STAT went out for it moments ago (``STAT_AGAIN_AFTER``) or nobody can be
    paged. Hand the result to ``send_stat`` once committed."""
    policy = await facility_policy(db, facility_id)  # used only if the session has no run
    return await pager.stat(db, session_id, now, facility_id=facility_id, policy=policy)


async def send_stat(pager: Engine, fresh: list[Page], session_id: str, now: datetime) -> None:
    """After the commit: send the STAT's pages, wake the pager (an empty STAT pulled the next
    round forward) and tell the participants that paging changed."""
    await pager.deliver(fresh, now)
    pager.poke()
    await pager.tell(session_id, "stat")


async def reaction_alert(
    hub: Switchboard,
    session_id: str,
    seq: int,
    onset_at: datetime,
    severity: str | None,
    reported_by: str,
) -> None:
    """After the commit: the ``reaction_alert`` to the radiologist in the session (``seq``: the
    record entry that opened the reaction, which ``.../reactions/{seq}/acknowledge`` names;
    ``severity``: mild, moderate, severe or None; ``reported_by``: a name). A bus that cannot be
    reached loses the alert (logged), never the record."""
    message = {
        "kind": "reaction_alert",
        "session_id": session_id,
        "seq": seq,
        "onset_at": iso_ms(onset_at),
        "severity": severity,
        "reported_by": reported_by,
    }
    try:
        await hub.to_participant(session_id, "radiologist", message)
    except BusUnavailable:
        log.error("session %s: reaction alert not told: the message bus is unavailable", session_id)
