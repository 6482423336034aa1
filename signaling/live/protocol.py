"""The signaling wire protocol (docs/protocol.md): one discriminated union each way.

``parse`` is the only way in and ``serialise`` the only way out.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_serializer

from signaling.clock import iso_ms

MAX_FRAME_BYTES = 64 * 1024
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
IceConnectionState = Literal[
    "new", "checking", "connected", "completed", "disconnected", "failed", "closed"
]


class ProtocolError(Exception):
    """A frame we cannot act on; answered with an ``error`` message, the socket stays open."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- client -> server -------------------------------------------------------------------------


class Join(_Message):
    type: Literal["join"]
    session_id: str = Field(pattern=UUID_PATTERN)
    # The page comes back (its socket dropped) still holding a live peer connection for this
    # session: the other page keeps the call instead of starting a new one.
    resume: bool = False


class Offer(_Message):
    type: Literal["offer"]
    sdp: str = Field(min_length=1, max_length=60_000)
    restart: bool = False  # an ICE restart of the current connection, not a new one


class Answer(_Message):
    type: Literal["answer"]
    sdp: str = Field(min_length=1, max_length=60_000)


class Candidate(_Message):
    type: Literal["candidate"]
    candidate: str | None = Field(default=None, max_length=2_000)
    sdp_mid: str | None = Field(default=None, max_length=64)
    sdp_mline_index: int | None = Field(default=None, ge=0, le=64)


class IceState(_Message):
    type: Literal["ice_state"]
    state: IceConnectionState


class MediaState(_Message):
    type: Literal["media_state"]
    video: bool
    audio: bool


class Stats(_Message):
    """Once a second: what this page measures of the media it *receives* (client evidence)."""

    type: Literal["stats"]
    frames_decoded: int = Field(ge=0, le=10**10)  # cumulative, inbound video
    fps: float = Field(ge=0, le=240)
    audio_packets: int = Field(ge=0, le=10**11)  # cumulative, inbound audio
    audio_level: float = Field(ge=0, le=1)
    rtt_ms: float | None = Field(default=None, ge=0, le=60_000)
    loss: float = Field(default=0, ge=0, le=1)  # fraction over the last second
    jitter_ms: float = Field(default=0, ge=0, le=60_000)
    bitrate_kbps: float = Field(default=0, ge=0, le=1_000_000)
    candidate: Literal["host", "srflx", "prflx", "relay"] | None = None


class Leave(_Message):
    type: Literal["leave"]


class Ping(_Message):
    type: Literal["ping"]


class AlertShown(_Message):
    """The page showed a ``supervisor_alert`` (its ``ack``): only then is the alert delivered."""

    type: Literal["alert_shown"]
    ack: str = Field(pattern=r"^[0-9a-f]{32}$")


Inbound = Annotated[
    Join | Offer | Answer | Candidate | IceState | MediaState | Stats | Leave | Ping | AlertShown,
    Field(discriminator="type"),
]
INBOUND_TYPES = (
    "join",
    "offer",
    "answer",
    "candidate",
    "ice_state",
    "media_state",
    "stats",
    "leave",
    "ping",
    "alert_shown",
)
_inbound = TypeAdapter[Inbound](Inbound)


