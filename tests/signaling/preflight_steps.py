"""A page's pre-flight check, done by a real aiortc peer with synthetic camera and microphone."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from media.synthetic import AudioMode, SyntheticAudioTrack, SyntheticVideoTrack, VideoMode
from tests.live import LiveServer, api
from tests.udp_trap import answer_once_checked

FPS = 10.0  # a browser sends more; a test on two shared cores need not


def new_device() -> str:
    """A device id as a page makes one (random, kept in localStorage)."""
    return secrets.token_urlsafe(16)


async def page_offer(
    video: VideoMode | None = VideoMode.PATTERN, audio: AudioMode | None = AudioMode.TONE
) -> tuple[RTCPeerConnection, str]:
    """A sending peer connection and its offer, every candidate in it (aiortc gathers first)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    if audio is not None:
        pc.addTrack(SyntheticAudioTrack(mode=audio))
    if video is not None:
        pc.addTrack(SyntheticVideoTrack(fps=FPS, mode=video, label="preflight"))
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def measured_network(pc: RTCPeerConnection) -> dict[str, Any]:
    """What a page reports: round trip and loss from the receiver's reports, the candidate type
    (aiortc does not expose the selected pair; over loopback without ICE servers it is host)."""
    rtts, lost, sent = [], 0, 0
    for stat in (await pc.getStats()).values():
        if stat.type == "remote-inbound-rtp":
            lost += max(0, stat.packetsLost or 0)
            if stat.roundTripTime is not None:
                rtts.append(stat.roundTripTime * 1000)
        elif stat.type == "outbound-rtp":
            sent += stat.packetsSent or 0
    return {
        "rtt_ms": max(rtts) if rtts else None,
        "loss": min(1.0, lost / sent) if sent else None,
        "candidate": "host",
    }


@dataclass
class CheckRun:
    started: dict[str, Any]
    check: dict[str, Any]
    seconds: float  # from the click (building the offer) to the verdict in hand


async def run_check(
    server: LiveServer,
    token: str,
    device_id: str,
    *,
    video: VideoMode | None = VideoMode.PATTERN,
    audio: AudioMode | None = AudioMode.TONE,
    label: str = "aiortc test page",
    edit: Callable[[str], str] = str,
    late: bool = False,
) -> CheckRun:
    """Click to verdict as the page does it: offer, answer, send for ``capture_s``, report.
    ``edit`` changes the offer on its way; ``late``: apply the answer once the server's checks
    arrive (``tests.udp_trap.answer_once_checked``)."""
    clicked = time.perf_counter()
    pc, offer = await page_offer(video, audio)
    try:
        async with api(server, token) as client:
            response = await client.post(
                "/api/preflight/checks",
                json={"sdp": edit(offer), "device_id": device_id, "device_label": label},
            )
            assert response.status_code == 201, response.text
            started = response.json()
            if late:
                await answer_once_checked(pc, started["sdp"])
            else:
                answer = RTCSessionDescription(sdp=started["sdp"], type="answer")
                await pc.setRemoteDescription(answer)
            await asyncio.sleep(started["capture_s"])
            network = await measured_network(pc)
            finished = await client.post(
                f"/api/preflight/checks/{started['check_id']}/finish", json=network
            )
            assert finished.status_code == 200, finished.text
            return CheckRun(started, finished.json()["check"], time.perf_counter() - clicked)
    finally:
        await pc.close()
