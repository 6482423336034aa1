"""What one worker holds for its lifetime, built by the app factory and handed to routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from paging.engine import Engine
from paging.twilio import TwilioSettings
from signaling import auth
from signaling.clock import utc_now
from signaling.config import Settings
from signaling.database import SessionFactory
from signaling.directory import Principal
from signaling.hub import Hub


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    db: SessionFactory
    hub: Hub
    pager: Engine
    twilio: TwilioSettings | None = None  # set when SMS and voice pages go through Twilio

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.settings.session_idle_minutes)

    async def login_of(self, token: str | None) -> Principal | None:
        """Who a login cookie's token belongs to, in a short transaction of its own (so a request
        never holds this connection while it takes another)."""
        async with self.db() as db, db.begin():
            return await auth.resolve(db, self.settings.secret_key, token, utc_now(), self.idle)

    def ice_servers(self) -> list[dict[str, object]]:
        return [server.model_dump(exclude_none=True) for server in self.settings.ice_servers]
