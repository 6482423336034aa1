"""Each participant socket's watch over its session's link (issue 4).

Both pages send ``stats`` once a second: what they measure of the media they receive. The socket that
gets one publishes it to the session, so every socket in the session, on whatever worker, feeds the
same reports into its own ``LinkWatch`` and tells its own page, within a tick of a change, the state
of both directions (``media.link``). The technologist's socket also writes each change into the
session's record (``link`` events), as the technologist is present for the whole exam; every socket
writes whether the radiologist's media is live into the session's row, where the server's re-page
rule reads it (``signaling.sessions.radiologist_watch``).

The watch starts with the first report of the session, so pages that do not report yet are never
shown as lost. Server evidence (``signaling.checks.monitors``: the server's own look at the copy each page
sends of its camera and microphone) reaches every socket the same way and feeds the direction of
its sender, when the facility monitors media (``monitored``); otherwise client evidence alone
decides, assessments say ``server_checked: false`` and the record says "client evidence only".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from media.link import Assessment, ClientReport, Direction, ServerEvidence, Verdict
from signaling.live.hub import other

log = logging.getLogger(__name__)

TICK_S = 0.1
CHUNK = 16  # watches run between two turns of the event loop
HEARTBEAT_S = 5.0
ROLES = ("technologist", "radiologist")
# A direction in these states carries no supervision: no picture, or nothing at all.
GONE = ("lost", "frozen")


def report_from(message: dict[str, Any], at: float) -> ClientReport:
    return ClientReport(
        at=at,
        frames_decoded=int(message["frames_decoded"]),
        fps=float(message["fps"]),
        audio_packets=int(message["audio_packets"]),
        audio_level=float(message["audio_level"]),
        rtt_ms=message.get("rtt_ms"),
        loss=float(message.get("loss", 0.0)),
        jitter_ms=float(message.get("jitter_ms", 0.0)),
        bitrate_kbps=float(message.get("bitrate_kbps", 0.0)),
        candidate=message.get("candidate"),
    )


def _view(a: Assessment) -> dict[str, Any]:
    return {
        "state": a.state.value,
        "causes": [c.value for c in a.causes],
        "video": a.video,
        "audio": a.audio,
        "server_checked": a.server_checked,
    }


@dataclass
class LinkWatch:
    """Both directions of one session, as one socket sees them. Keyed by the *sending* role."""

    clock: Callable[[], float] = time.monotonic
    monitored: bool = False  # the facility has the server's media monitor on
    directions: dict[str, Direction] = field(default_factory=dict)
    _last: tuple[Any, ...] | None = None
    _sent_at: float = 0.0
    _left: set[str] = field(default_factory=set)
    _gone: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.directions:
            self.directions = {role: Direction(monitored=self.monitored) for role in ROLES}

    def server(self, sender: str, message: dict[str, Any]) -> None:
        """The server's monitor on what ``sender`` sends: evidence for that direction (stamped on
        arrival, as monitors on other hosts keep other clocks)."""
        evidence = ServerEvidence(
            at=self.clock(), kind=str(message["media"]), verdict=Verdict(message["verdict"])
        )
        self.directions[sender].server(evidence)

    def report(self, receiver: str, message: dict[str, Any]) -> None:
        """A page's stats: evidence on the media the *other* participant sends."""
        self._left.discard(receiver)
        self.directions[other(receiver)].client(report_from(message, self.clock()))

    def left(self, role: str) -> None:
        """That participant's socket left the session: what it received is no longer seen."""
        self._left.add(role)

    def assess(self) -> dict[str, dict[str, Any]]:
        now = self.clock()
        views = {}
        for sender, direction in self.directions.items():
            view = _view(direction.assess(now))
            if other(sender) in self._left:
                view |= {"state": "lost", "causes": ["no_reports"], "video": False, "audio": False}
            views[sender] = view
        return views

    def tick(self) -> tuple[dict[str, dict[str, Any]], bool, bool] | None:
        """(directions, verified, changed) when the page should be told (a change, or the
        heartbeat); None otherwise."""
        views = self.assess()
        verified = all(v["state"] == "live" for v in views.values())
        key = (
            verified,
            *((v["state"], tuple(v["causes"]), v["server_checked"]) for v in views.values()),
        )
        now = self.clock()
        self._gone = {sender for sender, view in views.items() if view["state"] in GONE}
        changed = key != self._last
        if not changed and now - self._sent_at < HEARTBEAT_S:
            return None
        self._last, self._sent_at = key, now
        return views, verified, changed

    def next_due(self) -> float:
        """When ``tick`` must run next if no evidence arrives (``clock`` time): the earliest moment
        a direction's state may change by itself, or the heartbeat."""
        now = self.clock()
        changes = (direction.next_change(now) for direction in self.directions.values())
        return min(self._sent_at + HEARTBEAT_S, *changes)

    def gone(self, sender: str) -> bool:
        """Whether ``sender``'s media was gone (lost or frozen: no supervision) as of the last
        tick. The re-page rule counts from it, on the server (``signaling.sessions.radiologist_watch``)."""
        return sender in self._gone


