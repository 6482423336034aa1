"""Where a session's pages say it is: the facility's and the room's names, never patient information.

A session's facility and room never change, so the names are read once per session and kept (a
small cache per sender: a page for an unknown session reads it again).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from signaling.storage.database import SessionFactory
from signaling.storage.models import Facility, Room, SupervisionSession

SITE_CACHE = 4096
UNKNOWN = ("your imaging site", "a room")


@dataclass(frozen=True)
class Site:
    facility: str
    room: str


class SiteNames:
    """The facility and room a session's pages name."""

    def __init__(self, db: SessionFactory, size: int = SITE_CACHE) -> None:
        self.db = db
        self.size = size
        self._sites: dict[str, Site] = {}

    async def of(self, session_id: str) -> Site:
        site = self._sites.get(session_id)
        if site is not None:
            return site
        async with self.db() as db:
            row = (
                await db.execute(
                    select(Facility.name, Room.name)
                    .select_from(SupervisionSession)
                    .join(Facility, Facility.id == SupervisionSession.facility_id)
                    .join(Room, Room.id == SupervisionSession.room_id)
                    .where(SupervisionSession.id == session_id)
                )
            ).first()
        if row is None:
            return Site(*UNKNOWN)  # not kept: a session not found now is not cached as unknown
        site = Site(facility=row[0], room=row[1])
        if len(self._sites) >= self.size:
            self._sites.pop(next(iter(self._sites)))
        self._sites[session_id] = site
        return site
