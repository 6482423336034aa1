"""Who a request comes from: the socket's peer, or behind trusted proxies what they say.

``X-Forwarded-For`` is believed only when the peer is one of ``STANDBY_TRUSTED_PROXIES``: anyone can
write the header, so without a trusted proxy it is ignored. Each proxy appends the address it got the
request from, so the hops are read from the right, skipping trusted ones; the first that is not
trusted is the client (what a client wrote to the left of it is never reached). If every hop is
trusted, the leftmost is the client; if a hop cannot be read as an address, the trusted hop it came
through is used.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import Request

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.split(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: Address, proxies: Sequence[Network]) -> bool:
    return any(ip.version == net.version and ip in net for net in proxies)


def client_address(request: Request, proxies: Sequence[Network]) -> str:
    """The client's address as text (``"unknown"`` if the server gives no peer)."""
    peer_text = request.client.host if request.client else ""
    peer = _parse(peer_text)
    if peer is None:
        return peer_text or "unknown"
    if not proxies or not _trusted(peer, proxies):
        return str(peer)
    hops = [
        hop
        for value in request.headers.getlist("x-forwarded-for")
        for hop in value.split(",")
        if hop.strip()
    ]
    client = peer
    for hop in reversed(hops):
        ip = _parse(hop)
        if ip is None:
            break
        client = ip
        if not _trusted(ip, proxies):
            break
    return str(client)