def parse(text: str) -> Inbound:
    """One client frame to a message, or ProtocolError naming what is wrong."""
    if len(text.encode()) > MAX_FRAME_BYTES:
        raise ProtocolError(
            "too_large",
            f"a frame may have at most {MAX_FRAME_BYTES} bytes, got {len(text.encode())}",
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError("invalid_json", f"frame is not JSON: {exc.msg} at {exc.pos}") from None
    except RecursionError:
        raise ProtocolError(
            "invalid_json", "frame is not JSON Standby reads: nested too deep"
        ) from None
    except ValueError as exc:  # e.g. a number past Python's limit on integer digits
        raise ProtocolError("invalid_json", f"frame is not JSON Standby reads: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid_message", f"expected a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("invalid_message", "missing string field 'type'")
    if kind not in INBOUND_TYPES:
        raise ProtocolError(
            "unknown_type",
            f"unknown message type {kind[:40]!r}; expected one of {', '.join(INBOUND_TYPES)}",
        )
    try:
        return _inbound.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'][1:]) or kind}: {err['msg']}"
            for err in exc.errors()
        )
        raise ProtocolError("invalid_message", f"{kind}: {problems}") from None


# --- server -> client -------------------------------------------------------------------------


class Hello(_Message):
    type: Literal["hello"] = "hello"
    user: dict[str, Any]


class Joined(_Message):
    type: Literal["joined"] = "joined"
    session: dict[str, Any]
    role: str
    ice_servers: list[dict[str, Any]]


class PeerJoined(_Message):
    type: Literal["peer_joined"] = "peer_joined"
    role: str
    resume: bool = False  # the other page came back holding its live peer connection


class PeerLeft(_Message):
    type: Literal["peer_left"] = "peer_left"
    role: str


class Relayed(_Message):
    """An offer, answer or candidate from the other participant, with ``from`` added."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: Literal["offer", "answer", "candidate"]
    from_: str = Field(serialization_alias="from")


class SessionUpdate(_Message):
    type: Literal["session"] = "session"
    session: dict[str, Any]


class Requests(_Message):
    type: Literal["requests"] = "requests"
    items: list[dict[str, Any]]


class RequestOpened(_Message):
    type: Literal["request_opened"] = "request_opened"
    request: dict[str, Any]


class RequestClosed(_Message):
    type: Literal["request_closed"] = "request_closed"
    session_id: str
    reason: Literal["taken", "ended", "released"]


class Paged(_Message):
    """You are being paged for this request (in-app channel): ring. A STAT page (``stat``: a
    contrast reaction and nobody supervising live) names the facility and room, and the console
    shows an alarm that stays until acted on."""

    type: Literal["page"] = "page"
    session_id: str
    tier: int
    request: dict[str, Any] | None = None
    stat: bool = False
    facility: str | None = None
    room: str | None = None


class ReactionAlert(_Message):
    """To the radiologist in the session: a contrast reaction was reported (the record's entry
    ``seq``). The call page shows it over the call, with a tone, until acknowledged
    (``POST /api/sessions/{session_id}/reactions/{seq}/acknowledge``)."""

    type: Literal["reaction_alert"] = "reaction_alert"
    session_id: str = Field(pattern=UUID_PATTERN)
    seq: int = Field(ge=1, le=2**31 - 1)
    onset_at: datetime
    severity: Literal["mild", "moderate", "severe"] | None = None  # None: not graded yet
    reported_by: str = Field(min_length=1, max_length=200)  # a name, as the record shows it

    @field_serializer("onset_at")
    def _wire_time(self, onset_at: datetime) -> str | None:
        return iso_ms(onset_at)


class Covered(_Message):
    """A request you were paged for is covered: someone joined."""

    type: Literal["covered"] = "covered"
    session_id: str
    by: str


class SupervisorAlert(_Message):
    """To a facility's supervisors: paging ran out and nobody joined this request (``alert``
    ``exhausted``), or a contrast reaction with nobody supervising live paged every tier STAT
    (``reaction``). ``round`` tells a session's alerts of one kind apart; ``facility`` and
    ``room`` name the site (never the patient). A page that shows it answers ``alert_shown`` with
    ``ack``: only that counts the alert as delivered in-app."""

    type: Literal["supervisor_alert"] = "supervisor_alert"
    session_id: str
    alert: Literal["exhausted", "reaction"] = "exhausted"
    round: int = 0
    facility: str | None = None
    room: str | None = None
    ack: str | None = None


class PagingUpdate(_Message):
    """Who has been paged, accepted or skipped (names, never numbers); sent to the participants."""

    type: Literal["paging"] = "paging"
    session_id: str
    paging: dict[str, Any] | None


class Link(_Message):
    """The link's state, per sending participant (``technologist``: the technologist's camera and
    microphone as the radiologist receives them), and whether supervision is verified two-way live.
    Sent to each participant within a second of a change, and every 5 s."""

    type: Literal["link"] = "link"
    session_id: str
    directions: dict[str, dict[str, Any]]
    verified: bool


class RecordChanged(_Message):
    """Something was added to the session's exam and reaction record: read it again."""

    type: Literal["record_changed"] = "record_changed"
    session_id: str


class Error(_Message):
    type: Literal["error"] = "error"
    code: str
    message: str


class Pong(_Message):
    type: Literal["pong"] = "pong"


Outbound = (
    Hello
    | Joined
    | PeerJoined
    | PeerLeft
    | Relayed
    | SessionUpdate
    | Requests
    | RequestOpened
    | RequestClosed
    | Paged
    | ReactionAlert
    | Covered
    | SupervisorAlert
    | PagingUpdate
    | Link
    | RecordChanged
    | Error
    | Pong
)


def serialise(message: Outbound) -> str:
    return message.model_dump_json(by_alias=True)
