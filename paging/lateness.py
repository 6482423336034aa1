"""How late the engine takes up its due work: a fixed-bucket tally of seconds past ``due_at``.

The engine observes one value each time it claims a due timer (a tier, a STAT round, the final
action): the moment of the claim minus the time the timer was due. A loaded event loop, a slow
database or a dead worker's timers picked up by another all show here first: a tier meant for
T+30 s that fires at T+45 s is 15 s of a patient waiting. The tally is plain numbers (no metrics
library), so the service can publish it however it likes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Upper bounds, seconds. Healthy is below one poll (50 ms); a second or more means trouble.
BOUNDS_S: tuple[float, ...] = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class LatenessSnapshot:
    """Cumulative counts at each of ``bounds`` (<=), then the total; with the sum of all values."""

    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]  # len(bounds) + 1: the last is every observation (+Inf)
    sum_s: float

    @property
    def count(self) -> int:
        return self.cumulative[-1]


class Lateness:
    """A tally of lateness values, in seconds; negative values (early) count as 0."""

    def __init__(self, bounds: tuple[float, ...] = BOUNDS_S) -> None:
        if list(bounds) != sorted(set(bounds)) or not bounds or not math.isfinite(bounds[-1]):
            raise ValueError(f"bounds must be finite, distinct and ascending: {bounds}")
        self.bounds = bounds
        self._counts = [0] * (len(bounds) + 1)  # per bucket, not cumulative
        self._sum = 0.0

    def observe(self, seconds: float) -> None:
        value = max(0.0, seconds)
        self._sum += value
        for index, bound in enumerate(self.bounds):
            if value <= bound:
                self._counts[index] += 1
                return
        self._counts[-1] += 1

    def snapshot(self) -> LatenessSnapshot:
        running, cumulative = 0, []
        for count in self._counts:
            running += count
            cumulative.append(running)
        return LatenessSnapshot(self.bounds, tuple(cumulative), self._sum)
