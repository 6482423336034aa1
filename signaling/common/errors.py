"""Errors of the signaling service.

StandbyError                     what the edge maps to an HTTP status or a WebSocket error
├── NotAuthenticated   401      no or expired login
│   └── BearerRequired          no or a wrong bearer token (the metrics scrape): WWW-Authenticate
├── Forbidden          403      logged in, but not allowed to see or do this
├── NotFound           404      no such thing (or not visible to you: same answer, no probing)
├── Conflict           409      the thing is in another state than the action expects
│   ├── IllegalTransition       a session state machine refused a transition
│   ├── MonitorOff              the facility has the server's media monitor turned off
│   ├── RoomBusy                the room already has as many open sessions as it may
│   ├── NotVerifiedLive         the facility records an injection only under verified supervision
│   └── RecordFixed             that part of the record is recorded: correct it with an amendment
├── InvalidInput       422      well-formed request with a value we cannot accept
│   └── NoUsableCandidate       an offer none of whose ICE candidates the server's peer may use
├── PreflightRequired  428      the facility requires a passed pre-flight check on this device
├── TooManyAttempts    429      too many failed logins from this address: wait ``retry_after_s``
├── TooManyOpen        429      the technologist already has as many open sessions as they may
└── Unavailable        503      this worker cannot take more of something now (retry later)
    ├── MonitorsFull            every media monitor slot of this worker is in use
    ├── Busy                    this worker runs as many pre-flight checks as it may
    └── BusUnavailable          the message bus between workers (Redis) cannot be reached
"""

from __future__ import annotations


class StandbyError(Exception):
    status_code = 400
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAuthenticated(StandbyError):
    status_code = 401
    code = "unauthenticated"


class BearerRequired(NotAuthenticated):
    """The edge answers it with ``WWW-Authenticate: Bearer``."""

    code = "bearer_token_required"


class Forbidden(StandbyError):
    status_code = 403
    code = "forbidden"


class NotFound(StandbyError):
    status_code = 404
    code = "not_found"


class Conflict(StandbyError):
    status_code = 409
    code = "conflict"


class IllegalTransition(Conflict):
    code = "illegal_transition"

    def __init__(self, expected: str, arrived: str) -> None:
        super().__init__(f"expected {expected}, but the session is {arrived}")
        self.expected = expected
        self.arrived = arrived


class MonitorOff(Conflict):
    code = "monitor_off"


class RoomBusy(Conflict):
    code = "room_busy"


class NotVerifiedLive(Conflict):
    code = "not_verified_live"


class RecordFixed(Conflict):
    code = "recorded"


class InvalidInput(StandbyError):
    status_code = 422
    code = "invalid_input"


class NoUsableCandidate(InvalidInput):
    """The server's own peers send connectivity checks only to where the request came from or
    to the TURN relay; the offer named neither."""

    code = "no_usable_candidate"


class PreflightRequired(StandbyError):
    status_code = 428
    code = "preflight_required"


class TooManyAttempts(StandbyError):
    """The edge answers it with ``Retry-After: retry_after_s``."""

    status_code = 429
    code = "too_many_attempts"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"too many failed logins from this address; try again in {retry_after_s} s"
        )
        self.retry_after_s = retry_after_s


class TooManyOpen(StandbyError):
    status_code = 429
    code = "too_many_open_sessions"


class Unavailable(StandbyError):
    status_code = 503
    code = "unavailable"


class MonitorsFull(Unavailable):
    code = "monitors_full"


class Busy(Unavailable):
    code = "busy"


class BusUnavailable(Unavailable):
    code = "bus_unavailable"
