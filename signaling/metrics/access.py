"""Who may read the metrics: a scraper with the configured bearer token, or one at an allowed address.

Nothing is configured: there are no metrics (404, as for any path that does not exist). A request
from one of ``STANDBY_METRICS_ALLOW`` (the client as ``STANDBY_TRUSTED_PROXIES`` decide it) is
answered whatever it sends. Otherwise it needs ``Authorization: Bearer <STANDBY_METRICS_TOKEN>``:
without it, or with another token, 401 with ``WWW-Authenticate: Bearer``; where no token is
configured there is nothing it could send, so 403. A refusal never carries a figure.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from signaling.common.errors import BearerRequired, Forbidden, NotFound
from signaling.config import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

METRICS_OFF = "no metrics here: set STANDBY_METRICS_TOKEN or STANDBY_METRICS_ALLOW to turn them on"


@dataclass(frozen=True)
class ScrapeAccess:
    token: str | None
    allow: tuple[Network, ...]

    @classmethod
    def of(cls, settings: Settings) -> ScrapeAccess:
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
        return cls(token, tuple(settings.metrics_allow))

    @property
    def enabled(self) -> bool:
        return self.token is not None or bool(self.allow)

    def check(self, client: str | None, authorization: str | None) -> None:
        """Returns if a request from ``client`` (None: unknown) with this ``Authorization`` header
        may read the metrics; raises ``NotFound`` (metrics off), ``BearerRequired`` (401) or
        ``Forbidden`` (403) otherwise."""
        if not self.enabled:
            raise NotFound(METRICS_OFF)
        if _allowed(client, self.allow):
            return
        if self.token is None:
            raise Forbidden("this address may not read the metrics (STANDBY_METRICS_ALLOW)")
        presented = _bearer(authorization)
        if presented is None:
            raise BearerRequired("the metrics need Authorization: Bearer <STANDBY_METRICS_TOKEN>")
        if not hmac.compare_digest(presented.encode(), self.token.encode()):
            raise BearerRequired("this bearer token is not the metrics token")


def _bearer(authorization: str | None) -> str | None:
    """The token of ``Bearer <token>`` (the scheme in any case), None for anything else."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _allowed(client: str | None, allow: Sequence[Network]) -> bool:
    if client is None or not allow:
        return False
    try:
        ip = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in allow)
