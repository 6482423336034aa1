"""The server's own eyes and ears on one participant's outgoing camera and microphone.

Each page sends the server a small copy of what it sends the other person (downscaled video at
about one frame a second, and its microphone). ``MediaMonitor`` is the aiortc peer that receives
that copy: it answers the page's offer, drains every frame of every track, judges a video sample
about once a second and audio in one-second windows with ``media.analysis`` (in a thread pool, never
on the event loop), and reports an ``Evidence`` per kind through a callback about once a second.
A watchdog of its own reports a kind ``lost`` when no frame of it has arrived for its
``lost_after``, every kind at once when nothing at all has arrived for ``link_lost_after`` (the
transport is gone: ~1.1 s), and a kind at once when the sender ends its track. aiortc itself
notices a dead peer only after ~30 s.

Usage::

    monitor = MediaMonitor(ice_servers=[...], on_evidence=record)
    allowed = await allowed_peers(client_ip, ice_servers, relay_only=False)  # media.candidates
    answer_sdp = await monitor.accept_offer(offer_sdp, allowed)
    await monitor.add_candidate(line, sdp_mid="0")   # only if the page trickles its candidates
    ...
    await monitor.close()

Candidates: aiortc gathers all of its own candidates before answering, so the answer carries them
and the server never trickles. A page may either wait for ICE gathering to complete before sending
its offer (simplest; host candidates take milliseconds) or trickle its candidates to
``add_candidate``; both work. A new offer (the page reconnected, or restarts ICE) is answered from a
fresh peer connection while the evidence, the watchdog and the latest state carry on. Only the
candidates ``allowed`` allows reach aiortc (``media.candidates``): the server sends connectivity
checks to the page's own address or the TURN relay, nowhere else a page might name.

Opus DTX (no packets during silence) would make a silent microphone look lost; the answer aiortc
writes does not ask for ``usedtx``, so browsers keep sending 50 packets a second.

aiortc hands a video frame over only when the next frame starts arriving: at one frame a second,
what the video evidence says is about a second old, and the last frame before a stop is never seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import SessionDescription, candidate_from_sdp

from media.analysis import (
    AudioReading,
    AudioVerdict,
    VideoJudge,
    VideoReading,
    VideoVerdict,
    judge_audio,
)
from media.candidates import AllowedPeers, Judged, judge, screen_offer
from media.participant import ice_configuration

log = logging.getLogger(__name__)

# One video sample and one audio window about every second: the evidence's cadence.
SAMPLE_INTERVAL = 1.0
# A frame arriving up to this fraction of an interval before its sample is due is still sampled:
# a 1 fps sender's frames arrive a little early or late, and waiting for the next one would leave a
# 2 s hole. (At 15 fps this samples every ~0.8 s: still "about once a second".)
SAMPLE_EARLY = 0.25
# No frame of a kind for this long and that kind is lost. Audio comes in 20 ms packets, 50 a
# second: a second without one is no jitter. Video comes at ~1 frame a second, and aiortc hands a
# frame over only when the next one starts arriving, so the sender's own hiccups show in full. At
# 1.5 s a loaded two-core machine (bench/monitor_cost.py, 5 to 20 sessions) showed a false video
# loss every one to five minutes per session; at 2.5 s, none.
LOST_AFTER: Mapping[str, float] = {"video": 2.5, "audio": 1.0}
# When a kind is lost and every other expected kind has been silent this long too, the whole
# transport is gone: they are all reported lost together, without waiting for video's longer
# threshold. With audio in the copy, a dead link is reported within LINK_LOST_AFTER +
# WATCHDOG_PERIOD (~1.1 s) of the last packet; a video-only copy takes video's 2.5 s.
LINK_LOST_AFTER = 1.0
# Until the first frame of a kind: ICE and DTLS (through a TURN relay, on a slow network) may take a
# few seconds; the pre-flight check promises an answer within 5 s.
FIRST_FRAME_TIMEOUT = 5.0
WATCHDOG_PERIOD = 0.1
# A watchdog tick this late means the event loop itself stalled: frames that did arrive may still
# be queued, so the check waits one tick for the drains to catch up before calling anything lost.
STALL = 0.25
# Audio kept while an analysis is still running (5 s of 20 ms frames); older frames are dropped.
MAX_WINDOW_FRAMES = 250
HISTORY = 600  # evidence kept for latest-state readers: 5 minutes of both kinds


class Kind(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"


Verdict = VideoVerdict | AudioVerdict


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the monitor saw of one kind of media, at ``at`` on the monitor's clock (monotonic).

    ``frame_rate`` is frames received per second since the previous evidence of this kind (about
    the last second); ``since_last_frame`` is how long ago the last frame arrived (None if none
    ever did). Video evidence carries ``luminance``, ``contrast`` (0-255 grey levels) and
    ``difference`` from the previous sample (None on the first); audio carries ``rms_dbfs`` and
    ``peak_dbfs`` over its window. Lost evidence carries neither.
    """

    kind: Kind
    verdict: Verdict
    at: float
    frame_rate: float
    since_last_frame: float | None
    luminance: float | None = None
    contrast: float | None = None
    difference: float | None = None
    rms_dbfs: float | None = None
    peak_dbfs: float | None = None

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"


