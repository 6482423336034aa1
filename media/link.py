"""Is the link live? One direction's state machine, fed by evidence, and the session's coverage.

A *direction* is one participant's media as the other receives it (the technologist's camera and
microphone as the radiologist's page plays them, and the reverse). Each direction is, at any moment,
in one of four states:

    live      video and audio arrive and play; nothing measured is poor
    degraded  media arrives, but something is wrong: heavy loss, a long round trip, a low frame rate,
              a dark picture, or a microphone that sends silence
    frozen    audio may arrive, but the picture does not move: no new frames, or frames that are
              black or identical (a covered lens, a stuck capture)
    lost      nothing arrives, or the receiving page stopped reporting

Two kinds of evidence feed it:

- **client evidence** (``ClientReport``): the *receiving* page's WebRTC stats, once a second
  (cumulative frames decoded and audio packets received, frame rate, audio level, round-trip time,
  loss, jitter, bitrate, selected candidate type);
- **server evidence** (``ServerEvidence``): the server's own look at a small copy of the *sending*
  page's camera and microphone (black, dark, frozen, silent or lost), when the facility has the monitor
  on. A page cannot claim "live" for a camera the server sees sending black frames.

"Verified two-way live" holds only while both directions are live. ``Coverage`` turns the sequence
of assessments into the record: seconds of verified two-way live supervision and every gap with its
cause and duration.

Everything here is pure: time is a parameter (seconds on any monotonic clock), nothing is awaited.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

# A receiving page reports every second; a report 1.5 s late means the page (or its network) is gone:
# with the watch ticking every 0.1 s, a page that stops shows as lost within 2 s of its last report.
REPORT_STALE_S = 1.5
# Nothing new (no frame decoded, no audio packet) for this long: the direction is lost.
NOTHING_S = 2.0
# No new video frame for this long while audio still arrives: the picture froze.
NO_FRAMES_S = 2.0
# The microphone's level stayed at digital silence for this long. A real room's noise floor sits far
# above it; a muted or dead microphone, or a page sending generated silence, does not.
SILENCE_S = 4.0
SILENT_LEVEL = 0.001  # WebRTC audioLevel (0..1, linear); 0.001 is -60 dBFS

# Poor but flowing: thresholds for "degraded" (ITU-T G.114 puts one-way delay above 150 ms as
# noticeable; 400 ms round trip is about where conversation suffers).
MAX_LOSS = 0.10  # fraction of packets lost in the last second
MAX_RTT_MS = 400.0
MAX_JITTER_MS = 100.0
MIN_FPS = 5.0


class LinkState(StrEnum):
    LIVE = "live"
    DEGRADED = "degraded"
    FROZEN = "frozen"
    LOST = "lost"


class Cause(StrEnum):
    """Why a direction is not live; pages phrase them for the viewer ("the radiologist's video
    froze", "your microphone sends silence")."""

    NO_REPORTS = "no_reports"  # the receiving page stopped reporting
    NOTHING_ARRIVES = "nothing_arrives"
    NO_FRAMES = "no_frames"  # video stopped while audio goes on
    VIDEO_BLACK = "video_black"  # server evidence: black or covered lens
    VIDEO_FROZEN = "video_frozen"  # server evidence: identical frames
    VIDEO_DARK = "video_dark"
    VIDEO_LOST = "video_lost"  # server evidence: the monitor receives no video
    AUDIO_SILENT = "audio_silent"
    AUDIO_LOST = "audio_lost"  # server evidence: the monitor receives no audio
    AUDIO_MISSING = "audio_missing"  # video arrives, no audio packets do
    HIGH_LOSS = "high_loss"
    HIGH_RTT = "high_rtt"
    HIGH_JITTER = "high_jitter"
    LOW_FPS = "low_fps"


@dataclass(frozen=True)
class ClientReport:
    """What the receiving page measured of the incoming media, at ``at`` (seconds)."""

    at: float
    frames_decoded: int  # cumulative, inbound video
    fps: float
    audio_packets: int  # cumulative, inbound audio
    audio_level: float  # 0..1, linear
    rtt_ms: float | None = None
    loss: float = 0.0  # 0..1, over the last second
    jitter_ms: float = 0.0
    bitrate_kbps: float = 0.0
    candidate: str | None = None  # host, srflx, prflx, relay


class Verdict(StrEnum):
    OK = "ok"
    BLACK = "black"
    DARK = "dark"
    FROZEN = "frozen"
    SILENT = "silent"
    LOST = "lost"


@dataclass(frozen=True)
class ServerEvidence:
    """The server's verdict on the sending page's camera or microphone, at ``at`` (seconds)."""

    at: float
    kind: str  # "video" or "audio"
    verdict: Verdict


@dataclass(frozen=True)
class Assessment:
    state: LinkState
    causes: tuple[Cause, ...] = ()
    video: bool = False  # new frames are arriving
    audio: bool = False  # audio packets are arriving and carry sound
    server_checked: bool = False  # server evidence was part of this assessment

    @property
    def live(self) -> bool:
        return self.state is LinkState.LIVE


_SERVER_VIDEO = {
    Verdict.BLACK: (LinkState.FROZEN, Cause.VIDEO_BLACK),
    Verdict.FROZEN: (LinkState.FROZEN, Cause.VIDEO_FROZEN),
    Verdict.LOST: (LinkState.FROZEN, Cause.VIDEO_LOST),
    Verdict.DARK: (LinkState.DEGRADED, Cause.VIDEO_DARK),
}
_ORDER = [LinkState.LIVE, LinkState.DEGRADED, LinkState.FROZEN, LinkState.LOST]


def _worse(a: LinkState, b: LinkState) -> LinkState:
    return a if _ORDER.index(a) >= _ORDER.index(b) else b


@dataclass
class Direction:
    """One direction's evidence and its state. Feed it reports and evidence; ``assess(now)``.

    ``monitored``: the server checks the sender's media (``ServerEvidence``); when False, client
    evidence alone decides, and assessments say so (``server_checked`` False).
    """

    monitored: bool = True
    server_stale_s: float = 3.0  # server evidence older than this is ignored
    _reports: list[ClientReport] = field(default_factory=list)
    _last_frames_at: float | None = None
    _last_audio_at: float | None = None
    _loud_at: float | None = None
    _first_at: float | None = None
    _server: dict[str, ServerEvidence] = field(default_factory=dict)

    def client(self, report: ClientReport) -> None:
        previous = self._reports[-1] if self._reports else None
        if self._first_at is None:
            self._first_at = report.at
        if report.frames_decoded > (previous.frames_decoded if previous else 0):
            self._last_frames_at = report.at
        if report.audio_packets > (previous.audio_packets if previous else 0):
            self._last_audio_at = report.at
        if report.audio_level > SILENT_LEVEL or self._loud_at is None:
            self._loud_at = report.at
        self._reports = [*self._reports[-4:], report]

    def server(self, evidence: ServerEvidence) -> None:
        if self.monitored:
            self._server[evidence.kind] = evidence

    def assess(self, now: float) -> Assessment:
        if not self._reports or now - self._reports[-1].at > REPORT_STALE_S:
            return Assessment(LinkState.LOST, (Cause.NO_REPORTS,))
        last = self._reports[-1]
        video = self._since(self._last_frames_at, now) <= NO_FRAMES_S
        packets = self._since(self._last_audio_at, now) <= NOTHING_S
        if not video and not packets:
            return Assessment(LinkState.LOST, (Cause.NOTHING_ARRIVES,))
        state, causes = LinkState.LIVE, []
        if not video:
            state, causes = LinkState.FROZEN, [Cause.NO_FRAMES]
        if not packets:
            state = _worse(state, LinkState.DEGRADED)
            causes.append(Cause.AUDIO_MISSING)
        silent = packets and self._since(self._loud_at, now) >= SILENCE_S
        server_checked = False
        for kind, evidence in self._server.items():
            if now - evidence.at > self.server_stale_s:
                continue
            server_checked = True
            if kind == "video" and evidence.verdict in _SERVER_VIDEO:
                worse, cause = _SERVER_VIDEO[evidence.verdict]
                state = _worse(state, worse)
                causes.append(cause)
                video = video and worse is not LinkState.FROZEN
            elif kind == "audio" and evidence.verdict is Verdict.SILENT:
                silent = True
            elif kind == "audio" and evidence.verdict is Verdict.LOST:
                state = _worse(state, LinkState.DEGRADED)
                causes.append(Cause.AUDIO_LOST)
        if {Cause.VIDEO_LOST, Cause.AUDIO_LOST} <= set(causes):
            # The server receives nothing at all of what this page sends: whatever its peer
            # reports, nothing the server can vouch for is arriving.
            state = LinkState.LOST
        if silent:
            state = _worse(state, LinkState.DEGRADED)
            causes.append(Cause.AUDIO_SILENT)
        for poor, cause in (
            (last.loss > MAX_LOSS, Cause.HIGH_LOSS),
            (last.rtt_ms is not None and last.rtt_ms > MAX_RTT_MS, Cause.HIGH_RTT),
            (last.jitter_ms > MAX_JITTER_MS, Cause.HIGH_JITTER),
            (video and last.fps < MIN_FPS, Cause.LOW_FPS),
        ):
            if poor:
                state = _worse(state, LinkState.DEGRADED)
                causes.append(cause)
        return Assessment(
            state,
            tuple(dict.fromkeys(causes)),
            video=video,
            audio=packets and not silent and Cause.AUDIO_LOST not in causes,
            server_checked=server_checked,
        )

    def next_change(self, now: float) -> float:
        """The earliest time after ``now`` at which ``assess`` may answer differently with no new
        evidence (a report going stale, frames or packets overdue, silence lasting, server evidence
        expiring); ``inf`` when only new evidence can change it. Watches assess only then, or on
        evidence, not every tick: at 500 live sessions that was most of a worker's time."""
        moments = [
            (self._reports[-1].at if self._reports else None, REPORT_STALE_S),
            (self._last_frames_at, NO_FRAMES_S),
            (self._last_audio_at, NOTHING_S),
            (self._loud_at, SILENCE_S),
            *((e.at, self.server_stale_s) for e in self._server.values()),
        ]
        later = [at + after for at, after in moments if at is not None and at + after >= now]
        return min(later, default=math.inf)

    def _since(self, moment: float | None, now: float) -> float:
        if moment is None:
            # never seen: count from the first report, so a page that just joined is not "lost"
            # before it could have decoded anything
            return now - (self._first_at if self._first_at is not None else now) + NOTHING_S + 1
        return now - moment


@dataclass(frozen=True)
class Gap:
    """An interval without verified two-way live supervision."""

    start: float
    end: float
    causes: tuple[str, ...]  # "<sender>:<cause>", e.g. "radiologist:video_frozen"

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Coverage:
    """The record of a call: verified two-way live seconds, and every gap with its causes.

    Call ``observe(now, live, causes)`` whenever an assessment is made (every second or so); the
    time between two observations is attributed to the state seen at the first of them.
    """

    live_s: float = 0.0
    gaps: list[Gap] = field(default_factory=list)
    _at: float | None = None
    _live: bool = False
    _causes: tuple[str, ...] = ()
    _gap_start: float | None = None

    def observe(self, now: float, live: bool, causes: tuple[str, ...] = ()) -> Gap | None:
        """Record the state at ``now``; returns a gap when this observation closed one."""
        closed = None
        if self._at is not None and self._live:
            self.live_s += now - self._at
        if live and self._gap_start is not None:
            closed = Gap(self._gap_start, now, self._causes)
            self.gaps.append(closed)
            self._gap_start = None
        elif not live:
            if self._gap_start is None:
                self._gap_start, self._causes = now, causes
            else:
                self._causes = tuple(dict.fromkeys((*self._causes, *causes)))
        self._at, self._live = now, live
        return closed

    def close(self, now: float) -> None:
        """The call ended: count the last interval and close an open gap."""
        if self._at is not None and self._live:
            self.live_s += now - self._at
        if self._gap_start is not None:
            self.gaps.append(Gap(self._gap_start, now, self._causes))
            self._gap_start = None
        self._at, self._live = now, False

    @property
    def gap_s(self) -> float:
        return sum(g.seconds for g in self.gaps)
