"""A synthetic Standby participant: the signaling protocol as a client, real WebRTC media via aiortc.

``Participant`` is what a technologist's or a radiologist's page does, without a browser: it opens
the ``/ws`` socket with a login cookie, joins a session, negotiates a peer connection carrying a
synthetic camera and microphone (``media.synthetic``), drains and counts what the other side sends,
and reports ``ice_state`` and ``media_state`` to the server the way the pages do. Tests, the join
latency benchmark and deployment probes all use it. It speaks plain JSON (docs/protocol.md) and
imports nothing from the server.

Negotiation follows the protocol: the technologist offers on ``peer_joined``, always from a new
``RTCPeerConnection``; the radiologist answers each ``offer`` from a new one. aiortc gathers every
candidate before ``setLocalDescription`` returns, so the SDP sent carries them all; ``candidate``
messages from a trickling peer (a browser) are added too.

Usage::

    async with Participant(ws_url, "standby_session=...", "technologist", ice_servers=[]) as p:
        await p.join(session_id)
        await p.wait_for_media()
        await p.wait_for_state("joined")
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import candidate_from_sdp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from media.synthetic import SyntheticAudioTrack, SyntheticVideoTrack

log = logging.getLogger(__name__)

TECHNOLOGIST, RADIOLOGIST = "technologist", "radiologist"
KINDS = ("audio", "video")
ABNORMAL_CLOSURE = 1006
_STOP = object()  # tells the negotiator to close the peer connection and return

Message = dict[str, Any]


class ParticipantError(Exception):
    """The server refused what the participant asked for (an ``error`` reply, a wrong role)."""


class ParticipantClosed(ParticipantError):
    """The signaling socket closed while the participant was waiting for something else."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def ice_configuration(servers: Sequence[Mapping[str, Any]]) -> RTCConfiguration:
    """An explicit ``RTCConfiguration`` from protocol ``ice_servers`` entries.

    Always explicit: aiortc given no ``iceServers`` falls back to a public STUN server, which costs
    seconds of gathering and reaches outside the deployment.
    """
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(
                urls=list(s["urls"]) if not isinstance(s["urls"], str) else s["urls"],
                username=s.get("username"),
                credential=s.get("credential"),
            )
            for s in servers
        ]
    )


