"""What history to make: the period, the volume, the seed, and the rates a real service shows.

Every rate has a default from ``/work/shared/DOMAIN.md`` or from how an imaging centre runs; a caller
changes only what its story needs (the demo: one slow radiologist). The same spec and seed over the
same directory make the same history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from signaling.common.errors import InvalidInput
from signaling.sessions.state import CancelReason


def _frozen(values: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(values))


# Reactions per 1,000 administrations (DOMAIN.md: low-osmolar iodinated 1.5-2, allergic-like up to
# about 6 in one series, severe about 0.13-0.2; gadolinium 0.4-0.9, severe about 0.05).
REACTIONS_PER_1000 = _frozen({"iodinated": 3.0, "gadolinium": 0.7})
# Of those reactions, the share by severity (severe: 0.15 of 3.0 iodinated, 0.05 of 0.7 gadolinium).
SEVERITY_SHARES = {
    "iodinated": _frozen({"mild": 0.75, "moderate": 0.20, "severe": 0.05}),
    "gadolinium": _frozen({"mild": 0.73, "moderate": 0.20, "severe": 0.07}),
}
ALLERGIC_LIKE_SHARE = 0.7  # the rest physiologic

# Cancellations per 1,000 requests, by the technologist's reason; ``no_coverage`` is not drawn: it
# is what happens when nobody joins before the technologist gives up.
CANCELS_PER_1000 = _frozen(
    {
        CancelReason.PATIENT_DECLINED.value: 8.0,
        CancelReason.CLINICAL.value: 6.0,
        CancelReason.EQUIPMENT.value: 4.0,
        CancelReason.EXAM_CANCELLED.value: 5.0,
        CancelReason.REQUESTED_IN_ERROR.value: 4.0,
        CancelReason.OTHER.value: 2.0,
    }
)


@dataclass(frozen=True)
class Response:
    """How a paged radiologist answers a page of one tier: the chance they answer it, and the
    median seconds from the page to their verified join (lognormal, ``spread`` its sigma)."""

    answers: float
    median_s: float
    spread: float = 0.32


# By the tier index the person is paged under (0: primary, 1: backup, 2 and later: the pool). With
# the default policy (T+0 / T+10 / T+20 s) the join latency a tier gives is mostly 10-30 s for the
# primary, 30-60 s for the backup, 60-120 s for the pool.
RESPONSES = (Response(0.86, 17.0), Response(0.68, 33.0), Response(0.5, 62.0, 0.3))


@dataclass(frozen=True)
class Slow:
    """A radiologist who accepts at once (by SMS) and joins late: ``join_after_s`` the median
    seconds from their accept to their verified join."""

    join_after_s: float = 88.0
    spread: float = 0.3


@dataclass(frozen=True)
class HistorySpec:
    """History for ``facilities`` (codes; empty: every facility) from ``start`` to ``end`` (aware
    UTC, half-open by ``requested_at``).

    Volume: ``per_room_weekday`` is the mean number of contrast sessions a room has on a weekday
    (Saturday about half, Sunday a third; busy 07-18 local, some evening work, thin nights);
    ``sessions``, when given, overrides it with a total to aim at. Every session ends before
    ``end``: none is left open."""

    start: datetime
    end: datetime
    seed: int = 1
    facilities: frozenset[str] = frozenset()
    per_room_weekday: float = 12.0
    sessions: int | None = None
    accession_prefix: str = "H"
    reactions_per_1000: Mapping[str, float] = field(default_factory=lambda: REACTIONS_PER_1000)
    cancels_per_1000: Mapping[str, float] = field(default_factory=lambda: CANCELS_PER_1000)
    responses: tuple[Response, ...] = RESPONSES
    slow: Mapping[str, Slow] = field(default_factory=dict)  # username -> how late they join
    repage_share: float = 0.012  # joined sessions whose radiologist's media is lost for good
    unverified_injection_share: float = 0.02  # where the facility allows it
    seal: bool = True  # chain the records (else the service's sealer does, after)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InvalidInput("a history period needs times with a time zone")
        if self.end <= self.start:
            raise InvalidInput("a history period must end after it starts")
        if self.per_room_weekday <= 0 or (self.sessions is not None and self.sessions < 1):
            raise InvalidInput("a history needs a positive volume")
        if not self.responses:
            raise InvalidInput("a history needs at least one tier's response")
