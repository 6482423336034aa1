"""The ways the response-time report cuts its sessions, each a GROUP BY over ``session_facts``
fields, and how a group's key is shown as the leading cells of a table row (ids are grouped by;
names, looked up once afterwards, are shown)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from signaling.reports.shape import Column, Value

Key = tuple[Any, ...]
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
NOBODY = "nobody joined"
CHANNELS = {"web": "app (web)", "sms": "SMS reply", "voice": "voice keypress"}


@dataclass(frozen=True)
class Names:
    """What ids are shown as: facilities, rooms (their facility's name and their own), people."""

    facilities: dict[int, str]
    rooms: dict[int, tuple[str, str]]
    people: dict[int, str]


@dataclass(frozen=True)
class Breakdown:
    """``fields`` of ``Fact`` grouped by; ``show`` turns a key into ``columns``' cells; ``order``
    sorts keys; ``every`` lists keys shown even without sessions (all hours, all weekdays)."""

    key: str
    title: str
    fields: tuple[str, ...]
    columns: tuple[Column, ...]
    show: Callable[[Key, Names], tuple[Value, ...]]
    order: Callable[[Key, Names], Any]
    every: tuple[Key, ...] = ()


def _person(key: Key, names: Names) -> str:
    (user_id,) = key
    return NOBODY if user_id is None else names.people.get(user_id, f"user {user_id}")


def _tier(key: Key, names: Names) -> tuple[Value, ...]:
    joined, tier = key
    if not joined:
        return (NOBODY,)
    return ("not paged",) if tier is None else (f"tier {tier + 1}",)


def _channel(key: Key, names: Names) -> tuple[Value, ...]:
    joined, via = key
    if not joined:
        return (NOBODY,)
    return (CHANNELS.get(via, via or "no accept recorded"),)


def _last_none(value: Any) -> tuple[bool, Any]:
    return (value is None, value if value is not None else 0)


BREAKDOWNS = (
    Breakdown(
        "by_facility",
        "By facility",
        ("facility_id",),
        (Column("facility", "Facility"),),
        lambda k, n: (n.facilities.get(k[0], ""),),
        lambda k, n: (n.facilities.get(k[0], ""), k[0]),
    ),
    Breakdown(
        "by_room",
        "By room",
        ("room_id",),
        (Column("facility", "Facility"), Column("room", "Room")),
        lambda k, n: n.rooms.get(k[0], ("", "")),
        lambda k, n: (n.rooms.get(k[0], ("", "")), k[0]),
    ),
    Breakdown(
        "by_modality",
        "By modality",
        ("modality",),
        (Column("modality", "Modality"),),
        lambda k, n: (k[0],),
        lambda k, n: k,
    ),
    Breakdown(
        "by_radiologist",
        "By radiologist",
        ("radiologist_id",),
        (Column("radiologist", "Radiologist"),),
        lambda k, n: (_person(k, n),),
        lambda k, n: (k[0] is None, _person(k, n), k[0] or 0),
    ),
    Breakdown(
        "by_tier",
        "By the tier that found the radiologist",
        ("joined", "tier"),
        (Column("tier", "Tier"),),
        _tier,
        lambda k, n: (not k[0], *_last_none(k[1])),
    ),
    Breakdown(
        "by_channel",
        "By the channel that reached the radiologist",
        ("joined", "via"),
        (Column("channel", "Channel"),),
        _channel,
        lambda k, n: (not k[0], *_last_none(k[1])),
    ),
    Breakdown(
        "by_hour",
        "By hour of day (facility time)",
        ("hour",),
        (Column("hour", "Hour", "count"),),
        lambda k, n: (k[0],),
        lambda k, n: k,
        tuple((h,) for h in range(24)),
    ),
    Breakdown(
        "by_weekday",
        "By weekday (facility time)",
        ("weekday",),
        (Column("weekday", "Weekday", "count"), Column("day", "Day")),
        lambda k, n: (k[0], WEEKDAYS[k[0]]),
        lambda k, n: k,
        tuple((d,) for d in range(7)),
    ),
    Breakdown(
        "by_week",
        "By week (Monday, facility time)",
        ("week",),
        (Column("week", "Week of"),),
        lambda k, n: (k[0].isoformat(),),
        lambda k, n: k,
    ),
    Breakdown(
        "by_month",
        "By month (facility time)",
        ("month",),
        (Column("month", "Month"),),
        lambda k, n: (k[0].strftime("%Y-%m"),),
        lambda k, n: k,
    ),
)

TOTAL: tuple[str, ...] = ()
HISTOGRAM = ("bin",)
WEEKLY = ("week",)
WEEKDAY_HOUR = ("weekday", "hour")

# Every GROUP BY the report needs, each once: the totals, each breakdown, the three chart tables.
GROUPINGS: tuple[tuple[str, ...], ...] = tuple(
    dict.fromkeys([TOTAL, *(b.fields for b in BREAKDOWNS), HISTOGRAM, WEEKLY, WEEKDAY_HOUR])
)
FIELDS: tuple[str, ...] = tuple(dict.fromkeys(f for g in GROUPINGS for f in g))