class MonitorState(StrEnum):
    NEW = "new"  # no offer yet
    RECEIVING = "receiving"  # answered an offer; watching
    CLOSED = "closed"


class MonitorError(Exception):
    """The monitor cannot do what was asked (an offer it cannot answer, a candidate too early)."""


class MonitorClosed(MonitorError):
    """The monitor was closed; nothing more can be given to it."""


@dataclass(slots=True)
class _Watch:
    """The monitor's bookkeeping for one kind (touched on the event loop only)."""

    kind: Kind
    expected: bool = False  # the current offer sends this kind
    started_at: float = 0.0  # when the current offer was answered
    last_frame_at: float | None = None
    frames: int = 0
    counted: int = 0  # frames since the last evidence
    counted_since: float = 0.0
    last_emitted_at: float | None = None
    next_sample_at: float = 0.0
    busy: bool = False  # an analysis is running
    lost: bool = False
    ended: bool = False  # the sender ended its track
    epoch: int = 0  # bumped on each loss: results of samples taken before it are dropped
    restart: bool = False  # the video judge must forget the picture from before a gap
    window: list[av.AudioFrame] = field(default_factory=list)
    window_started_at: float | None = None

    def frame_rate(self, now: float, span: float) -> float:
        """Frames a second since the last evidence, over at least ``span`` seconds (a loss reported
        just after a sample would otherwise divide one frame by a millisecond)."""
        return self.counted / max(now - self.counted_since, span)


def _judge_video_frame(judge: VideoJudge, frame: av.VideoFrame, restart: bool) -> VideoReading:
    if restart:
        judge.restart()
    # Not format="gray": PyAV 18 gives wrong grey levels for decoded frames whose planes are padded
    # (Chromium's 240x135 copy: line size 256), which made a bright picture "dark".
    return judge.judge(frame.to_ndarray(format="bgr24"))


def _judge_audio_window(frames: list[av.AudioFrame]) -> AudioReading:
    return judge_audio(np.concatenate([f.to_ndarray().ravel() for f in frames]))


def offered_kinds(sdp: str) -> set[Kind]:
    """The kinds an offer sends (``sendrecv`` or ``sendonly`` audio and video sections)."""
    try:
        description = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc raises whatever its parser trips on
        raise MonitorError(f"expected an SDP offer, got text that does not parse: {exc!r}") from exc
    sections = [(m.kind, m.direction) for m in description.media]
    kinds = {
        Kind(kind)
        for kind, direction in sections
        if kind in ("audio", "video") and direction in ("sendrecv", "sendonly")
    }
    if not kinds:
        raise MonitorError(f"expected an offer sending audio or video, got sections {sections}")
    return kinds


