"""The ``/ws`` endpoint: one socket per participant page, translating frames to supervision calls.

A malformed frame is answered with an ``error`` and the socket stays open: losing the call over a bad
message would hurt the patient more than the message did. The socket closes only when it must (see
``CloseCode``).

A socket holds one login. When that login ends (logout, expiry, the account disabled) the socket is
closed with a code saying which, and nothing it sends from then on is acted on or relayed: each
message is checked against the login first (see ``Connection.login_stands`` and ``live.hub``).
Each login keeps at most ``STANDBY_SOCKETS_PER_LOGIN`` sockets across workers: the newest opening
closes the oldest, so a radiologist re-opening the console on a phone is never locked out by a tab
left open at the desk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from signaling.accounts.logins import Ended, Login
from signaling.accounts.roles import Role
from signaling.clock import utc_now
from signaling.common.errors import BusUnavailable, StandbyError
from signaling.directory.queries import eligible_facility_ids
from signaling.live.budget import MessageBudget, Verdict
from signaling.live.close_codes import CloseCode
from signaling.live.hub import LOGIN_ENDED, other
from signaling.live.link_watch import LinkTicker, LinkWatch, describe
from signaling.live.login_check import LoginCheck
from signaling.live.protocol import (
    AlertShown,
    Answer,
    Candidate,
    Covered,
    Error,
    Hello,
    IceState,
    Inbound,
    Join,
    Joined,
    Leave,
    Link,
    MediaState,
    Offer,
    Outbound,
    Paged,
    PagingUpdate,
    PeerJoined,
    PeerLeft,
    Ping,
    Pong,
    ProtocolError,
    ReactionAlert,
    RecordChanged,
    RequestClosed,
    RequestOpened,
    Requests,
    SessionUpdate,
    Stats,
    SupervisorAlert,
    parse,
    serialise,
)
from signaling.pager.summary import paging_summary
from signaling.record import store as record_store
from signaling.services import Services
from signaling.sessions import call_record, notices, radiologist_watch, supervision
from signaling.sessions.state import SessionState

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 512
ALERT_ACKS_KEPT = 64  # alerts this socket handed its page and may still hear "shown" of
ELIGIBILITY_REFRESH = timedelta(seconds=60)
SOCKET_OPENED, SOCKET_CLOSED = "socket_opened", "socket_closed"
LOGIN_ENDED_CLOSE: dict[Ended, tuple[CloseCode, str]] = {
    Ended.LOGGED_OUT: (CloseCode.LOGGED_OUT, "you logged out"),
    Ended.EXPIRED: (CloseCode.LOGIN_EXPIRED, "your login expired: log in again"),
    Ended.DISABLED: (CloseCode.ACCOUNT_DISABLED, "your account was disabled"),
}


def origin_allowed(websocket: WebSocket, services: Services) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser; the cookie still has to be valid
    origin_host = urlsplit(origin).netloc.lower()
    allowed = {
        websocket.headers.get("host", "").lower(),
        urlsplit(str(services.settings.public_base_url)).netloc.lower(),
    }
    return origin_host in allowed


class _Close:
    def __init__(self, code: CloseCode, reason: str) -> None:
        self.code, self.reason = code, reason


class Connection:
    """One participant's socket: its room, its peer, its outbox."""

    def __init__(
        self,
        websocket: WebSocket,
        login: Login,
        services: Services,
        logins: LoginCheck,
        links: LinkTicker,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.ws = websocket
        self.principal = login.principal
        self.login_id = login.id
        self.login_expires_at = login.expires_at
        self.login_ended: Ended | None = None
        self.services = services
        self.logins = logins
        self.links = links  # the worker's clock for link watches
        self.hub = services.hub
        self.outbox: asyncio.Queue[str | _Close] = asyncio.Queue(OUTBOX_LIMIT)
        self.session_id: str | None = None
        self.role: str | None = None
        self.peer_conn: str | None = None
        self.eligible: set[int] = set()
        self.eligible_until = datetime.min.replace(tzinfo=utc_now().tzinfo)
        self.closing = False
        self._paging_task: asyncio.Task[None] | None = None
        self.link: LinkWatch | None = None
        self.monitored = False  # the session's facility has the media monitor on
        self._link_session: str | None = None  # the session the watch is of
        self._telling: asyncio.Task[None] | None = None  # a link change being recorded, then told
        self._evidence_live: bool | None = None  # as last noted
        self._evidence_at = 0.0
        self._paging_again = False
        settings = services.settings
        self.budget = MessageBudget(
            settings.socket_messages_per_s, settings.socket_messages_burst, time.monotonic()
        )
        self._announced = False  # heard its own ``socket_opened`` back from the bus
        self._newer: set[str] = set()  # later sockets of the same login, still open
        # ``ack`` tokens of alerts handed to this page, oldest first: only these may be confirmed.
        self._alert_acks: dict[str, None] = {}

    # --- outgoing ----------------------------------------------------------------------------

    def send(self, message: Outbound) -> None:
        self._put(serialise(message))

    def close(self, code: CloseCode, reason: str) -> None:
        if not self.closing:
            self.closing = True
            with contextlib.suppress(asyncio.QueueFull):
                self.outbox.put_nowait(_Close(code, reason))

    def _put(self, item: str) -> None:
        if self.closing:
            return
        try:
            self.outbox.put_nowait(item)
        except asyncio.QueueFull:
            log.warning("socket %s: outbox full, closing", self.id)
            self.closing = True
            self.outbox = asyncio.Queue(1)
            self.outbox.put_nowait(_Close(CloseCode.BACKLOG, "too many unread messages"))

    async def write_loop(self) -> None:
        while True:
            item = await self.outbox.get()
            if isinstance(item, _Close):
                with contextlib.suppress(Exception):
                    await self.ws.close(int(item.code), item.reason)
                return
            await self.ws.send_text(item)

    # --- bus -> this socket ------------------------------------------------------------------

    async def on_room(self, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        sender = message.get("conn")
        if kind == "takeover" and sender != self.id:
            # The newer socket is the participant now: leave quietly (no ``bye`` to the peer).
            if self.session_id is not None and self.role is not None:
                self.hub.leave_room(self.session_id, self.role, self)
            self.session_id, self.peer_conn = None, None
            self.close(CloseCode.REPLACED, "you joined this session from another window")
        elif kind in ("hello", "hello_ack") and sender != self.peer_conn:
            self.peer_conn = sender
            assert self.role is not None
            self.send(PeerJoined(role=other(self.role), resume=bool(message.get("resume"))))
            if kind == "hello" and self.session_id:
                await self.hub.to_participant(
                    self.session_id, other(self.role), {"kind": "hello_ack", "conn": self.id}
                )
        elif kind == "bye" and sender is not None and sender == self.peer_conn:
            self.peer_conn = None
            assert self.role is not None
            self.send(PeerLeft(role=other(self.role)))
            if self.link is not None:
                self.link.left(other(self.role))
                self.links.poke(self)
        elif kind == "stats" and self.session_id is not None:
            if self.link is None:
                self.link, self._link_session = LinkWatch(monitored=self.monitored), self.session_id
            self.link.report(message["from"], message["report"])
            self.links.poke(self)
        elif kind == "evidence" and self.link is not None:
            # Before the first stats the watch has not started: the next evidence is a second away.
            self.link.server(message["from"], message)
            self.links.poke(self)
        elif kind == "relay":
            self._put(message["frame"])
        elif kind == "session":
            self.send(SessionUpdate(session=message["session"]))
        elif kind == "reaction_alert" and self.role == "radiologist":
            self.send_reaction_alert(message)
        elif kind == "paging_changed":
            self.refresh_paging(message["session_id"])
        elif kind == "record_changed" and self.session_id is not None:
            self.send(RecordChanged(session_id=self.session_id))

    def send_reaction_alert(self, message: dict[str, Any]) -> None:
        """A reaction in this radiologist's session (published by the record): over the call, until
        acknowledged. A malformed one is logged, never half-shown."""
        fields = ("session_id", "seq", "onset_at", "severity", "reported_by")
        try:
            alert = ReactionAlert.model_validate({f: message.get(f) for f in fields})
        except ValidationError as exc:
            log.error("socket %s: a reaction_alert that cannot be shown: %s", self.id, exc)
            return
        if alert.session_id == self.session_id:
            self.send(alert)

    def refresh_paging(self, session_id: str) -> None:
        """Send this participant the paging summary, read now. One read at a time per socket;
        changes that arrive meanwhile are covered by one more read after it (latest state wins)."""
        if self._paging_task is not None and not self._paging_task.done():
            self._paging_again = True
            return
        self._paging_again = False
        self._paging_task = asyncio.create_task(self._send_paging(session_id))

    async def _send_paging(self, session_id: str) -> None:
        while True:
            try:
                async with self.services.db() as db:
                    summary = await paging_summary(db, session_id)
            except Exception:
                log.exception("socket %s: reading the paging summary failed", self.id)
                return
            if self.session_id == session_id:
                self.send(PagingUpdate(session_id=session_id, paging=summary))
            if not self._paging_again:
                return
            self._paging_again = False

    def on_user(self, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        if kind == LOGIN_ENDED and self.login_id in message["logins"]:
            self.end_login(Ended(message["reason"]))
        elif kind in (SOCKET_OPENED, SOCKET_CLOSED) and message.get("login") == self.login_id:
            self._census(kind, message["conn"])
        elif kind == "page":
            self.send(
                Paged(
                    session_id=message["session_id"],
                    tier=message["tier"],
                    stat=bool(message.get("stat")),
                    facility=message.get("facility"),
                    room=message.get("room"),
                )
            )
        elif kind == "covered":
            self.send(Covered(session_id=message["session_id"], by=message["by"]))
        elif kind == "alert":
            self.send_supervisor_alert(message)

    def send_supervisor_alert(self, message: dict[str, Any]) -> None:
        """Hand a supervisors' alert to this page with its ``ack`` token; the page's
        ``alert_shown`` confirms it (``confirm_alert``). A malformed one is logged, never shown."""
        fields = ("session_id", "alert", "round", "facility", "room", "ack")
        try:
            alert = SupervisorAlert.model_validate(
                {f: message[f] for f in fields if message.get(f) is not None}
            )
        except ValidationError as exc:
            log.error("socket %s: a supervisor_alert that cannot be shown: %s", self.id, exc)
            return
        if alert.ack is not None:
            self._alert_acks[alert.ack] = None
            while len(self._alert_acks) > ALERT_ACKS_KEPT:
                del self._alert_acks[next(iter(self._alert_acks))]
        self.send(alert)

    async def confirm_alert(self, token: str) -> None:
        """The page showed an alert this socket handed it: the alert is delivered. A token this
        socket never handed out (or already confirmed) confirms nothing."""
        if token in self._alert_acks:
            del self._alert_acks[token]
            await self.hub.confirm(token)

    def on_lobby(self, message: dict[str, Any]) -> None:
        if message.get("facility_id") not in self.eligible:
            return
        if message["kind"] == "request_opened":
            self.send(RequestOpened(request=message["request"]))
        elif message["kind"] == "request_closed":
            self.send(RequestClosed(session_id=message["session_id"], reason=message["reason"]))

    def end_login(self, why: Ended) -> None:
        """The login this socket holds has ended: stop watching the link, close with ``why``."""
        if self.login_ended is not None:
            return
        self.login_ended = why
        log.info("socket %s: login %s ended (%s)", self.id, self.login_id, why.value)
        self._stop_link()
        self.close(*LOGIN_ENDED_CLOSE[why])

    async def login_stands(self) -> bool:
        """Whether the login still stands, judged before each message: ended as this worker
        heard, or past its expiry as last read (then read again: it may have been used since)."""
        if self.login_ended is None and self.hub.has_ended(self.login_id):
            self.end_login(Ended.LOGGED_OUT)
        if self.login_ended is not None:
            return False
        if utc_now() >= self.login_expires_at:
            await self.logins.recheck([self.login_id])
        return self.login_ended is None

    def _census(self, kind: str, conn: str) -> None:
        """Count this login's sockets opened after this one (the bus keeps one order for all);
        once ``sockets_per_login`` of them are open, this one is the oldest over the limit."""
        if conn == self.id:
            self._announced = self._announced or kind == SOCKET_OPENED
            return
        if kind == SOCKET_CLOSED:
            self._newer.discard(conn)
            return
        if not self._announced:
            return  # opened before this one
        self._newer.add(conn)
        limit = self.services.settings.sockets_per_login
        if len(self._newer) >= limit:
            self.close(
                CloseCode.TOO_MANY_SOCKETS,
                f"this login opened more than {limit} sockets; the oldest (this one) closed",
            )

    async def announce(self, kind: str) -> None:
        """Tell this login's other sockets, on every worker, that this one opened or closed."""
        message = {"kind": kind, "login": self.login_id, "conn": self.id}
        try:
            await self.hub.to_user(self.principal.id, message)
        except BusUnavailable:
            log.warning("socket %s: bus unavailable, sockets of its login not counted", self.id)

    async def refresh_eligibility(self) -> None:
        now = utc_now()
        async with self.services.db() as db:
            self.eligible = await eligible_facility_ids(db, self.principal.id, now)
        self.eligible_until = now + ELIGIBILITY_REFRESH

    # --- this socket -> server ---------------------------------------------------------------

    async def handle(self, message: Inbound) -> None:
        if isinstance(message, Ping):
            self.send(Pong())
        elif isinstance(message, AlertShown):
            await self.confirm_alert(message.ack)
        elif isinstance(message, Join):
            await self.join(message.session_id, resume=message.resume)
        elif self.session_id is None or self.role is None:
            raise ProtocolError("not_joined", f"join a session before sending {message.type}")
        elif isinstance(message, Offer | Answer | Candidate):
            # relayed as sent: fields the sender left out stay out
            frame = message.model_dump(exclude_unset=True) | {"from": self.role}
            await self.hub.to_participant(
                self.session_id,
                other(self.role),
                {"kind": "relay", "conn": self.id, "login": self.login_id, "frame": _json(frame)},
            )
        elif isinstance(message, IceState):
            await self.ice_state(message.state)
        elif isinstance(message, MediaState):
            await self.media_state(message.video, message.audio)
        elif isinstance(message, Stats):
            await self.hub.to_session(
                self.session_id,
                {
                    "kind": "stats",
                    "login": self.login_id,
                    "from": self.role,
                    "report": message.model_dump(exclude={"type"}),
                },
            )
        elif isinstance(message, Leave):
            await self.leave_room()

    async def join(self, session_id: str, *, resume: bool = False) -> None:
        now = utc_now()
        async with self.services.db() as db:
            try:
                s = await supervision.visible_session(db, self.principal, session_id, now)
            except StandbyError:
                raise ProtocolError(
                    "forbidden", f"session {session_id} does not exist or you may not see it"
                ) from None
            role = supervision.participant_role(s, self.principal)
            if role is None:
                if self.principal.has(Role.RADIOLOGIST) and s.radiologist_id is None:
                    raise ProtocolError(
                        "not_accepted",
                        "join the request first (POST /api/sessions/{id}/join), then connect",
                    )
                raise ProtocolError("forbidden", "you are not a participant of this session")
            if s.state == SessionState.ENDED:
                raise ProtocolError("session_ended", f"session {session_id} has ended")
            body = supervision.session_json(s, with_accession=True)
            monitored = s.facility.monitor_media
            unanswered = (
                await record_store.unanswered_reactions(db, s, now) if role == "radiologist" else ()
            )
        if self.session_id is not None:
            await self.leave_room()
        self.session_id, self.role, self.peer_conn = session_id, role, None
        self.monitored = monitored
        await self.hub.to_participant(session_id, role, {"kind": "takeover", "conn": self.id})
        self.hub.enter_room(session_id, role, self)
        self.send(
            Joined(
                session=body, role=role, ice_servers=self.services.ice_servers(self.principal.id)
            )
        )
        await self.hub.to_participant(
            session_id, other(role), {"kind": "hello", "conn": self.id, "resume": resume}
        )
        for reaction in unanswered:  # the alert at onset may have found this page's socket down
            self.send(
                ReactionAlert(
                    session_id=session_id,
                    seq=reaction.seq,
                    onset_at=reaction.onset_at,
                    severity=reaction.severity.value if reaction.severity else None,
                    reported_by=reaction.reported_by.name,
                )
            )
        log.info(
            "socket %s: user %s joined session %s as %s",
            self.id,
            self.principal.id,
            session_id,
            role,
        )

    def tick_link(self, now: float) -> float:
        """The worker's ticker runs this when the watch is due (``link_watch.LinkTicker``): tell
        this page the link's state on a change (and every few seconds); the technologist's socket
        also records each change; every socket tells the server's re-page rule what it sees of the
        radiologist's media. Returns when it must run next without new evidence."""
        link, session_id = self.link, self._link_session
        if link is None or session_id is None or self.session_id != session_id:
            return math.inf
        told = link.tick()
        if told is not None:
            views, verified, changed = told
            message = Link(session_id=session_id, directions=views, verified=verified)
            detail = None
            if changed and self.role == "technologist":
                detail = describe(views, verified, link.monitored)
            self._tell_link(session_id, message, detail)
        self._report_radiologist(session_id, live=not link.gone("radiologist"))
        every = radiologist_watch.evidence_every(self.services.settings.repage_after_s)
        return min(link.next_due(), self._evidence_at + every)

    def _tell_link(self, session_id: str, message: Link, detail: str | None) -> None:
        """Send the page the link's state; a change the technologist's socket sees is recorded
        first. Its own task, which leaving the session does not cancel, so no record is lost;
        later states wait behind it, so the page hears them in order."""
        prior = self._telling
        if detail is None and (prior is None or prior.done()):
            self.send(message)
            return
        self._telling = asyncio.create_task(
            self._record_then_tell(prior, session_id, message, detail)
        )

    async def _record_then_tell(
        self,
        prior: asyncio.Task[None] | None,
        session_id: str,
        message: Link,
        detail: str | None,
    ) -> None:
        if prior is not None:
            with contextlib.suppress(Exception):
                await prior
        if detail is not None:
            await self._record_link(session_id, detail)
        if self.session_id == session_id:
            self.send(message)

    def _report_radiologist(self, session_id: str, *, live: bool) -> None:
        """Note the evidence on a change and every ``evidence_every`` otherwise; the worker's
        book writes it for all its sockets at once (a slow database never holds up the page)."""
        now = time.monotonic()
        every = radiologist_watch.evidence_every(self.services.settings.repage_after_s)
        if live == self._evidence_live and now - self._evidence_at < every:
            return
        self._evidence_live, self._evidence_at = live, now
        self.services.evidence.note(session_id, live, utc_now())

    async def _record_link(self, session_id: str, detail: str) -> None:
        try:
            async with self.services.db() as db, db.begin():
                await call_record.record_link(db, session_id, detail, utc_now(), self.principal)
        except Exception:
            log.exception("socket %s: recording the link state failed", self.id)

    def _stop_link(self) -> None:
        self.links.remove(self)
        self.link, self._link_session, self._evidence_live = None, None, None

    async def leave_room(self) -> None:
        self._stop_link()
        if self.session_id is None or self.role is None:
            return
        session_id, role = self.session_id, self.role
        self.hub.leave_room(session_id, role, self)
        self.session_id, self.peer_conn = None, None
        await self.hub.to_participant(session_id, other(role), {"kind": "bye", "conn": self.id})
        # This participant's media monitor, on whichever worker, closes (the page re-offers when
        # it joins again).
        await self.hub.to_participant(
            session_id, role, {"kind": "participant_left", "user_id": self.principal.id}
        )

    async def ice_state(self, state: str) -> None:
        assert self.session_id is not None
        now = utc_now()
        async with self.services.db() as db, db.begin():
            s = await supervision.visible_session(db, self.principal, self.session_id, now)
            first = await call_record.record_ice(db, s, self.principal, state, now)
        if first:
            await self._announce(self.session_id)

    async def media_state(self, video: bool, audio: bool) -> None:
        assert self.session_id is not None
        now = utc_now()
        async with self.services.db() as db:
            async with db.begin():
                s = await supervision.visible_session(db, self.principal, self.session_id, now)
                stored = await call_record.record_media(db, s, self.principal, video, audio, now)
            if not stored:
                return
            async with db.begin():
                joined = await call_record.try_join(db, self.session_id, utc_now(), self.principal)
        if joined is not None:
            await notices.session_changed(self.hub, joined)

    async def _announce(self, session_id: str) -> None:
        async with self.services.db() as db:
            s = await supervision.visible_session(db, self.principal, session_id, utc_now())
        await notices.session_changed(self.hub, s)

    async def enter_lobby(self) -> None:
        await self.refresh_eligibility()
        self.hub.enter_lobby(self)
        async with self.services.db() as db:
            items = await supervision.open_requests(db, self.principal, utc_now())
            self.send(
                Requests(items=[supervision.session_json(s, with_accession=False) for s in items])
            )

    async def keep_eligibility_fresh(self) -> None:
        while True:
            await asyncio.sleep(ELIGIBILITY_REFRESH.total_seconds())
            await self.refresh_eligibility()


def _json(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"))


async def endpoint(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    if not origin_allowed(websocket, services):
        await _refuse(
            websocket, CloseCode.FORBIDDEN_ORIGIN, "forbidden_origin", "this page is not ours"
        )
        return
    login = await services.login_for(websocket.cookies.get(services.settings.cookie_name))
    if login is None:
        await _refuse(websocket, CloseCode.UNAUTHENTICATED, "unauthenticated", "log in first")
        return
    principal = login.principal
    await websocket.accept()
    logins: LoginCheck = websocket.app.state.login_check
    conn = Connection(websocket, login, services, logins, websocket.app.state.links)
    writer = asyncio.create_task(conn.write_loop(), name=f"ws-writer-{conn.id}")
    helpers: list[asyncio.Task[None]] = []
    services.hub.enter_user(principal.id, conn)
    logins.add(conn)
    try:
        await conn.announce(SOCKET_OPENED)
        conn.send(Hello(user=principal.public()))
        if principal.has(Role.RADIOLOGIST):
            await conn.enter_lobby()
            helpers.append(asyncio.create_task(conn.keep_eligibility_fresh()))
        await _read_loop(conn)
    finally:
        logins.remove(conn)
        services.hub.leave_user(principal.id, conn)
        services.hub.leave_lobby(conn)
        try:
            await conn.leave_room()
        except BusUnavailable:
            # The rest of the clean-up must run (its writer and helpers would live on); the peer's
            # link watch sees this side gone without the "bye".
            log.warning("socket %s: bus unavailable, the session is not told it left", conn.id)
        await conn.announce(SOCKET_CLOSED)
        for task in helpers:
            task.cancel()
        if not conn.closing and websocket.application_state == WebSocketState.CONNECTED:
            conn.close(CloseCode.NORMAL, "bye")
        try:
            await asyncio.wait_for(writer, timeout=2)
        except (TimeoutError, Exception):
            writer.cancel()


async def _read_loop(conn: Connection) -> None:
    while True:
        try:
            raw = await conn.ws.receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if raw["type"] == "websocket.disconnect" or conn.closing:
            return
        verdict = conn.budget.spend(time.monotonic())
        if verdict is Verdict.FLOODING:
            conn.send(
                Error(code="rate_limited", message=f"kept sending over {conn.budget.describe()}")
            )
            conn.close(CloseCode.RATE_LIMITED, "rate limited: kept flooding")
            return
        if verdict is Verdict.REFUSED:
            conn.send(
                Error(
                    code="rate_limited",
                    message=f"not handled: send {conn.budget.describe()}; slow down and resend",
                )
            )
            continue
        if not await conn.login_stands():
            return
        try:
            if raw.get("text") is None:
                raise ProtocolError("binary_not_supported", "send JSON text frames, not binary")
            await conn.handle(parse(raw["text"]))
        except (ProtocolError, StandbyError) as exc:
            conn.send(Error(code=exc.code, message=exc.message))


async def _refuse(websocket: WebSocket, code: CloseCode, error: str, message: str) -> None:
    await websocket.accept()
    await websocket.send_text(serialise(Error(code=error, message=message)))
    await websocket.close(int(code), message)
