"""A UDP socket that a test names as an ICE candidate, to see whether the server sends it anything.

Linux routes all of 127.0.0.0/8 on ``lo``: a trap on 127.0.0.2 or 127.0.0.3 is an address that is
neither the requester's (127.0.0.1) nor this host's own interface addresses, yet reachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCSessionDescription

STUN_MAGIC_COOKIE = bytes.fromhex("2112a442")  # RFC 5389: bytes 4-8 of every STUN message


@dataclass
class _Collector(asyncio.DatagramProtocol):
    packets: list[bytes] = field(default_factory=list)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.packets.append(data)


@dataclass
class UdpTrap:
    """One bound UDP socket and every datagram it received."""

    host: str
    port: int
    collector: _Collector

    @property
    def packets(self) -> list[bytes]:
        return self.collector.packets

    @property
    def stun_packets(self) -> list[bytes]:
        return [p for p in self.packets if len(p) >= 20 and p[4:8] == STUN_MAGIC_COOKIE]

    def candidate(self, foundation: str = "9", priority: int = 2**31 - 1) -> str:
        """A host candidate at the trap, ranked above any real one (checked first)."""
        return f"candidate:{foundation} 1 udp {priority} {self.host} {self.port} typ host"


@contextlib.asynccontextmanager
async def udp_trap(host: str) -> AsyncIterator[UdpTrap]:
    loop = asyncio.get_running_loop()
    transport, collector = await loop.create_datagram_endpoint(_Collector, local_addr=(host, 0))
    try:
        yield UdpTrap(host, int(transport.get_extra_info("sockname")[1]), collector)
    finally:
        transport.close()


def with_candidates(sdp: str, *candidates: str) -> str:
    """``sdp`` with ``candidates`` (``candidate:...``) added to every media section, before its
    ``a=end-of-candidates`` (aiortc's offers end each section's candidates so)."""
    lines = "".join(f"a={c}\r\n" for c in candidates)
    edited, count = re.subn(
        r"^a=end-of-candidates\r?$", lines + "a=end-of-candidates", sdp, flags=re.M
    )
    assert count, "expected an offer whose sections end their candidates"
    return edited


def only_candidates(sdp: str, *candidates: str) -> str:
    """``sdp`` with its own candidates replaced by ``candidates``."""
    bare = re.sub(r"^a=candidate:.*\r?\n", "", sdp, flags=re.M)
    return with_candidates(bare, *candidates)


async def answer_once_checked(pc: RTCPeerConnection, answer: str, timeout: float = 10) -> None:
    """Apply the server's answer only once the server's first connectivity check reached the page.

    Until the page has the answer it cannot check back, so the server's own check list runs in
    priority order (a trap ranked first is checked before the page's real candidates) instead of
    ICE completing at once on the page's checks; then the page goes on as usual.
    """
    connection = pc.getTransceivers()[0].sender.transport.transport._connection
    deadline = time.monotonic() + timeout
    while not connection._early_checks:
        assert time.monotonic() < deadline, f"the server sent no connectivity check in {timeout} s"
        await asyncio.sleep(0.01)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
