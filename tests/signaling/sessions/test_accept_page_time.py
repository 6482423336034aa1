"""An accept keeps when its radiologist was first paged on the channel it came through, so the
paging health report measures page-to-accept without reading every page."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.store import pages
from signaling.storage.models import SessionAccept, User
from tests.live import LiveServer, connect, login
from tests.signaling.helpers import accept, open_session, room_id


async def sent_at(db: AsyncSession, session_id: str, user_id: int) -> datetime:
    """When the person's in-app page was recorded sent (the outbox writes it just after)."""
    for _ in range(50):
        found = await db.scalar(
            select(pages.c.sent_at).where(
                pages.c.session_id == session_id,
                pages.c.user_id == user_id,
                pages.c.channel == "in_app",
            )
        )
        await db.rollback()
        if found is not None:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError("the in-app page was never recorded sent")


async def test_an_accept_keeps_the_first_page_on_its_channel(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """Dr Diaz accepts at once, before his tier fires: nothing paged him, so his accept keeps no
    page time. Dr Patel, paged in-app at T+0, accepts from the console: hers keeps that page's."""
    patel, diaz = await login(server, "drpatel"), await login(server, "drdiaz")
    ids = dict((await db_session.execute(select(User.username, User.id))).all())
    async with connect(server, patel) as phone:
        await phone.expect("requests")
        tech = await login(server, "techeast")
        room = await room_id(server, tech, "East Side Imaging")
        session = await open_session(server, tech, room_id=room)
        await accept(server, diaz, session["id"])  # at once: his tier (T+1 s) is held
        await phone.expect("page")
        paged = await sent_at(db_session, session["id"], ids["drpatel"])
        await accept(server, patel, session["id"])
    accepts = {
        a.user_id: a
        for a in await db_session.scalars(
            select(SessionAccept).where(SessionAccept.session_id == session["id"])
        )
    }
    assert accepts[ids["drpatel"]].paged_at == paged
    assert accepts[ids["drpatel"]].accepted_at >= paged
    assert accepts[ids["drdiaz"]].paged_at is None
