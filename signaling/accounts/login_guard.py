"""Slows password guessing: too many failures for one username or one address lock it for a while.

Per worker and in memory: a deliberate floor, not an account lockout (which would let anyone lock a
radiologist out at night). Failures expire after ``window``.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque

from signaling.common.errors import StandbyError


class TooManyAttempts(StandbyError):
    status_code = 429
    code = "too_many_attempts"


class LoginGuard:
    def __init__(self, max_failures: int = 10, window_s: float = 300.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures[key]
        while stamps and now - stamps[0] > self.window_s:
            stamps.popleft()
        return stamps

    def check(self, username: str, address: str) -> None:
        now = time.monotonic()
        for key in (f"u:{username.lower()}", f"a:{address}"):
            stamps = self._recent(key, now)
            if len(stamps) >= self.max_failures:
                wait = int(self.window_s - (now - stamps[0])) + 1
                raise TooManyAttempts(f"too many failed logins; try again in {wait} s")

    def failed(self, username: str, address: str) -> None:
        now = time.monotonic()
        for key in (f"u:{username.lower()}", f"a:{address}"):
            self._recent(key, now).append(now)

    def succeeded(self, username: str, address: str) -> None:
        self._failures.pop(f"u:{username.lower()}", None)
