"""What one worker holds for its lifetime, built by the app factory and handed to routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from paging.engine import Engine
from paging.twilio import TwilioSettings
from signaling.config import Settings
from signaling.database import SessionFactory
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

    def ice_servers(self) -> list[dict[str, object]]:
        return [server.model_dump(exclude_none=True) for server in self.settings.ice_servers]
