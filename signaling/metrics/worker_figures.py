"""What one worker alone knows: how late its pager takes up due timers, and its media monitors.

Each worker writes these to the board (``board``) every few seconds, so that a scrape which lands
on any worker shows every worker's, each labelled with the worker it came from (host and process id,
as the pager names itself in its logs).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from paging.engine import Engine
from paging.lateness import LatenessSnapshot
from signaling.checks.monitors import MonitorPool


@dataclass(frozen=True)
class WorkerFigures:
    worker: str  # "host:pid"
    at: float  # epoch seconds when taken
    timer_lateness: LatenessSnapshot
    monitors: int  # media monitors in use
    monitors_max: int  # STANDBY_MONITOR_MAX

    @classmethod
    def of(cls, pager: Engine, monitors: MonitorPool, at: float) -> WorkerFigures:
        """This worker's figures at epoch second ``at``."""
        return cls(pager.worker, at, pager.lateness.snapshot(), len(monitors), monitors.limit)

    def to_json(self) -> str:
        return json.dumps(
            {
                "worker": self.worker,
                "at": self.at,
                "lateness": {
                    "bounds": list(self.timer_lateness.bounds),
                    "cumulative": list(self.timer_lateness.cumulative),
                    "sum": self.timer_lateness.sum_s,
                },
                "monitors": self.monitors,
                "monitors_max": self.monitors_max,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> WorkerFigures:
        """Figures another worker wrote. ValueError if they are not figures of this shape (another
        release's, or anything else under the key)."""
        try:
            data: Any = json.loads(text)
            lateness = data["lateness"]
            bounds = tuple(float(b) for b in lateness["bounds"])
            cumulative = tuple(int(n) for n in lateness["cumulative"])
            figures = cls(
                worker=str(data["worker"]),
                at=float(data["at"]),
                timer_lateness=LatenessSnapshot(bounds, cumulative, float(lateness["sum"])),
                monitors=int(data["monitors"]),
                monitors_max=int(data["monitors_max"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a worker's figures: {exc}") from exc
        ordered = list(cumulative) == sorted(cumulative)
        if len(cumulative) != len(bounds) + 1 or not ordered or not math.isfinite(figures.at):
            raise ValueError("not a worker's figures: buckets do not match their bounds")
        return figures
