"""Who may read the metrics, decided on its own: token, allowed networks, neither configured."""

from __future__ import annotations

import ipaddress

import pytest

from signaling.common.errors import BearerRequired, Forbidden, NotFound
from signaling.metrics.access import ScrapeAccess

TOKEN = "t" * 32
LAN = (ipaddress.ip_network("10.20.0.0/16"), ipaddress.ip_network("2001:db8::/64"))


def test_nothing_configured_is_no_metrics() -> None:
    """Neither a token nor an allow list: 404 for everyone, whatever they send."""
    with pytest.raises(NotFound, match="STANDBY_METRICS_TOKEN"):
        ScrapeAccess(None, ()).check("10.20.0.1", f"Bearer {TOKEN}")


@pytest.mark.parametrize("client", ["10.20.3.4", "2001:db8::7"])
def test_an_allowed_address_needs_no_token(client: str) -> None:
    ScrapeAccess(TOKEN, LAN).check(client, None)
    ScrapeAccess(None, LAN).check(client, "Bearer wrong")


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"  BEARER   {TOKEN} "])
def test_the_token_lets_any_address_in(header: str) -> None:
    ScrapeAccess(TOKEN, LAN).check("198.51.100.7", header)
    ScrapeAccess(TOKEN, ()).check(None, header)


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"]
)
def test_no_or_another_token_is_401(header: str | None) -> None:
    with pytest.raises(BearerRequired):
        ScrapeAccess(TOKEN, LAN).check("198.51.100.7", header)


@pytest.mark.parametrize("client", ["198.51.100.7", "10.21.0.1", "2001:db8:1::1", "unknown", None])
def test_without_a_token_configured_another_address_is_403(client: str | None) -> None:
    with pytest.raises(Forbidden, match="STANDBY_METRICS_ALLOW"):
        ScrapeAccess(None, LAN).check(client, f"Bearer {TOKEN}")
