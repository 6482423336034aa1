"""How many contrast sessions a room has, hour by hour, like an outpatient imaging centre: busy on
weekday daytime, some evening work, thin nights, Saturday about half a weekday, Sunday a third.
Hours and weekdays are the facility's own (its time zone, DST included).
"""

from __future__ import annotations

import math
import random
import zoneinfo
from datetime import datetime, timedelta

# Relative volume by local hour, 00 to 23; by local weekday, Monday to Sunday.
BY_HOUR = (
    0.05, 0.04, 0.04, 0.04, 0.05, 0.08, 0.25, 0.70, 1.00, 1.00, 1.00, 1.00,
    0.85, 0.95, 1.00, 1.00, 0.95, 0.80, 0.50, 0.35, 0.30, 0.20, 0.12, 0.07,
)  # fmt: skip
BY_WEEKDAY = (1.0, 1.0, 1.0, 1.0, 0.95, 0.5, 0.33)
WEEKDAY_SUM = sum(BY_HOUR)  # a Monday's weight: ``per_room_weekday`` sessions
HOUR = timedelta(hours=1)


def hours(start: datetime, end: datetime) -> list[datetime]:
    """The UTC hours that start in [start, end), from the hour ``start`` falls in."""
    first = start.replace(minute=0, second=0, microsecond=0)
    count = math.ceil((end - first) / HOUR)
    return [first + i * HOUR for i in range(count)]


def weights(zone: zoneinfo.ZoneInfo, utc_hours: list[datetime]) -> list[float]:
    """Each UTC hour's share of a weekday's volume at a facility in ``zone``."""
    out = []
    for at in utc_hours:
        local = at.astimezone(zone)
        out.append(BY_HOUR[local.hour] * BY_WEEKDAY[local.weekday()] / WEEKDAY_SUM)
    return out


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method: ``mean`` is a few per hour at most here)."""
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def arrivals(rng: random.Random, mean: float, hour_start: float) -> list[float]:
    """Request moments (epoch seconds) in the hour from ``hour_start``, sorted."""
    return sorted(hour_start + rng.random() * 3600.0 for _ in range(poisson(rng, mean)))
