"""The media monitor against a real aiortc sender over loopback ICE (no ICE servers).

The sender stands in for a page's monitored copy: media.synthetic's camera at 1 frame a second (as
the browser is asked to send it) and microphone, offered to a ``MediaMonitor`` whose answer the
sender applies. Detection times are measured on the monitor's clock and printed (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from media.analysis import AudioVerdict, VideoVerdict
from media.candidates import AllowedPeers, allowed_peers
from media.monitor import (
    Evidence,
    Kind,
    MediaMonitor,
    MonitorClosed,
    MonitorError,
    MonitorState,
)
from media.synthetic import AudioMode, SyntheticAudioTrack, SyntheticVideoTrack, VideoMode
from tests.udp_trap import answer_once_checked, udp_trap

FPS = 1.0  # what the page sends the monitor
LOSS_BUDGET = 2.0  # the issue: a lost direction shows within 2 s


@dataclass
class Sender:
    """A page's monitored copy: one aiortc peer sending a synthetic camera and microphone, and
    the evidence the monitor reported about it (its ``on_evidence`` calls, in order)."""

    pc: RTCPeerConnection
    evidence: list[Evidence] = field(default_factory=list)

    def cut_the_network(self) -> None:
        """Close the sender's UDP sockets under it: nothing more reaches the monitor, no goodbye."""
        for transceiver in self.pc.getTransceivers():
            connection = transceiver.sender.transport.transport._connection
            for protocol in connection._protocols:
                protocol.transport.close()


async def offer_from(
    video: VideoMode = VideoMode.PATTERN, audio: AudioMode = AudioMode.TONE
) -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(SyntheticAudioTrack(mode=audio))
    pc.addTrack(SyntheticVideoTrack(fps=FPS, mode=video, label="monitored"))
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def here() -> AllowedPeers:
    """What the service allows a page on this host (a request from 127.0.0.1)."""
    return await allowed_peers("127.0.0.1", [], relay_only=False)


@asynccontextmanager
async def monitored(
    video: VideoMode = VideoMode.PATTERN,
    audio: AudioMode = AudioMode.TONE,
) -> AsyncIterator[tuple[MediaMonitor, Sender]]:
    """A monitor answering a synthetic sender; both closed on the way out."""
    evidence: list[Evidence] = []
    monitor = MediaMonitor(ice_servers=[], on_evidence=evidence.append, label="test")
    pc, offer = await offer_from(video, audio)
    sender = Sender(pc, evidence)
    try:
        answer = await monitor.accept_offer(offer, await here())
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        yield monitor, sender
    finally:
        await monitor.close()  # first: the sender leaving would be evidence too
        await pc.close()


def since_cut(evidence: Evidence, cut_at: float) -> float:
    return evidence.at - cut_at


async def test_moving_pattern_and_tone_are_ok() -> None:
    """A healthy camera and microphone: video and audio evidence ok, with their measurements."""
    async with monitored() as (monitor, sender):
        video = await monitor.wait_for_verdict(Kind.VIDEO, VideoVerdict.OK, timeout=5)
        audio = await monitor.wait_for_verdict(Kind.AUDIO, AudioVerdict.OK, timeout=5)
        await asyncio.sleep(2.2)  # two more samples: the pattern keeps moving
    assert video.luminance is not None
    assert video.luminance > 100
    assert video.contrast is not None
    assert video.contrast > 20
    assert audio.rms_dbfs is not None
    assert -20 < audio.rms_dbfs < -14
    assert 40 <= audio.frame_rate <= 60  # 20 ms packets
    videos = [e for e in sender.evidence if e.kind is Kind.VIDEO]
    assert [e.verdict for e in sender.evidence] == ["ok"] * len(sender.evidence)
    assert all(e.difference is not None and e.difference > 0.5 for e in videos[1:]), videos
    assert 0.5 <= videos[-1].frame_rate <= 1.5
    assert monitor.verdicts() == {Kind.VIDEO: "ok", Kind.AUDIO: "ok"}
    assert monitor.frames_received[Kind.AUDIO] > 100


