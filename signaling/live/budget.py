"""One socket's message budget: a token bucket, and patience for messages over it.

Each message takes a token; tokens come back at ``rate`` a second up to ``burst``. A message with no
token left is refused (the socket answers ``rate_limited`` and does nothing else with it) and uses up
patience, which also comes back at ``rate`` a second up to ``burst``: a client that goes over now and
then is only refused; one that keeps sending at about twice the rate or more runs out of patience
and is closed. Time is a parameter (monotonic seconds).
"""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    TAKEN = "taken"
    REFUSED = "refused"
    FLOODING = "flooding"


class Bucket:
    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate, self.capacity = rate, capacity
        self.level, self._at = capacity, now

    def take(self, now: float) -> bool:
        self.level = min(self.capacity, self.level + (now - self._at) * self.rate)
        self._at = now
        if self.level >= 1.0:
            self.level -= 1.0
            return True
        return False


class MessageBudget:
    """``rate`` 0 turns the budget off: every message is taken."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self._tokens = Bucket(rate, burst, now)
        self._patience = Bucket(rate, burst, now)

    def spend(self, now: float) -> Verdict:
        if self.rate <= 0 or self._tokens.take(now):
            return Verdict.TAKEN
        return Verdict.REFUSED if self._patience.take(now) else Verdict.FLOODING

    def describe(self) -> str:
        return f"at most {self.rate:g} messages a second (bursts of {self.burst})"
