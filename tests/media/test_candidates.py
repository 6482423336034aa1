"""Which candidates the server's peers keep: addresses, names, TURN hosts, relay-only."""

from __future__ import annotations

import pytest

from media.candidates import (
    AllowedPeers,
    NoUsableCandidate,
    allowed_peers,
    parse_address,
    screen_offer,
    turn_hosts,
)

TURN = [{"urls": ["turn:127.0.0.4:3478?transport=udp", "turns:[2001:db8::7]:5349"]}]
OFFER = (
    "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"
    "a=candidate:1 1 udp 2130706431 203.0.113.9 5000 typ host\r\n"
    "a=candidate:2 1 udp 1694498815 127.0.0.4 49160 typ relay raddr 0.0.0.0 rport 0\r\n"
    "a=candidate:3 1 udp 2130706431 198.51.100.1 5000 typ host\r\n"
    "a=candidate:4 1 udp 2130706431 c0ffee00-1111-2222-3333-444455556666.local 5 typ host\r\n"
    "a=end-of-candidates\r\n"
)


def test_addresses_are_compared_as_addresses() -> None:
    """IPv4-mapped IPv6 is the IPv4 address, a zone index is dropped, names are no address."""
    assert parse_address("::ffff:203.0.113.9") == parse_address("203.0.113.9")
    assert parse_address("fe80::1%eth0") == parse_address("fe80::1")
    assert parse_address("abc.local") is None
    assert turn_hosts(TURN) == ["127.0.0.4", "2001:db8::7"]


async def test_the_requester_and_the_relay_are_kept_and_nothing_else() -> None:
    """From 203.0.113.9 with a TURN relay: its own and the relay's candidates stay."""
    allowed = await allowed_peers("203.0.113.9", TURN, relay_only=False)
    screened = screen_offer(OFFER, allowed)
    assert (screened.kept, screened.dropped, screened.names) == (2, 1, 1)
    assert "198.51.100.1" not in screened.sdp
    assert ".local" not in screened.sdp
    assert "a=end-of-candidates" in screened.sdp


async def test_relay_only_keeps_the_relay_only() -> None:
    """Relay-only: the requester's own host candidate goes too; without the relay, a refusal."""
    allowed = await allowed_peers("203.0.113.9", TURN, relay_only=True)
    screened = screen_offer(OFFER, allowed)
    assert (screened.kept, screened.dropped) == (1, 2)
    no_relay = screen_offer(OFFER.replace("127.0.0.4", "127.0.0.5"), allowed)
    with pytest.raises(NoUsableCandidate, match=r"at the TURN relay \(127\.0\.0\.4, 2001:db8::7\)"):
        no_relay.require_usable()


def test_an_offer_without_candidates_is_refused_unless_they_will_be_trickled() -> None:
    """No candidate at all: refused (send it once gathering completes), fine when trickling."""
    bare = screen_offer("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n", AllowedPeers(frozenset(), "x"))
    bare.require_usable(trickle=True)
    with pytest.raises(NoUsableCandidate, match="none at all"):
        bare.require_usable()