class MediaMonitor:
    """One participant's monitored copy: an aiortc receiving peer and its evidence.

    ``on_evidence`` is called on the event loop with each ``Evidence`` (at most about once a
    second per kind, plus at once when a kind is lost or ends); an exception it raises is logged
    and the monitor carries on. ``executor`` runs the analysis (None: the loop's default
    executor). ``clock`` stamps the evidence and drives the watchdog's deadlines.
    """

    def __init__(
        self,
        *,
        ice_servers: Sequence[Mapping[str, Any]],
        on_evidence: Callable[[Evidence], None] | None = None,
        executor: Executor | None = None,
        clock: Callable[[], float] = time.monotonic,
        sample_interval: float = SAMPLE_INTERVAL,
        lost_after: Mapping[str, float] = LOST_AFTER,
        link_lost_after: float = LINK_LOST_AFTER,
        first_frame_timeout: float = FIRST_FRAME_TIMEOUT,
        label: str = "monitor",
    ) -> None:
        """``ice_servers`` in the protocol's shape (``urls``, ``username``, ``credential``);
        pass an explicit list, empty for loopback only."""
        self._ice_servers = list(ice_servers)
        self._on_evidence = on_evidence
        self._executor = executor
        self._clock = clock
        self._sample_interval = sample_interval
        self._lost_after = {Kind(k): v for k, v in lost_after.items()}
        self._link_lost_after = link_lost_after
        self._first_frame_timeout = first_frame_timeout
        self.label = label

        self._state = MonitorState.NEW
        self._pc: RTCPeerConnection | None = None
        self._allowed: AllowedPeers | None = None  # the current offer's
        self._watches = {kind: _Watch(kind) for kind in Kind}
        self._judge = VideoJudge()  # used by one analysis at a time (see _Watch.busy)
        self._latest: dict[Kind, Evidence] = {}
        self._history: deque[Evidence] = deque(maxlen=HISTORY)
        self._drains: dict[asyncio.Task[None], RTCPeerConnection] = {}
        self._analyses: set[asyncio.Task[None]] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self._negotiating = asyncio.Lock()  # one answer at a time; close waits for it
        self._changed = asyncio.Event()

    # --- reading the state ----------------------------------------------------------------------

    @property
    def state(self) -> MonitorState:
        return self._state

    def latest(self, kind: Kind | str) -> Evidence | None:
        """The most recent evidence of ``kind``, or None before the first."""
        return self._latest.get(Kind(kind))

    def verdicts(self) -> dict[Kind, Verdict]:
        """The latest verdict per kind (kinds without evidence yet are absent)."""
        return {kind: evidence.verdict for kind, evidence in self._latest.items()}

    @property
    def history(self) -> list[Evidence]:
        """Evidence emitted so far, oldest first (the last HISTORY of it)."""
        return list(self._history)

    @property
    def frames_received(self) -> dict[Kind, int]:
        return {kind: watch.frames for kind, watch in self._watches.items()}

    async def wait_for_verdict(
        self, kind: Kind | str, verdict: Verdict | str, *, timeout: float
    ) -> Evidence:
        """The latest evidence of ``kind`` once its verdict is ``verdict``; TimeoutError after
        ``timeout`` seconds, naming what was seen instead."""
        kind = Kind(kind)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            evidence = self._latest.get(kind)
            if evidence is not None and evidence.verdict == verdict:
                return evidence
            left = deadline - loop.time()
            if left <= 0:
                seen = [e.verdict.value for e in self._history if e.kind is kind][-10:]
                raise TimeoutError(
                    f"{self.label}: expected {kind} {verdict} within {timeout} s, saw {seen}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    # --- negotiation ----------------------------------------------------------------------------

    async def accept_offer(self, sdp: str, allowed: AllowedPeers, *, trickle: bool = False) -> str:
        """Answer a page's offer and start watching what it sends; returns the answer SDP
        (with every server candidate in it). A later offer replaces the peer connection.

        Candidates ``allowed`` does not allow are dropped, here and in ``add_candidate``;
        ``media.candidates.NoUsableCandidate`` when none is left (and the current peer connection,
        if any, carries on). ``trickle``: an offer without any candidate is fine, they will come."""
        self._require_open("accept an offer")
        async with self._negotiating:
            return await self._answer(sdp, allowed, trickle)

    async def _answer(self, sdp: str, allowed: AllowedPeers, trickle: bool) -> str:
        self._require_open("accept an offer")
        kinds = offered_kinds(sdp)
        screened = screen_offer(sdp, allowed)
        if screened.dropped or screened.names:
            log.debug(
                "%s: dropped %d of %d offered candidates (%d host names); allowed: %s",
                self.label,
                screened.dropped + screened.names,
                screened.dropped + screened.names + screened.kept,
                screened.names,
                allowed.expected,
            )
        screened.require_usable(trickle=trickle)
        sdp, self._allowed = screened.sdp, allowed
        old, pc = self._pc, RTCPeerConnection(configuration=ice_configuration(self._ice_servers))
        self._pc = pc
        if old is not None:
            await self._close_pc(old)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._on_track(pc, track)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            log.info("%s: connection %s", self.label, pc.connectionState)

        now = self._clock()
        for kind, watch in self._watches.items():
            watch.expected = kind in kinds
            watch.started_at = now
            watch.ended = False
            if watch.last_emitted_at is None:
                watch.counted_since = now
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            self._pc = None
            await self._close_pc(pc)
            raise MonitorError(f"could not answer the offer: {exc!r}") from exc
        if self._state is MonitorState.CLOSED:  # closed while answering
            await self._close_pc(pc)
            raise MonitorClosed(f"{self.label}: closed while answering an offer")
        self._set_state(MonitorState.RECEIVING)
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._run_watchdog(), name=f"{self.label}-watch")
        return str(pc.localDescription.sdp)

    async def add_candidate(
        self,
        candidate: str | None,
        *,
        sdp_mid: str | None = None,
        sdp_mline_index: int | None = None,
    ) -> None:
        """Add a candidate the page trickled (``candidate:...`` as a browser writes it); None or
        an empty string means the page has no more. One the current offer's ``allowed`` does not
        allow is dropped (logged at debug), as in the offer."""
        self._require_open("add a candidate")
        if self._pc is None:
            raise MonitorError("expected an offer before candidates, got a candidate first")
        if not candidate:
            await self._pc.addIceCandidate(None)
            return
        if sdp_mid is None and sdp_mline_index is None:
            raise MonitorError(
                "expected sdp_mid or sdp_mline_index with the candidate, got neither"
            )
        if self._allowed is None or judge(candidate, self._allowed) is not Judged.KEPT:
            log.debug("%s: dropped a trickled candidate; allowed: %s", self.label, self._allowed)
            return
        parsed = candidate_from_sdp(candidate.removeprefix("candidate:"))
        parsed.sdpMid, parsed.sdpMLineIndex = sdp_mid, sdp_mline_index
        await self._pc.addIceCandidate(parsed)

    async def close(self) -> None:
        """Stop watching: close the peer connection, end every task. No evidence after this.
        Safe to call twice."""
        if self._state is MonitorState.CLOSED:
            return
        self._set_state(MonitorState.CLOSED)
        # An answer under way finishes first (milliseconds): a peer connection closed while it
        # gathers candidates would leave the sockets gathered after the close open.
        async with self._negotiating:
            pass
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        pc, self._pc = self._pc, None
        if pc is not None:
            await self._close_pc(pc)
        if self._analyses:
            await asyncio.gather(*self._analyses, return_exceptions=True)
        for watch in self._watches.values():
            watch.window.clear()
        self._notify()

    def _require_open(self, what: str) -> None:
        if self._state is MonitorState.CLOSED:
            raise MonitorClosed(
                f"{self.label}: expected state {MonitorState.NEW} or {MonitorState.RECEIVING} "
                f"to {what}, got {self._state}"
            )

    def _set_state(self, state: MonitorState) -> None:
        if state is not self._state:
            log.info("%s: %s -> %s", self.label, self._state, state)
            self._state = state

    async def _close_pc(self, pc: RTCPeerConnection) -> None:
        await pc.close()
        drains = [task for task, owner in self._drains.items() if owner is pc]
        for task in drains:
            task.cancel()
        await asyncio.gather(*drains, return_exceptions=True)

    # --- receiving ------------------------------------------------------------------------------

    def _on_track(self, pc: RTCPeerConnection, track: MediaStreamTrack) -> None:
        if track.kind not in ("audio", "video"):
            return
        kind = Kind(track.kind)
        self._watches[kind].ended = False
        task = asyncio.create_task(self._drain(pc, kind, track), name=f"{self.label}-{kind}")
        self._drains[task] = pc
        task.add_done_callback(self._drains.pop)

    async def _drain(self, pc: RTCPeerConnection, kind: Kind, track: MediaStreamTrack) -> None:
        """Take every frame as it comes (aiortc queues them without limit otherwise)."""
        try:
            while True:
                frame = await track.recv()
                if pc is self._pc:
                    self._on_frame(self._watches[kind], frame)
        except MediaStreamError:
            if pc is self._pc and self._state is MonitorState.RECEIVING:
                log.info("%s: the sender ended its %s track", self.label, kind)
                self._watches[kind].ended = True
                self.check(self._clock())

    def _on_frame(self, watch: _Watch, frame: object) -> None:
        now = self._clock()
        watch.frames += 1
        watch.counted += 1
        watch.last_frame_at = now
        if watch.lost:
            log.info("%s: %s frames again", self.label, watch.kind)
            watch.lost = False
            watch.next_sample_at = now  # report the recovery with this very frame
            watch.window.clear()
            watch.window_started_at = None
        if isinstance(frame, av.VideoFrame):
            self._sample_video(watch, frame, now)
        elif isinstance(frame, av.AudioFrame):
            self._collect_audio(watch, frame, now)

    def _sample_video(self, watch: _Watch, frame: av.VideoFrame, now: float) -> None:
        if watch.busy or now < watch.next_sample_at:
            return
        watch.next_sample_at = now + self._sample_interval * (1 - SAMPLE_EARLY)
        restart, watch.restart = watch.restart, False
        job = (_judge_video_frame, self._judge, frame, restart)
        self._analyse(watch, job)

    def _collect_audio(self, watch: _Watch, frame: av.AudioFrame, now: float) -> None:
        if watch.window_started_at is None:
            watch.window_started_at = now
        watch.window.append(frame)
        if len(watch.window) > MAX_WINDOW_FRAMES:
            del watch.window[0]
        if watch.busy or now - watch.window_started_at < self._sample_interval:
            return
        frames, watch.window, watch.window_started_at = watch.window, [], now
        self._analyse(watch, (_judge_audio_window, frames))

    def _analyse(self, watch: _Watch, job: tuple[Any, ...]) -> None:
        watch.busy = True
        task = asyncio.create_task(self._run_analysis(watch, job, watch.epoch))
        self._analyses.add(task)
        task.add_done_callback(self._analyses.discard)

    async def _run_analysis(self, watch: _Watch, job: tuple[Any, ...], epoch: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            reading = await loop.run_in_executor(self._executor, *job)
        except Exception:
            log.exception("%s: could not analyse %s", self.label, watch.kind)
            return
        finally:
            watch.busy = False
        if self._state is MonitorState.CLOSED or epoch != watch.epoch:
            return  # the kind was lost meanwhile: a sample from before the loss proves nothing
        now = self._clock()
        since = now - watch.last_frame_at if watch.last_frame_at is not None else None
        if isinstance(reading, VideoReading):
            evidence = Evidence(
                Kind.VIDEO,
                reading.verdict,
                now,
                watch.frame_rate(now, self._sample_interval),
                since,
                luminance=reading.luminance,
                contrast=reading.contrast,
                difference=reading.difference,
            )
        else:
            evidence = Evidence(
                Kind.AUDIO,
                reading.verdict,
                now,
                watch.frame_rate(now, self._sample_interval),
                since,
                rms_dbfs=reading.rms_dbfs,
                peak_dbfs=reading.peak_dbfs,
            )
        self._emit(evidence)

    # --- the watchdog ---------------------------------------------------------------------------

    async def _run_watchdog(self) -> None:
        while True:
            before = self._clock()
            await asyncio.sleep(WATCHDOG_PERIOD)
            now = self._clock()
            if now - before - WATCHDOG_PERIOD > STALL:
                log.info("%s: event loop stalled %.2f s", self.label, now - before)
                continue
            try:
                self.check(now)
            except Exception:
                log.exception("%s: watchdog check failed", self.label)

    def check(self, now: float) -> None:
        """Report as lost every expected kind with no frame for its ``lost_after``, none at all
        within ``first_frame_timeout`` of the offer, or an ended track; and with it every kind
        silent for LINK_LOST_AFTER (the transport is gone). At once, then again every sample
        interval while it lasts. The watchdog calls this every WATCHDOG_PERIOD."""
        if self._state is not MonitorState.RECEIVING:
            return
        watches = [w for w in self._watches.values() if w.expected]
        gone = {w.kind for w in watches if w.ended or now >= self._deadline(w)}
        if gone and all(
            w.last_frame_at is None or now - w.last_frame_at >= self._link_lost_after
            for w in watches
        ):
            gone.update(w.kind for w in watches if w.last_frame_at is not None)
        for watch in watches:
            kind = watch.kind
            if kind not in gone:
                continue
            repeated_too_soon = (
                watch.lost
                and watch.last_emitted_at is not None
                and now - watch.last_emitted_at < self._sample_interval
            )
            if repeated_too_soon:
                continue
            if not watch.lost:
                log.info("%s: %s lost (ended=%s)", self.label, kind, watch.ended)
                watch.lost, watch.restart = True, True
                watch.epoch += 1
                watch.window.clear()
                watch.window_started_at = None
            since = now - watch.last_frame_at if watch.last_frame_at is not None else None
            verdict: Verdict = VideoVerdict.LOST if kind is Kind.VIDEO else AudioVerdict.LOST
            self._emit(
                Evidence(kind, verdict, now, watch.frame_rate(now, self._sample_interval), since)
            )

    def _deadline(self, watch: _Watch) -> float:
        if watch.last_frame_at is None:
            return watch.started_at + self._first_frame_timeout
        return watch.last_frame_at + self._lost_after[watch.kind]

    # --- reporting ------------------------------------------------------------------------------

    def _emit(self, evidence: Evidence) -> None:
        watch = self._watches[evidence.kind]
        watch.counted, watch.counted_since = 0, evidence.at
        watch.last_emitted_at = evidence.at
        previous = self._latest.get(evidence.kind)
        if previous is None or previous.verdict != evidence.verdict:
            old = previous.verdict.value if previous is not None else None
            log.info("%s: %s %s -> %s", self.label, evidence.kind, old, evidence.verdict)
        self._latest[evidence.kind] = evidence
        self._history.append(evidence)
        if self._on_evidence is not None:
            try:
                self._on_evidence(evidence)
            except Exception:
                log.exception("%s: on_evidence failed", self.label)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
