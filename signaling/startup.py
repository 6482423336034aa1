"""How long a worker's start took, phase by phase, so a slow start says where its seconds went.

Each phase is logged at INFO as it ends (``start: bus took 0.01 s``), so the log of a start that
hangs ends with the last phase that finished; the ready line sums them up with the process's CPU
time and the machine's load, which tell a starved start (little CPU, high load) from a stuck one.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path


def process_age_s() -> float | None:
    """Seconds since this process started (from ``/proc``), or None where that is not known."""
    try:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        # Field 22 of /proc/self/stat, counted after the command name (which may hold spaces).
        fields = Path("/proc/self/stat").read_text().rpartition(")")[2].split()
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class StartPhases:
    """A stopwatch over a worker's start. With ``since_process_start`` (a worker process of its
    own) the first phase, ``process``, runs from the process's start to the stopwatch's creation:
    the interpreter, the imports and whatever the command did before the app factory (migrating)."""

    def __init__(self, log: logging.Logger, *, since_process_start: bool = False) -> None:
        self._log = log
        self._last = time.monotonic()
        self.phases: list[tuple[str, float]] = []
        age = process_age_s() if since_process_start else None
        if age is not None:
            self._record("process", max(age, 0.0))

    def _record(self, name: str, seconds: float) -> None:
        self.phases.append((name, seconds))
        self._log.info("start: %s took %.2f s", name, seconds)

    def done(self, name: str) -> None:
        """The phase ``name`` ended now (it began when the previous one ended)."""
        now = time.monotonic()
        self._record(name, now - self._last)
        self._last = now

    def summary(self) -> str:
        """``5.21 s (cpu 3.90 s, load average 4.2 on 2 cores): process 4.80 s, app 0.30 s, ...``"""
        total = sum(seconds for _, seconds in self.phases)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.phases)
        return (
            f"{total:.2f} s (cpu {time.process_time():.2f} s, load average {load:.1f} on "
            f"{os.cpu_count()} cores): {parts}"
        )
