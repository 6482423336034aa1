"""The link state machine (media/link.py): each state reached from the evidence that should reach
it, and not from evidence that should not; the coverage record."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.link import (
    REPORT_STALE_S,
    Cause,
    ClientReport,
    Coverage,
    Direction,
    LinkState,
    ServerEvidence,
    Verdict,
)


def healthy(at: float, n: int, **changes: object) -> ClientReport:
    """The n-th one-per-second report of a healthy direction (30 fps, 50 audio packets a second)."""
    values: dict[str, object] = {
        "at": at,
        "frames_decoded": 30 * n,
        "fps": 30.0,
        "audio_packets": 50 * n,
        "audio_level": 0.05,
        "rtt_ms": 20.0,
        "loss": 0.0,
        "jitter_ms": 5.0,
        "bitrate_kbps": 900.0,
        "candidate": "host",
    }
    return ClientReport(**(values | changes))  # type: ignore[arg-type]


def fed(direction: Direction, until: int, **changes: object) -> Direction:
    for n in range(1, until + 1):
        direction.client(healthy(float(n), n, **changes))
    return direction


def test_healthy_media_is_live() -> None:
    direction = fed(Direction(), 5)
    result = direction.assess(5.2)
    assert result.state is LinkState.LIVE
    assert (result.video, result.audio, result.causes) == (True, True, ())


def test_a_page_that_stops_reporting_is_lost_after_two_seconds() -> None:
    direction = fed(Direction(), 5)
    assert direction.assess(5.0 + REPORT_STALE_S - 0.1).state is LinkState.LIVE
    lost = direction.assess(5.0 + REPORT_STALE_S + 0.1)
    assert (lost.state, lost.causes) == (LinkState.LOST, (Cause.NO_REPORTS,))


def test_nothing_arriving_is_lost() -> None:
    """Reports keep coming, but the counters stopped: the media is gone, not the page."""
    direction = fed(Direction(), 5)
    for n in range(6, 10):
        direction.client(healthy(float(n), 5))  # counters stuck at second 5
    result = direction.assess(9.0)
    assert (result.state, result.causes) == (LinkState.LOST, (Cause.NOTHING_ARRIVES,))


def test_video_that_stops_while_audio_flows_is_frozen() -> None:
    direction = fed(Direction(), 5)
    for n in range(6, 10):
        direction.client(healthy(float(n), n, frames_decoded=150, fps=0.0))
    result = direction.assess(9.0)
    assert result.state is LinkState.FROZEN
    assert Cause.NO_FRAMES in result.causes
    assert result.audio


def test_black_frames_are_not_live_even_if_they_decode() -> None:
    """The page decodes 30 frames a second, but the server sees them black: frozen, not live."""
    direction = fed(Direction(), 5)
    direction.server(ServerEvidence(4.8, "video", Verdict.BLACK))
    result = direction.assess(5.0)
    assert (result.state, result.video, result.server_checked) == (LinkState.FROZEN, False, True)
    assert Cause.VIDEO_BLACK in result.causes


def test_a_frozen_picture_is_frozen() -> None:
    direction = fed(Direction(), 5)
    direction.server(ServerEvidence(4.8, "video", Verdict.FROZEN))
    assert direction.assess(5.0).causes == (Cause.VIDEO_FROZEN,)


def test_silence_is_not_live() -> None:
    """Packets arrive (Chromium sends them during silence), but the level is digital silence."""
    direction = fed(Direction(), 8, audio_level=0.0)
    result = direction.assess(8.0)
    assert (result.state, result.audio) == (LinkState.DEGRADED, False)
    assert result.causes == (Cause.AUDIO_SILENT,)


def test_a_quiet_moment_is_not_silence() -> None:
    """A second or two of silence in a conversation is normal."""
    direction = fed(Direction(), 5)
    direction.client(healthy(6.0, 6, audio_level=0.0))
    direction.client(healthy(7.0, 7, audio_level=0.0))
    assert direction.assess(7.0).state is LinkState.LIVE


def test_server_says_silent() -> None:
    direction = fed(Direction(), 5)
    direction.server(ServerEvidence(4.5, "audio", Verdict.SILENT))
    assert direction.assess(5.0).causes == (Cause.AUDIO_SILENT,)


def test_server_receiving_no_audio_is_degraded() -> None:
    direction = fed(Direction(), 5)
    direction.server(ServerEvidence(4.8, "audio", Verdict.LOST))
    result = direction.assess(5.0)
    assert (result.state, result.causes, result.audio) == (
        LinkState.DEGRADED,
        (Cause.AUDIO_LOST,),
        False,
    )


def test_server_receiving_nothing_at_all_is_lost() -> None:
    """The page's peer says all is well, but the server receives none of what the page sends."""
    direction = fed(Direction(), 5)
    direction.server(ServerEvidence(4.8, "video", Verdict.LOST))
    direction.server(ServerEvidence(4.8, "audio", Verdict.LOST))
    result = direction.assess(5.0)
    assert (result.state, result.causes) == (LinkState.LOST, (Cause.VIDEO_LOST, Cause.AUDIO_LOST))
    assert result.server_checked


def test_stale_server_evidence_is_ignored() -> None:
    direction = fed(Direction(), 9)
    direction.server(ServerEvidence(1.0, "video", Verdict.BLACK))
    result = direction.assess(9.0)
    assert (result.state, result.server_checked) == (LinkState.LIVE, False)


