"""What one worker holds for its lifetime, built by the app factory and handed to routes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from paging.engine import Engine
from paging.twilio import TwilioSettings
from signaling.accounts import logins
from signaling.accounts.principal import Principal
from signaling.accounts.turn import turn_credentials
from signaling.clock import utc_now
from signaling.common.switchboard import Switchboard
from signaling.config import Settings
from signaling.sessions.radiologist_watch import EvidenceBook
from signaling.storage.database import SessionFactory


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    db: SessionFactory
    hub: Switchboard
    pager: Engine
    twilio: TwilioSettings | None = None  # set when SMS and voice pages go through Twilio
    # What this worker's sockets see of radiologists' media, written together (radiologist_watch).
    evidence: EvidenceBook = field(init=False)

    def __post_init__(self) -> None:
        self.evidence = EvidenceBook(self.db)

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.settings.session_idle_minutes)

    @property
    def preflight_valid_for(self) -> timedelta:
        """How long a passed pre-flight check counts (the shift: ``STANDBY_PREFLIGHT_VALID_H``)."""
        return timedelta(hours=self.settings.preflight_valid_h)

    async def login_of(self, token: str | None) -> Principal | None:
        """Who a login cookie's token belongs to, in a short transaction of its own (so a request
        never holds this connection while it takes another)."""
        async with self.db() as db, db.begin():
            return await logins.resolve(db, self.settings.secret_key, token, utc_now(), self.idle)

    async def login_for(self, token: str | None) -> logins.Login | None:
        """``login_of`` with the login itself (its id and expiry), for a socket that holds it."""
        async with self.db() as db, db.begin():
            return await logins.resolve_login(
                db, self.settings.secret_key, token, utc_now(), self.idle
            )

    def ice_servers(self, user_id: int) -> list[dict[str, object]]:
        """The configured ICE servers, plus TURN with credentials of this user's own that expire
        after ``STANDBY_TURN_TTL_S``."""
        servers = [server.model_dump(exclude_none=True) for server in self.settings.ice_servers]
        settings = self.settings
        if settings.turn_urls and settings.turn_secret is not None:
            expires = utc_now() + timedelta(seconds=settings.turn_ttl_s)
            username, credential = turn_credentials(
                settings.turn_secret.get_secret_value(), user_id, expires
            )
            servers.append(
                {"urls": list(settings.turn_urls), "username": username, "credential": credential}
            )
        return servers