class Ticking(Protocol):
    """A socket with a watch: ``tick_link(now)`` tells its page what changed and returns when it
    must run next without new evidence."""

    def tick_link(self, now: float) -> float: ...


class LinkTicker:
    """One worker's clock for every watch of its sockets: every ``TICK_S`` it runs the watches
    that are due (evidence arrived, or a state may have changed by itself, or the heartbeat), the
    rest cost a comparison. One task, not one per socket waking ten times a second."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._due: dict[Ticking, float] = {}

    def poke(self, member: Ticking) -> None:
        """Evidence arrived for ``member``'s watch (or it just started): run it at the next tick."""
        self._due[member] = -math.inf

    def remove(self, member: Ticking) -> None:
        self._due.pop(member, None)

    def __len__(self) -> int:
        return len(self._due)

    def _ready(self) -> tuple[float, list[Ticking]]:
        now = self._clock()
        return now, [member for member, at in self._due.items() if at <= now]

    def _run(self, member: Ticking, now: float) -> None:
        try:
            following = member.tick_link(now)
        except Exception:
            log.exception("link watch: a socket's tick failed")
            following = now + HEARTBEAT_S
        if member in self._due:  # not removed meanwhile
            self._due[member] = following

    def tick(self) -> int:
        """Run every due watch once; how many ran."""
        now, due = self._ready()
        for member in due:
            self._run(member, now)
        return len(due)

    async def run(self, stopping: asyncio.Event) -> None:
        """Every ``TICK_S``, the due watches, ``CHUNK`` at a time with the loop let through
        between chunks: hundreds of watches due at once (a second's stats) must not hold up the
        relays behind them for one long burst."""
        while not stopping.is_set():
            now, due = self._ready()
            for i, member in enumerate(due, start=1):
                self._run(member, now)
                if i % CHUNK == 0:
                    await asyncio.sleep(0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), TICK_S)


def state_word(view: dict[str, Any]) -> str:
    """A direction's state as a person would say it: a camera sending black is "black" (a covered
    lens or a dead camera), not "frozen", though it carries no picture either way."""
    if view["state"] == "frozen" and "video_black" in view["causes"]:
        return "black"
    return str(view["state"])


def describe(views: dict[str, dict[str, Any]], verified: bool, monitored: bool) -> str:
    """One line for the session's record: ``verified`` or each direction's state and causes, and
    on what evidence: "client evidence only" when the facility has the monitor off, the directions
    the server has not checked (yet) when it has it on."""
    if verified:
        line = "verified two-way live"
    else:
        line = "; ".join(
            f"{sender}: {state_word(v)}" + (f" ({', '.join(v['causes'])})" if v["causes"] else "")
            for sender, v in views.items()
        )
    unchecked = [sender for sender, v in views.items() if not v["server_checked"]]
    if not monitored:
        line += " [client evidence only: media monitor off]"
    elif unchecked:
        line += f" [not checked by the server: {', '.join(unchecked)}]"
    return line[:200]
