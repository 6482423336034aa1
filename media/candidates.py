"""Which remote candidates the server's own peers may send ICE connectivity checks to.

A page's offer (and any candidate it trickles) names the addresses the server's aiortc peer will
send STUN binding requests to. Taken as they come, a logged-in user could make the server send UDP
anywhere. ``AllowedPeers`` is the short list the server's peers accept instead: the address the
request came from (when that is loopback, this host's own addresses: a page on this machine offers
its interface addresses, which aiortc gathers without 127.0.0.1) and the configured TURN relays
(a page behind a firewall, or every page when the service is relay-only, offers the relay's
address). Every other candidate is dropped before aiortc sees it: mDNS names (``*.local``, which
Chromium writes when a page has no camera permission) too, since resolving them would be asking
the network where to send; a page that may use its camera also offers its real addresses.

Usage::

    allowed = await allowed_peers(client_ip, ice_servers, relay_only=False)
    screened = screen_offer(offer_sdp, allowed)   # the offer without the other candidates
    screened.require_usable()                      # NoUsableCandidate if none is left
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aioice.ice import get_host_addresses
from aiortc.sdp import candidate_from_sdp

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

CANDIDATE_LINE = "a=candidate:"
END_OF_CANDIDATES = "a=end-of-candidates"
# turn:host, turn:host:3478?transport=udp, turns:[2001:db8::1]:5349
_TURN_HOST = re.compile(r"^turns?:(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:?\[\]]+))")


class NoUsableCandidate(Exception):
    """Every candidate of an offer points somewhere the server's peer may not send to."""


def parse_address(text: str) -> Address | None:
    """An IP address (an IPv4-mapped IPv6 one as IPv4, a zone index dropped), or None for
    anything else: a host name, an mDNS name, garbage."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True, slots=True)
class AllowedPeers:
    """The remote addresses the server's peer may send connectivity checks to (any port), and
    the words that say so in a refusal."""

    addresses: frozenset[Address]
    expected: str

    def allows(self, host: str) -> bool:
        address = parse_address(host)
        return address is not None and address in self.addresses


def requester_addresses(client: str | None) -> frozenset[Address]:
    """Where a request came from; for a loopback client (a page on this very host), this host's
    interface addresses too, the ones its peer gathers candidates from."""
    address = parse_address(client) if client else None
    if address is None:
        return frozenset()
    if not address.is_loopback:
        return frozenset({address})
    own = (parse_address(a) for a in get_host_addresses(use_ipv4=True, use_ipv6=True))
    return frozenset({address, *(a for a in own if a is not None)})


def turn_hosts(ice_servers: Sequence[Mapping[str, Any]]) -> list[str]:
    """The hosts of every ``turn:`` and ``turns:`` URL among ``ice_servers`` (protocol shape)."""
    hosts: list[str] = []
    for server in ice_servers:
        urls = server.get("urls") or []
        for url in [urls] if isinstance(urls, str) else urls:
            match = _TURN_HOST.match(str(url))
            if match:
                host = match.group("v6") or match.group("host")
                if host not in hosts:
                    hosts.append(host)
    return hosts


async def resolve(hosts: Iterable[str]) -> frozenset[Address]:
    """The addresses of ``hosts`` (IP literals as they are, names through the resolver); a name
    that does not resolve is logged and left out."""
    found: set[Address] = set()
    loop = asyncio.get_running_loop()
    for host in hosts:
        literal = parse_address(host)
        if literal is not None:
            found.add(literal)
            continue
        try:
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
        except OSError as exc:
            log.warning(
                "the TURN host %s does not resolve (%s): its relay is not reachable", host, exc
            )
            continue
        found.update(a for a in (parse_address(str(info[4][0])) for info in infos) if a)
    return frozenset(found)


async def allowed_peers(
    client: str | None, ice_servers: Sequence[Mapping[str, Any]], *, relay_only: bool
) -> AllowedPeers:
    """What the server's peer answering ``client``'s offer may send to: the client's address
    (unless ``relay_only``) and the addresses of the TURN relays among ``ice_servers``."""
    hosts = turn_hosts(ice_servers)
    relays = await resolve(hosts)
    if relays:
        relay_words = f"the TURN relay ({', '.join(sorted(str(a) for a in relays))})"
    else:
        relay_words = f"a TURN relay (none configured that resolves: {', '.join(hosts) or '-'})"
    if relay_only:
        return AllowedPeers(relays, f"{relay_words}: this service is relay-only")
    direct = requester_addresses(client)
    expected = f"{client or 'an unknown address'} (where this request came from)"
    if relays:
        expected += f" or at {relay_words}"
    return AllowedPeers(direct | relays, expected)


class Judged(StrEnum):
    """What ``judge`` made of one candidate."""

    KEPT = "kept"
    ELSEWHERE = "elsewhere"  # an address not allowed, or a line that does not parse
    NAME = "name"  # a host name (mDNS .local among them): never resolved


@dataclass(frozen=True, slots=True)
class Screened:
    """An offer without the candidates its answerer may not use, and what was taken out."""

    sdp: str
    kept: int  # distinct candidates (a bundled offer repeats them in every section)
    dropped: int  # at addresses not allowed, or lines that do not parse
    names: int  # named by host name (mDNS ``.local`` ones among them): never resolved
    ended: bool  # the offer says ``a=end-of-candidates``: nothing will be trickled
    expected: str

    def require_usable(self, *, trickle: bool = False) -> None:
        """Raise ``NoUsableCandidate`` unless a candidate is left; with ``trickle``, an offer
        that carried none at all and did not end its candidates may still get some."""
        if self.kept:
            return
        if trickle and not (self.dropped or self.names or self.ended):
            return
        if not (self.dropped or self.names):
            got = "none at all (send the offer once ICE gathering is complete)"
        else:
            parts = [f"{self.dropped} at other addresses"] if self.dropped else []
            parts += [f"{self.names} by host name (mDNS .local)"] if self.names else []
            got = " and ".join(parts)
        raise NoUsableCandidate(
            f"expected an ICE candidate at {self.expected}, got {got}; "
            "the server sends connectivity checks nowhere else"
        )


def screen_offer(sdp: str, allowed: AllowedPeers) -> Screened:
    """``sdp`` with every ``a=candidate`` line that ``allowed`` does not allow taken out."""
    seen: dict[Judged, set[str]] = {judged: set() for judged in Judged}
    ended = False
    lines: list[str] = []
    for line in sdp.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if bare == END_OF_CANDIDATES:
            ended = True
        elif bare.startswith(CANDIDATE_LINE):
            candidate = bare.removeprefix(CANDIDATE_LINE)
            verdict = judge(candidate, allowed)
            seen[verdict].add(candidate)  # a bundled offer repeats them in every section
            if verdict is not Judged.KEPT:
                continue
        lines.append(line)
    return Screened(
        "".join(lines),
        len(seen[Judged.KEPT]),
        len(seen[Judged.ELSEWHERE]),
        len(seen[Judged.NAME]),
        ended,
        allowed.expected,
    )


def judge(candidate: str, allowed: AllowedPeers) -> Judged:
    """One candidate (``candidate:`` prefix optional): kept, elsewhere, or a host name."""
    try:
        host = candidate_from_sdp(candidate.removeprefix("candidate:")).ip
    except (ValueError, IndexError):
        return Judged.ELSEWHERE  # aiortc could not parse it either
    if parse_address(str(host)) is None:
        return Judged.NAME
    return Judged.KEPT if allowed.allows(str(host)) else Judged.ELSEWHERE