class Participant:
    """One synthetic participant page: a signaling socket and, once negotiated, a peer connection.

    State for callers (read-only): ``messages`` (every server message, in order), ``session`` (the
    latest session object), ``ice_state``, ``frames_received`` (remote frames per kind on the current
    peer connection), ``connections`` (peer connections built), ``media_reported``, ``close_code``
    and ``marks`` (``time.perf_counter()`` of milestones on the current peer connection).
    """

    def __init__(
        self,
        ws_url: str,
        cookie: str,
        role: str,
        *,
        ice_servers: Sequence[Mapping[str, Any]] | None = None,
        origin: str | None = None,
        video_fps: float = 15.0,
        open_timeout: float = 10.0,
        name: str | None = None,
    ) -> None:
        """``cookie`` is a Cookie header value (``standby_session=<token>``). ``ice_servers`` None
        means: use the ones the server sends in ``joined``."""
        if role not in (TECHNOLOGIST, RADIOLOGIST):
            raise ValueError(f"role must be {TECHNOLOGIST!r} or {RADIOLOGIST!r}, got {role!r}")
        self.ws_url, self.role, self.name = ws_url, role, name or role
        self._cookie, self._origin = cookie, origin
        self._ice_servers = list(ice_servers) if ice_servers is not None else None
        self._video_fps, self._open_timeout = video_fps, open_timeout

        self.messages: list[Message] = []
        self.user: Message | None = None
        self.session: Message | None = None
        self.session_id: str | None = None
        self.peer_present = False
        self.ice_state = "new"
        self.frames_received: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.connections = 0
        self.media_reported = False
        self.close_code: int | None = None
        self.marks: dict[str, float] = {}

        self._ws: ClientConnection | None = None
        self._pc: RTCPeerConnection | None = None
        self._local_tracks: list[MediaStreamTrack] = []
        self._drains: list[tuple[RTCPeerConnection, asyncio.Task[None]]] = []
        self._inbox: asyncio.Queue[Message | object] = asyncio.Queue()
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._changed = asyncio.Event()
        self._closed = False

    # --- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Participant:
        await self.connect()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def connect(self) -> Message:
        """Open the socket and wait for ``hello``; returns it."""
        headers = {"cookie": self._cookie}
        if self._origin:
            headers["origin"] = self._origin
        self._ws = await connect(
            self.ws_url,
            additional_headers=headers,
            open_timeout=self._open_timeout,
            max_size=2**20,
        )
        for coro, what in (
            (self._read(), "reader"),
            (self._write(), "writer"),
            (self._negotiate(), "negotiator"),
        ):
            self._tasks.append(asyncio.create_task(coro, name=f"participant-{self.name}-{what}"))
        try:
            hello = await self.wait_for_message("hello", timeout=self._open_timeout)
        except BaseException:
            await self.close()
            raise
        self.user = hello["user"]
        return hello

    async def close(self) -> None:
        """Close the peer connection, stop every task, close the socket. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._inbox.put_nowait(_STOP)
        reader, writer, negotiator = self._tasks if self._tasks else (None, None, None)
        if negotiator is not None:
            try:
                await asyncio.wait_for(asyncio.shield(negotiator), 10)
            except TimeoutError:
                log.warning("%s: negotiator did not stop; cancelling it", self.name)
                await _cancel(negotiator)
        await self._close_pc()
        if self._ws is not None:
            if self.close_code is None:  # let queued messages (a last ``leave``) go out first
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._outbox.join(), 2)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 5)
        for task in (writer, reader):
            if task is not None:
                await _cancel(task)
        self._notify()

    # --- waiting ----------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
        """Return once ``predicate()`` holds; ``TimeoutError`` after ``timeout`` seconds,
        ``ParticipantClosed`` if the socket closes first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if self.close_code is not None:
                raise ParticipantClosed(
                    f"{self.name}: socket closed ({self.close_code}) while waiting for {what}; "
                    f"{self.describe()}",
                    self.close_code,
                )
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"{self.name}: no {what} within {timeout} s; {self.describe()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def wait_for_message(self, kind: str, *, since: int = 0, timeout: float = 10) -> Message:
        """The first server message of type ``kind`` at or after index ``since`` of ``messages``."""
        found: list[Message] = []

        def arrived() -> bool:
            found.extend(m for m in self.messages[since:] if m.get("type") == kind)
            return bool(found)

        await self.wait_for(arrived, timeout=timeout, what=f"{kind!r} message")
        return found[0]

    async def wait_for_state(self, state: str, *, timeout: float = 10) -> Message:
        """The session object once the server reports it in ``state``."""
        await self.wait_for(
            lambda: self.session is not None and self.session.get("state") == state,
            timeout=timeout,
            what=f"session state {state!r}",
        )
        assert self.session is not None
        return self.session

    async def wait_for_media(self, *, frames: int = 1, timeout: float = 10) -> None:
        """Wait until at least ``frames`` remote frames of each kind arrived on the current pc."""
        await self.wait_for(
            lambda: all(self.frames_received[k] >= frames for k in KINDS),
            timeout=timeout,
            what=f"{frames} remote frame(s) of each kind",
        )

    async def wait_closed(self, *, timeout: float = 10) -> int:
        """The close code once the server has closed the socket."""
        await self.wait_for(
            lambda: self.close_code is not None, timeout=timeout, what="the socket to close"
        )
        assert self.close_code is not None
        return self.close_code

    def describe(self) -> str:
        """A one-line state summary for failure messages (no SDP, no accession numbers)."""
        state = self.session.get("state") if self.session else None
        kinds = [str(m.get("type")) for m in self.messages[-15:]]
        return (
            f"session={state} ice={self.ice_state} frames={self.frames_received} "
            f"connections={self.connections} media_reported={self.media_reported} "
            f"close={self.close_code} last messages={kinds}"
        )

    # --- signaling ---------------------------------------------------------------------------

    def send(self, message: Message) -> None:
        """Queue one message for the server (sent in order by the writer task)."""
        self._outbox.put_nowait(json.dumps(message, separators=(",", ":")))

    async def join(self, session_id: str, *, timeout: float = 10) -> Message:
        """Join ``session_id``'s room; returns the ``joined`` message or raises on an ``error``."""
        since = len(self.messages)
        self.send({"type": "join", "session_id": session_id})

        def answered() -> bool:
            return any(m.get("type") in ("joined", "error") for m in self.messages[since:])

        await self.wait_for(answered, timeout=timeout, what="'joined'")
        reply = next(m for m in self.messages[since:] if m.get("type") in ("joined", "error"))
        if reply["type"] == "error":
            raise ParticipantError(
                f"{self.name}: join refused: {reply['code']}: {reply['message']}"
            )
        if reply["role"] != self.role:
            raise ParticipantError(f"{self.name}: joined as {reply['role']}, expected {self.role}")
        self.marks["joined"] = time.perf_counter()
        return reply

    def leave(self) -> None:
        self.send({"type": "leave"})

    async def _write(self) -> None:
        assert self._ws is not None
        while True:
            text = await self._outbox.get()
            try:
                await self._ws.send(text)
            except ConnectionClosed:
                log.debug("%s: socket closed; dropping a queued message", self.name)
            finally:
                self._outbox.task_done()

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            while True:
                raw = await self._ws.recv()
                try:
                    message = json.loads(raw)
                except (TypeError, ValueError):
                    log.warning("%s: ignoring a frame that is not JSON", self.name)
                    continue
                if isinstance(message, dict):
                    self._on_message(message)
        except ConnectionClosed as exc:
            self.close_code = exc.rcvd.code if exc.rcvd is not None else ABNORMAL_CLOSURE
            if not self._closed:
                log.info("%s: socket closed by the server (%s)", self.name, self.close_code)
                self._inbox.put_nowait(_STOP)
            self._notify()

    def _on_message(self, message: Message) -> None:
        kind = message.get("type")
        self.messages.append(message)
        if kind in ("joined", "session"):
            self.session = message["session"]
            if kind == "joined":
                self.session_id = message["session"]["id"]
                if self._ice_servers is None:
                    self._ice_servers = list(message.get("ice_servers") or [])
        elif kind == "peer_joined":
            self.peer_present = True
            self._inbox.put_nowait(message)
        elif kind == "peer_left":
            self.peer_present = False
            self._inbox.put_nowait(message)
        elif kind in ("offer", "answer", "candidate"):
            self._inbox.put_nowait(message)
        elif kind == "error":
            log.warning(
                "%s: server error %s: %s", self.name, message.get("code"), message.get("message")
            )
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # --- negotiation (one task owns the peer connection) --------------------------------------

    async def _negotiate(self) -> None:
        while True:
            item = await self._inbox.get()
            if item is _STOP:
                await self._close_pc()
                return
            if self._closed or not isinstance(item, dict):
                continue
            try:
                await self._handle(item)
            except Exception:
                log.exception("%s: could not handle %s", self.name, item.get("type"))

    async def _handle(self, message: Message) -> None:
        kind = message["type"]
        if kind == "peer_joined":
            if self.role == TECHNOLOGIST:
                await self._offer()
        elif kind == "peer_left":
            log.info("%s: peer left; closing the peer connection", self.name)
            await self._close_pc()
        elif kind == "offer" and self.role == RADIOLOGIST:
            await self._answer(message["sdp"])
        elif kind == "answer" and self.role == TECHNOLOGIST:
            pc = self._pc
            if pc is None or pc.signalingState != "have-local-offer":
                log.info("%s: ignoring an answer to an offer that is no longer current", self.name)
                return
            await pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="answer"))
            self.marks["answer_applied"] = time.perf_counter()
        elif kind == "candidate":
            await self._add_candidate(message)
        else:
            log.info("%s: ignoring %s (not for a %s)", self.name, kind, self.role)

    async def _offer(self) -> None:
        pc = await self._new_pc()
        for track in self._make_tracks():
            pc.addTrack(track)
        await pc.setLocalDescription(await pc.createOffer())
        assert pc.localDescription is not None
        self.send({"type": "offer", "sdp": pc.localDescription.sdp})
        self.marks["offer_sent"] = time.perf_counter()

    async def _answer(self, sdp: str) -> None:
        pc = await self._new_pc()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        for track in self._make_tracks():
            pc.addTrack(track)
        await pc.setLocalDescription(await pc.createAnswer())
        assert pc.localDescription is not None
        self.send({"type": "answer", "sdp": pc.localDescription.sdp})
        self.marks["answer_sent"] = time.perf_counter()

    async def _add_candidate(self, message: Message) -> None:
        pc, line = self._pc, message.get("candidate")
        if pc is None or not line or pc.remoteDescription is None:
            return  # end of candidates, or nothing to add them to
        candidate = candidate_from_sdp(line.removeprefix("candidate:"))
        candidate.sdpMid = message.get("sdp_mid")
        candidate.sdpMLineIndex = message.get("sdp_mline_index")
        await pc.addIceCandidate(candidate)

    def _make_tracks(self) -> list[MediaStreamTrack]:
        tracks: list[MediaStreamTrack] = [
            SyntheticAudioTrack(),
            SyntheticVideoTrack(fps=self._video_fps, label=self.name),
        ]
        self._local_tracks.extend(tracks)
        return tracks

    async def _new_pc(self) -> RTCPeerConnection:
        await self._close_pc()
        pc = RTCPeerConnection(ice_configuration(self._ice_servers or []))
        self._pc = pc
        self.connections += 1
        self.frames_received = dict.fromkeys(KINDS, 0)
        self.media_reported = False
        self.ice_state = "new"
        self.marks = {k: v for k, v in self.marks.items() if k == "joined"}
        self.marks["pc_created"] = time.perf_counter()

        def on_ice_state() -> None:
            if pc is not self._pc:
                return
            self.ice_state = pc.iceConnectionState
            self.marks.setdefault(f"ice_{self.ice_state}", time.perf_counter())
            self.send({"type": "ice_state", "state": self.ice_state})
            self._notify()

        def on_track(track: MediaStreamTrack) -> None:
            task = asyncio.create_task(
                self._drain(pc, track), name=f"participant-{self.name}-drain-{track.kind}"
            )
            self._drains.append((pc, task))

        pc.on("iceconnectionstatechange", on_ice_state)
        pc.on("track", on_track)
        log.info("%s: new peer connection #%d", self.name, self.connections)
        return pc

    async def _close_pc(self) -> None:
        pc, self._pc = self._pc, None
        tracks, self._local_tracks = self._local_tracks, []
        if pc is None:
            return
        try:
            await pc.close()
        finally:
            for track in tracks:
                track.stop()
            drains = [task for owner, task in self._drains if owner is pc]
            self._drains = [(owner, task) for owner, task in self._drains if owner is not pc]
            for task in drains:
                await _cancel(task)

    async def _drain(self, pc: RTCPeerConnection, track: MediaStreamTrack) -> None:
        """Receive every remote frame until the track ends: aiortc queues them without limit."""
        kind = track.kind
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            if pc is not self._pc:
                continue
            self.frames_received[kind] += 1
            if self.frames_received[kind] == 1:
                self.marks[f"first_{kind}"] = time.perf_counter()
                log.info("%s: first remote %s frame", self.name, kind)
                if not self.media_reported and all(self.frames_received[k] for k in KINDS):
                    self.media_reported = True
                    self.marks["media_reported"] = time.perf_counter()
                    self.send({"type": "media_state", "video": True, "audio": True})
            self._notify()


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait for it; a cancellation of the caller still propagates."""
    task.cancel()
    (outcome,) = await asyncio.gather(task, return_exceptions=True)
    if isinstance(outcome, Exception):
        log.warning("task %s failed: %r", task.get_name(), outcome)
