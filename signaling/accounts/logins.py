"""Password login and server-side login sessions.

The browser holds a random token in an HttpOnly, Secure, SameSite=Strict cookie; the database holds only
an HMAC of it (keyed with ``STANDBY_SECRET_KEY``), so a copy of the database cannot log anyone in.
A session ends after ``STANDBY_SESSION_IDLE_MINUTES`` without use (automatic logoff), at logout, or
when the account is disabled; ``standing`` says which, for the sockets a login holds open.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.accounts.passwords import verify_password
from signaling.accounts.principal import Principal, load_principal
from signaling.common.errors import NotAuthenticated
from signaling.storage.models import LoginSession, User

TOUCH_EVERY = timedelta(seconds=60)


def username_key(username: str) -> str:
    """The username as logins look it up (and the login throttle counts it): `` DrPatel`` is
    ``drpatel``."""
    return username.strip().lower()


class Ended(StrEnum):
    """Why a login no longer logs anyone in."""

    LOGGED_OUT = "logged_out"
    EXPIRED = "expired"
    DISABLED = "disabled"


@dataclass(frozen=True)
class Login:
    """One login session: its row id, who it logs in, and until when (if not used meanwhile)."""

    id: int
    principal: Principal
    expires_at: datetime


def token_digest(secret_key: str, token: str) -> str:
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


async def login(
    db: AsyncSession, secret_key: str, username: str, password: str, now: datetime, idle: timedelta
) -> tuple[str, Principal]:
    """Check the password and open a login session; returns the cookie token and who logged in."""
    user = await db.scalar(select(User).where(User.username == username_key(username)))
    ok = verify_password(user.password_hash if user else None, password)
    principal = await load_principal(db, user.id) if ok and user else None
    if principal is None:
        raise NotAuthenticated("wrong username or password, or the account is disabled")
    token = secrets.token_urlsafe(32)
    db.add(
        LoginSession(
            token_digest=token_digest(secret_key, token),
            user_id=principal.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + idle,
        )
    )
    return token, principal


async def resolve(
    db: AsyncSession, secret_key: str, token: str | None, now: datetime, idle: timedelta
) -> Principal | None:
    """The person a cookie token logs in, or None; slides the idle expiry forward."""
    found = await resolve_login(db, secret_key, token, now, idle)
    return found.principal if found else None


async def resolve_login(
    db: AsyncSession, secret_key: str, token: str | None, now: datetime, idle: timedelta
) -> Login | None:
    """The login a cookie token belongs to, or None; slides the idle expiry forward."""
    if not token or len(token) > 128:
        return None
    row = await db.scalar(
        select(LoginSession).where(LoginSession.token_digest == token_digest(secret_key, token))
    )
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    principal = await load_principal(db, row.user_id)
    if principal is None:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at, row.expires_at = now, now + idle
    return Login(row.id, principal, row.expires_at)


async def logout(
    db: AsyncSession, secret_key: str, token: str, now: datetime
) -> tuple[int, int] | None:
    """End the login of ``token``; returns its id and its user's id (None: no such login)."""
    row = await db.scalar(
        select(LoginSession).where(LoginSession.token_digest == token_digest(secret_key, token))
    )
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = now
    return row.id, row.user_id


async def revoke_all(db: AsyncSession, user_id: int, now: datetime) -> list[int]:
    """End every login of a user (password change, account disabled); returns the ids ended."""
    ended = list(
        await db.scalars(
            select(LoginSession.id).where(
                LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)
            )
        )
    )
    await db.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return ended


async def standing(
    db: AsyncSession, login_ids: Collection[int], now: datetime
) -> dict[int, datetime | Ended]:
    """For each login: until when it stands (its expiry), or why it ended."""
    if not login_ids:
        return {}
    rows = await db.execute(
        select(LoginSession.id, LoginSession.expires_at, LoginSession.revoked_at, User.active)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.id.in_(login_ids))
    )
    found: dict[int, datetime | Ended] = {}
    for login_id, expires_at, revoked_at, active in rows:
        if not active:
            found[login_id] = Ended.DISABLED
        elif revoked_at is not None:
            found[login_id] = Ended.LOGGED_OUT
        elif expires_at <= now:
            found[login_id] = Ended.EXPIRED
        else:
            found[login_id] = expires_at
    return {i: found.get(i, Ended.LOGGED_OUT) for i in login_ids}