async def test_evidence_comes_about_once_a_second_per_kind() -> None:
    """Over ~3 s the monitor reports each kind about 3 times (audio: not once per 20 ms frame)."""
    async with monitored() as (monitor, sender):
        await monitor.wait_for_verdict(Kind.VIDEO, "ok", timeout=5)
        started = len(sender.evidence)
        await asyncio.sleep(3.0)
        recent = sender.evidence[started:]
    for kind in Kind:
        times = [e.at for e in recent if e.kind is kind]
        assert 2 <= len(times) <= 4, (kind, times)
        assert all(b - a > 0.7 for a, b in itertools.pairwise(times)), (kind, times)


async def test_black_camera_is_reported_black() -> None:
    """A camera sending black frames is black, not ok, from its first sample."""
    async with monitored(video=VideoMode.BLACK) as (monitor, sender):
        black = await monitor.wait_for_verdict(Kind.VIDEO, VideoVerdict.BLACK, timeout=5)
        await monitor.wait_for_verdict(Kind.AUDIO, AudioVerdict.OK, timeout=5)
    assert black.luminance is not None
    assert black.luminance < 5
    assert not [e for e in sender.evidence if e.kind is Kind.VIDEO and e.verdict == "ok"]


async def test_frozen_picture_is_reported_frozen() -> None:
    """The same picture sample after sample is frozen by the third sample (~2 s of no change)."""
    async with monitored(video=VideoMode.FROZEN) as (monitor, _sender):
        first = await monitor.wait_for_verdict(Kind.VIDEO, VideoVerdict.OK, timeout=5)
        frozen = await monitor.wait_for_verdict(Kind.VIDEO, VideoVerdict.FROZEN, timeout=6)
    print(f"frozen reported {frozen.at - first.at:.2f} s after the first sample")
    assert frozen.difference is not None
    assert frozen.difference < 0.1
    assert frozen.luminance is not None
    assert frozen.luminance > 100
    assert 1.5 < frozen.at - first.at < 3.5


async def test_silent_microphone_is_reported_silent() -> None:
    """A microphone sending digital silence is silent while the camera stays ok."""
    async with monitored(audio=AudioMode.SILENCE) as (monitor, sender):
        silent = await monitor.wait_for_verdict(Kind.AUDIO, AudioVerdict.SILENT, timeout=5)
        await monitor.wait_for_verdict(Kind.VIDEO, VideoVerdict.OK, timeout=5)
    assert silent.rms_dbfs is not None
    assert silent.rms_dbfs < -80
    assert silent.frame_rate > 40  # packets keep coming: silence is not loss
    assert not [e for e in sender.evidence if e.kind is Kind.AUDIO and e.verdict != "silent"]


async def test_sender_closing_its_peer_connection_is_lost_within_2_s() -> None:
    """The sender closes its peer connection: both kinds are reported lost within 2 s."""
    async with monitored() as (monitor, sender):
        await monitor.wait_for_verdict(Kind.VIDEO, "ok", timeout=5)
        await monitor.wait_for_verdict(Kind.AUDIO, "ok", timeout=5)
        closed_at = time.monotonic()
        await sender.pc.close()
        lost = {kind: await monitor.wait_for_verdict(kind, "lost", timeout=4) for kind in Kind}
    took = {kind.value: round(since_cut(e, closed_at), 3) for kind, e in lost.items()}
    print(f"peer connection closed: lost after {took} s")
    assert max(took.values()) < LOSS_BUDGET, f"lost reported after {took} s"


