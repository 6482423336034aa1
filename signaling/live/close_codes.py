"""WebSocket close codes Standby uses (RFC 6455 ones and our 4xxx range, see docs/protocol.md)."""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    MESSAGE_TOO_BIG = 1009
    UNAUTHENTICATED = 4401
    FORBIDDEN_ORIGIN = 4403
    BACKLOG = 4408
    REPLACED = 4409
    RATE_LIMITED = 4429
    TOO_MANY_SOCKETS = 4430
    LOGGED_OUT = 4440
    LOGIN_EXPIRED = 4441
    ACCOUNT_DISABLED = 4442