def test_without_the_monitor_client_evidence_alone_decides() -> None:
    direction = fed(Direction(monitored=False), 5)
    direction.server(ServerEvidence(4.8, "video", Verdict.BLACK))
    result = direction.assess(5.0)
    assert (result.state, result.server_checked) == (LinkState.LIVE, False)


@pytest.mark.parametrize(
    ("changes", "cause"),
    [
        ({"loss": 0.2}, Cause.HIGH_LOSS),
        ({"rtt_ms": 900.0}, Cause.HIGH_RTT),
        ({"jitter_ms": 250.0}, Cause.HIGH_JITTER),
        ({"fps": 2.0}, Cause.LOW_FPS),
    ],
)
def test_poor_but_flowing_is_degraded(changes: dict[str, object], cause: Cause) -> None:
    result = fed(Direction(), 5, **changes).assess(5.0)
    assert (result.state, result.causes) == (LinkState.DEGRADED, (cause,))


def test_a_page_that_just_joined_is_not_lost_at_once() -> None:
    """The first report, before any frame decoded: not yet live, but not lost either for a moment."""
    direction = Direction()
    direction.client(healthy(1.0, 0))
    assert direction.assess(1.0).state is not LinkState.LIVE


def test_coverage_counts_live_seconds_and_every_gap_with_its_cause() -> None:
    coverage = Coverage()
    timeline = [(0, True), (1, True), (2, True), (3, False), (4, False), (5, True), (6, True)]
    for at, live in timeline:
        coverage.observe(float(at), live, () if live else ("radiologist:no_frames",))
    coverage.close(7.0)
    assert coverage.live_s == pytest.approx(5.0)
    assert [(g.start, g.end, g.causes) for g in coverage.gaps] == [
        (3.0, 5.0, ("radiologist:no_frames",))
    ]
    assert coverage.gap_s == pytest.approx(2.0)


def test_a_gap_open_at_the_end_is_closed_and_its_causes_accumulate() -> None:
    coverage = Coverage()
    coverage.observe(0.0, True)
    coverage.observe(2.0, False, ("technologist:audio_silent",))
    coverage.observe(3.0, False, ("radiologist:no_reports",))
    coverage.close(4.0)
    assert coverage.live_s == pytest.approx(2.0)
    assert [(g.start, g.end) for g in coverage.gaps] == [(2.0, 4.0)]
    assert coverage.gaps[0].causes == ("technologist:audio_silent", "radiologist:no_reports")


@st.composite
def evidence(draw: st.DrawFn) -> tuple[Direction, float]:
    """A direction fed a random second-by-second history: counters that move or stall, levels
    loud or silent, poor or good figures, server verdicts now and then; and a moment after it."""
    direction = Direction(monitored=draw(st.booleans()))
    at, frames, packets = 0.0, 0, 0
    for _ in range(draw(st.integers(1, 12))):
        at += draw(st.sampled_from([0.3, 1.0, 1.0, 1.0, 1.7, 2.5]))
        frames += draw(st.sampled_from([0, 0, 30]))
        packets += draw(st.sampled_from([0, 50, 50]))
        direction.client(
            ClientReport(
                at=at,
                frames_decoded=frames,
                fps=draw(st.sampled_from([0.0, 3.0, 30.0])),
                audio_packets=packets,
                audio_level=draw(st.sampled_from([0.0, 0.05])),
                rtt_ms=draw(st.sampled_from([None, 20.0, 800.0])),
                loss=draw(st.sampled_from([0.0, 0.3])),
                jitter_ms=5.0,
                bitrate_kbps=900.0,
                candidate="host",
            )
        )
        if draw(st.booleans()):
            direction.server(
                ServerEvidence(
                    at=at + draw(st.floats(0.0, 1.0)),
                    kind=draw(st.sampled_from(["video", "audio"])),
                    verdict=draw(st.sampled_from(list(Verdict))),
                )
            )
    return direction, at + draw(st.sampled_from([0.0, 0.1, 0.5, 1.2, 3.0, 6.0]))


@settings(max_examples=400, deadline=None)
@given(evidence(), st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8))
def test_nothing_changes_before_next_change(
    case: tuple[Direction, float], fractions: list[float]
) -> None:
    """Without new evidence the assessment at any moment before ``next_change`` is the one of now:
    a watch that assesses only on evidence and at ``next_change`` misses no change."""
    direction, now = case
    due = direction.next_change(now)
    assert due >= now
    horizon = min(due, now + 30.0)
    before = direction.assess(now)
    for fraction in [*fractions, 1.0]:
        moment = now + fraction * (horizon - now) - (1e-6 if fraction == 1.0 else 0.0)
        if now <= moment < due:
            assert direction.assess(moment) == before, (now, moment, due)


def test_next_change_is_when_a_stopped_page_turns_lost() -> None:
    """The report going stale is the next change of a healthy direction; after it, only new
    evidence changes anything."""
    direction = fed(Direction(), 5)
    assert direction.next_change(5.2) == pytest.approx(5.0 + REPORT_STALE_S)
    assert direction.assess(5.0 + REPORT_STALE_S + 0.01).state is LinkState.LOST
    assert direction.next_change(20.0) == math.inf