async def test_network_cut_without_goodbye_is_lost_within_2_s() -> None:
    """The sender's sockets close under it (no BYE, no DTLS close): the watchdog reports both kinds
    lost together within 2 s (audio's packets are the heartbeat), then again about every second
    while the loss lasts."""
    async with monitored() as (monitor, sender):
        await monitor.wait_for_verdict(Kind.VIDEO, "ok", timeout=5)
        await monitor.wait_for_verdict(Kind.AUDIO, "ok", timeout=5)
        cut_at = time.monotonic()
        sender.cut_the_network()
        lost = {kind: await monitor.wait_for_verdict(kind, "lost", timeout=4) for kind in Kind}
        await asyncio.sleep(1.3)
        video_lost = [e for e in sender.evidence if e.kind is Kind.VIDEO and e.verdict == "lost"]
        assert monitor.state is MonitorState.RECEIVING
    took = {kind.value: round(since_cut(e, cut_at), 3) for kind, e in lost.items()}
    print(f"network cut: lost after {took} s")
    assert max(took.values()) < LOSS_BUDGET, f"lost reported after {took} s"
    audio_silent_for = lost[Kind.AUDIO].since_last_frame
    assert audio_silent_for is not None
    assert audio_silent_for >= 1.0
    assert len(video_lost) >= 2  # repeated while it lasts
    assert video_lost[-1].since_last_frame is not None
    assert video_lost[-1].since_last_frame > video_lost[0].since_last_frame  # type: ignore[operator]


async def test_camera_stopping_while_the_microphone_goes_on_is_video_lost_alone() -> None:
    """The camera track stops (no goodbye) but sound keeps coming: video is lost 2.5 s (its own
    threshold, for the jitter of one frame a second) after the camera's last frame, audio stays ok.

    The last frame is the one the sender was already pacing when stopped (~1 s later): aiortc hands
    over a frame only when the next one starts arriving, so that one is never seen."""
    async with monitored() as (monitor, sender):
        await monitor.wait_for_verdict(Kind.VIDEO, "ok", timeout=5)
        await monitor.wait_for_verdict(Kind.AUDIO, "ok", timeout=5)
        stopped_at = time.monotonic()
        next(s.track for s in sender.pc.getSenders() if s.track.kind == "video").stop()
        lost = await monitor.wait_for_verdict(Kind.VIDEO, "lost", timeout=5)
        audio = monitor.latest(Kind.AUDIO)
    took = since_cut(lost, stopped_at)
    print(f"camera stopped: video lost after {took:.3f} s")
    assert 2.5 < took < 2.5 + 1.0 + 0.3, f"video lost after {took:.3f} s"
    assert audio is not None
    assert audio.verdict == "ok"
    assert not [e for e in sender.evidence if e.kind is Kind.AUDIO and e.verdict != "ok"]


async def test_a_new_offer_after_a_loss_brings_the_evidence_back() -> None:
    """The page reconnects with a new offer: the same monitor answers it and reports ok again."""
    async with monitored() as (monitor, sender):
        await monitor.wait_for_verdict(Kind.VIDEO, "ok", timeout=5)
        sender.cut_the_network()
        await monitor.wait_for_verdict(Kind.VIDEO, "lost", timeout=4)
        pc, offer = await offer_from()
        try:
            answer = await monitor.accept_offer(offer, await here())
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            back = await monitor.wait_for_verdict(Kind.VIDEO, "ok", timeout=5)
            await monitor.wait_for_verdict(Kind.AUDIO, "ok", timeout=5)
        finally:
            await pc.close()
    assert back.difference is None  # a picture from before the gap is not compared with


async def test_trickled_candidates_connect() -> None:
    """An offer without candidates (a trickling browser) connects once they are added."""
    monitor = MediaMonitor(ice_servers=[], label="trickle")
    pc, offer = await offer_from()
    lines = re.findall(r"^a=(candidate:.*?)\r?$", offer, flags=re.MULTILINE)
    bare = re.sub(r"^a=(candidate:.*|end-of-candidates)\r?\n", "", offer, flags=re.MULTILINE)
    assert lines
    assert "a=candidate" not in bare
    assert "end-of-candidates" not in bare
    try:
        answer = await monitor.accept_offer(bare, await here(), trickle=True)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        for line in lines:
            await monitor.add_candidate(line, sdp_mid="0")
        await monitor.add_candidate(None)
        await monitor.wait_for_verdict(Kind.VIDEO, "ok", timeout=5)
    finally:
        await pc.close()
        await monitor.close()


