"""A report's values in words an auditor reads without a key: every number with its unit, weekdays
and hours by name, dates in words, and each card's change against the previous period with an
arrow and whether it is better or worse.

The columns the contract fixes carry a meaning beyond their unit: ``weekday`` (0 = Monday) is
printed as the day's name, ``hour`` (0..23) as ``"14:00"``, an ISO date (``week``) as
``"2 Mar 2026"``, and a histogram's open upper bound (``hi_s`` None) as ``"and over"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal

from signaling.reports.shape import Card, Column, Unit, Value

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NONE = "\u2013"  # an en dash: no value (the review's legend says so)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def count_words(n: int, noun: str) -> str:
    """``"1 session"``, ``"1,204 sessions"``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def seconds_words(value: float | int) -> str:
    """``"42.0 s"`` (a measured float, to the tenth), ``"180 s"`` (a whole number of seconds
    such as a bin's edge); from ten minutes on ``"12 min 05 s"``. A latency is read against 30 s
    and 90 s, so seconds stay seconds as long as they are readable."""
    if value < 600:
        return f"{value} s" if isinstance(value, int) else f"{value:.1f} s"
    whole = round(value)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def day_month(iso: str) -> str:
    """``"2026-03-02"`` as ``"2 Mar"`` (chart ticks)."""
    day = date.fromisoformat(iso)
    return f"{day.day} {day:%b}"


def date_words(day: date) -> str:
    """``"2 Mar 2026"``."""
    return f"{day.day} {day:%b %Y}"


def figure(value: float | int | None, unit: Unit) -> str:
    """One value with its unit: ``"1,204"``, ``"42.1 s"``, ``"12.5%"``, ``"1.53 per 1,000"``."""
    if value is None:
        return NONE
    if unit == "count":
        return (
            f"{value:,}"
            if isinstance(value, int) or float(value).is_integer()
            else (f"{value:,.1f}")
        )
    if unit == "seconds":
        return seconds_words(value)
    if unit == "share":
        return f"{float(value) * 100:.1f}%"
    if unit == "per_1000":
        return f"{float(value):.2f} per 1,000"
    return str(value)


def cell(value: Value, column: Column) -> str:
    """A table cell for the printed review (see the module's docstring for the named columns)."""
    if column.key == "weekday" and isinstance(value, int) and 0 <= value < 7:
        return WEEKDAYS[value]
    if column.key == "hour" and isinstance(value, int) and 0 <= value < 24:
        return f"{value:02d}:00"
    if column.key == "hi_s" and value is None:
        return "and over"
    if isinstance(value, str):
        return date_words(date.fromisoformat(value)) if _ISO_DATE.match(value) else value
    return figure(value, column.unit)


@dataclass(frozen=True)
class Change:
    """A card's change in words: ``arrow`` ▲ ▼ or = , ``words`` ("4.2 s longer than the previous
    period's 38.0 s"), ``verdict`` ("better", "worse" or "")."""

    arrow: str
    words: str
    verdict: Literal["better", "worse", ""]


_MORE_LESS: dict[Unit, tuple[str, str]] = {
    "count": ("more", "fewer"),
    "seconds": ("longer", "shorter"),
    "share": ("higher", "lower"),
    "per_1000": ("higher", "lower"),
    "text": ("higher", "lower"),
}


def change(card: Card) -> Change:
    """How ``card`` moved against the previous period of the same length. A change that rounds to
    nothing at the precision printed is no change."""
    if card.previous is None:
        return Change("", "no figure for the previous period", "")
    before = figure(card.previous, card.unit)
    if card.value is None:
        return Change("", f"none this period; the previous period's was {before}", "")
    delta = card.change or 0.0
    amount = _amount(abs(delta), card.unit)
    if amount is None:
        return Change("=", f"no change from the previous period's {before}", "")
    up = delta > 0
    more, less = _MORE_LESS[card.unit]
    verdict: Literal["better", "worse", ""] = ""
    if card.better is not None:
        verdict = "better" if up == (card.better == "higher") else "worse"
    return Change(
        "▲" if up else "▼",
        f"{amount} {more if up else less} than the previous period's {before}",
        verdict,
    )


def _amount(delta: float, unit: Unit) -> str | None:
    """``delta`` (>= 0) as printed, or None when it prints as zero."""
    if unit == "share":
        points = round(delta * 100, 1)
        return None if points == 0 else f"{points:.1f} point{'' if points == 1 else 's'}"
    if unit == "seconds":
        return None if round(delta, 1) == 0 else seconds_words(round(delta, 1))
    if unit == "per_1000":
        return None if round(delta, 2) == 0 else f"{delta:.2f} per 1,000"
    if round(delta, 1) == 0:
        return None
    return f"{delta:,.0f}" if float(delta).is_integer() else f"{delta:,.1f}"


def local_period(start: datetime, end: datetime, zone: tzinfo) -> str:
    """A half-open UTC period as the local days it covers: ``"Monday 2 March 2026 to Sunday 29
    March 2026"``; with times where it does not start or end at local midnight."""
    first, last = start.astimezone(zone), (end - timedelta(microseconds=1)).astimezone(zone)
    midnight = first.time() == datetime.min.time() and end.astimezone(zone).time() == (
        datetime.min.time()
    )
    if midnight:
        if first.date() == last.date():
            return _long_day(first.date())
        return f"{_long_day(first.date())} to {_long_day(last.date())}"
    finish = end.astimezone(zone)
    return f"{_long_day(first.date())} {first:%H:%M} to {_long_day(finish.date())} {finish:%H:%M}"


def _long_day(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"