async def test_trickled_candidates_elsewhere_are_dropped() -> None:
    """A trickled candidate at 127.0.0.2, ranked first, is dropped: the page's own candidates connect and
    127.0.0.2 never gets a packet."""
    monitor = MediaMonitor(ice_servers=[], label="trickle-trap")
    pc, offer = await offer_from()
    lines = re.findall(r"^a=(candidate:.*?)\r?$", offer, flags=re.MULTILINE)
    bare = re.sub(r"^a=(candidate:.*|end-of-candidates)\r?\n", "", offer, flags=re.MULTILINE)
    try:
        async with udp_trap("127.0.0.2") as trap:
            answer = await monitor.accept_offer(bare, await here(), trickle=True)
            for line in [trap.candidate(), *lines]:
                await monitor.add_candidate(line, sdp_mid="0")
            await monitor.add_candidate(None)
            await answer_once_checked(pc, answer)
            await monitor.wait_for_verdict(Kind.VIDEO, "ok", timeout=5)
            assert trap.packets == []
    finally:
        await pc.close()
        await monitor.close()


async def test_an_offer_that_never_connects_is_lost_after_the_first_frame_timeout() -> None:
    """Nothing ever arrives (the sender never applies the answer): lost after first_frame_timeout,
    with no last frame to speak of."""
    monitor = MediaMonitor(ice_servers=[], label="silent-peer", first_frame_timeout=0.5)
    pc, offer = await offer_from()
    try:
        await monitor.accept_offer(offer, await here())
        lost = await monitor.wait_for_verdict(Kind.VIDEO, "lost", timeout=3)
    finally:
        await pc.close()
        await monitor.close()
    assert lost.since_last_frame is None
    assert monitor.frames_received == {Kind.VIDEO: 0, Kind.AUDIO: 0}


async def test_a_failing_callback_does_not_stop_the_monitor() -> None:
    """on_evidence raising is logged; evidence keeps coming."""
    calls: list[Evidence] = []

    def broken(evidence: Evidence) -> None:
        calls.append(evidence)
        raise RuntimeError("the consumer is broken")

    monitor = MediaMonitor(ice_servers=[], on_evidence=broken, label="broken")
    pc, offer = await offer_from()
    try:
        answer = await monitor.accept_offer(offer, await here())
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await monitor.wait_for_verdict(Kind.VIDEO, "ok", timeout=5)
        await monitor.wait_for_verdict(Kind.AUDIO, "ok", timeout=5)
    finally:
        await pc.close()
        await monitor.close()
    assert len(calls) >= 2


async def test_offers_it_cannot_answer_are_refused() -> None:
    """An offer sending no media, or text that is not SDP, raises MonitorError naming it."""
    monitor = MediaMonitor(ice_servers=[])
    receive_only = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receive_only.addTransceiver("video", direction="recvonly")
    try:
        await receive_only.setLocalDescription(await receive_only.createOffer())
        with pytest.raises(MonitorError, match="sending audio or video"):
            await monitor.accept_offer(receive_only.localDescription.sdp, await here())
        with pytest.raises(MonitorError, match="does not parse"):
            await monitor.accept_offer("v=0\r\nm=video\r\n", await here())
        with pytest.raises(MonitorError, match="candidate first"):
            await monitor.add_candidate("candidate:1 1 udp 1 127.0.0.1 9 typ host", sdp_mid="0")
        assert monitor.state is MonitorState.NEW
    finally:
        await receive_only.close()
        await monitor.close()


async def test_a_closed_monitor_refuses_offers_and_leaves_no_task_behind() -> None:
    """After close() no task of the monitor or of aiortc runs, and a new offer is refused."""
    before = asyncio.all_tasks()
    async with monitored() as (monitor, _):
        await monitor.wait_for_verdict(Kind.VIDEO, "ok", timeout=5)
    await monitor.close()  # twice is harmless
    assert monitor.state is MonitorState.CLOSED
    assert not {t for t in asyncio.all_tasks() - before if not t.done()}
    with pytest.raises(MonitorClosed, match="expected state"):
        await monitor.accept_offer("v=0", await here())
