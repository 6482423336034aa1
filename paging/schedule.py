"""Who is on call for a facility (or facility group) at an instant or through a span, from its
on-call schedule.

A schedule has one or more rotations, layered (everyone on shift in an applicable rotation is on
call), and overrides that add someone or swap someone out for a while. Pure functions: the caller
passes ``now`` as an aware date-time; nothing here reads the clock or a database.

Local wall-clock rule (DST): a rotation's start, its shift length and its active windows are all
measured in wall-clock time in the schedule's time zone, so a daily 08:00 handoff stays at 08:00
across DST changes (the shifts either side of a change last 23 or 25 real hours). A wall time is
turned into an instant by one rule, used everywhere: a wall time that happens twice (clocks fall
back) means its first occurrence; a wall time that never happens (clocks spring forward) means the
moment the clocks jump past it. So handoffs never run backwards, shifts that would start and end
inside the skipped hour vanish, and the repeated hour belongs to whoever took over in its first pass.

The models validate on construction and map 1:1 to the directory file's ``schedules:`` section;
``model_dump(mode="json")`` and ``model_validate`` round-trip them for storage.
"""

from __future__ import annotations

import functools
import heapq
import re
import sys
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"
SHORTEST_SHIFT = timedelta(minutes=1)
_SHORT_DURATION = re.compile(r"^(?:\d+[wdhm])+$")
_UNITS = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
}


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


_WEEKDAYS = tuple(Weekday)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def iana_timezone(value: str) -> str:
    """``value`` if it names an IANA time zone; a validator for every ``timezone`` field."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"expected an IANA time zone such as America/Chicago, got {value!r}"
        ) from exc
    return value


def parse_duration(value: object) -> object:
    """``"12h"``, ``"7d"``, ``"90m"``, ``"1d12h"`` or ``"2w"`` as a timedelta; other strings pass on.

    ISO-8601 strings (``"PT12H"``, ``"P7D"``) and timedeltas are left for pydantic to take. A bare
    number is refused: ``shift: 24`` in a file is ambiguous (hours? seconds?).
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if _SHORT_DURATION.match(text):
            parts = re.findall(r"(\d+)([wdhm])", text)
            return sum((int(n) * _UNITS[unit] for n, unit in parts), timedelta())
        if text.lstrip("+-").startswith("p"):
            return value.strip().upper()
    raise ValueError(f"expected a duration such as 12h, 24h, 7d, 90m or PT12H, got {value!r}")


def _local_time(value: object) -> object:
    # YAML 1.1 reads an unquoted 18:00 as the integer 1080; refuse it rather than take seconds.
    if isinstance(value, time | str):
        return value
    raise ValueError(f'expected a local time as "HH:MM" (quoted in YAML), got {value!r}')


class Window(_Frozen):
    """When a rotation applies: from ``start`` on each of ``days`` until the next ``end``.

    ``end`` at or before ``start`` runs past midnight into the next day; ``end == start`` is a
    whole 24-hour day. ``days`` name the day a window *starts*: ``fri 18:00-08:00`` covers early
    Saturday, and nothing covers early Monday unless a window starts on Sunday.
    """

    days: tuple[Weekday, ...] = Field(min_length=1)
    start: time
    end: time

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return tuple(v.strip().lower() if isinstance(v, str) else v for v in value)
        return value

    @field_validator("days")
    @classmethod
    def _unique_days(cls, value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"expected each day once, got {', '.join(value)}")
        return value

    _times = field_validator("start", "end", mode="before")(_local_time)

    @field_validator("start", "end")
    @classmethod
    def _naive_time(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError(f"expected a local time without offset, got {value.isoformat()}")
        return value

    def walls(self, day: date) -> tuple[datetime, datetime] | None:
        """The wall-clock span of this window's occurrence starting on ``day``, if it has one."""
        if _WEEKDAYS[day.weekday()] not in self.days:
            return None
        start = datetime.combine(day, self.start)
        end_day = day if self.end > self.start else day + timedelta(days=1)
        return start, datetime.combine(end_day, self.end)


class Rotation(_Frozen):
    """Participants taking turns in shifts of ``shift`` wall-clock time from ``start`` (local)."""

    name: str = Field(min_length=1, max_length=80)
    participants: tuple[str, ...] = Field(min_length=1)
    start: datetime
    shift: timedelta
    windows: tuple[Window, ...] = ()

    @field_validator("participants")
    @classmethod
    def _named(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not p.strip() for p in value):
            raise ValueError(f"expected non-empty participant identifiers, got {list(value)!r}")
        return value

    @field_validator("start")
    @classmethod
    def _local_start(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            raise ValueError(
                "expected a local date-time without offset (wall time in the schedule's time "
                f"zone) such as 2026-11-01T18:00, got {value.isoformat()}"
            )
        return value

    _shift = field_validator("shift", mode="before")(parse_duration)

    @field_validator("shift")
    @classmethod
    def _long_enough(cls, value: timedelta) -> timedelta:
        if value < SHORTEST_SHIFT:
            sign = "-" if value < timedelta() else ""
            raise ValueError(f"expected a shift of at least 1 minute, got {sign}{abs(value)}")
        return value


class Override(_Frozen):
    """``user`` is on call during [start, end); with ``replaces``, that person is not (a swap)."""

    user: str = Field(min_length=1)
    start: datetime
    end: datetime
    replaces: str | None = None

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                "expected a date-time with a UTC offset such as 2026-12-24T18:00-06:00, "
                f"got {value.isoformat()} (no offset)"
            )
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Override:
        if self.end <= self.start:
            raise ValueError(
                f"override for {self.user}: expected end after start {self.start.isoformat()}, "
                f"got end {self.end.isoformat()}"
            )
        if self.replaces == self.user:
            raise ValueError(f"override for {self.user}: expected to replace someone else")
        return self

    def covers(self, now: datetime) -> bool:
        return self.start <= now < self.end


class Schedule(_Frozen):
    """An on-call schedule for the facilities named by code (one facility, or a group)."""

    code: str = Field(pattern=CODE)
    timezone: str
    facilities: tuple[str, ...] = ()
    rotations: tuple[Rotation, ...] = Field(min_length=1)
    overrides: tuple[Override, ...] = ()

    _timezone = field_validator("timezone")(iana_timezone)

    @model_validator(mode="after")
    def _unique_rotation_names(self) -> Schedule:
        names = [r.name for r in self.rotations]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"schedule {self.code}: rotation names repeat: {', '.join(repeated)}")
        return self

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Handoff:
    """From ``at`` (in the schedule's time zone), ``on_call`` are the people on call."""

    at: datetime
    on_call: tuple[str, ...]


def on_call(schedule: Schedule, now: datetime) -> tuple[str, ...]:
    """The identifiers of everyone on call under ``schedule`` at ``now``, sorted, each once.

    Everyone on shift in a rotation that applies at ``now`` is on call. Overrides covering ``now``
    then apply in order of their start (ties in file order): each removes the person it replaces,
    if any, and adds its user, so an override of an override wins. ``now`` must be aware.
    """
    _require_aware(now)
    zone = schedule.zone
    people = {
        rotation.participants[index % len(rotation.participants)]
        for rotation in schedule.rotations
        if (index := _shift_index(rotation, zone, now)) is not None
        and _applies(rotation, zone, now)
    }
    covering = sorted((o for o in schedule.overrides if o.covers(now)), key=lambda o: o.start)
    for override in covering:
        if override.replaces is not None:
            people.discard(override.replaces)
        people.add(override.user)
    return tuple(sorted(people))


def next_handoffs(
    schedule: Schedule, now: datetime, limit: int = 10, horizon: timedelta = timedelta(days=14)
) -> list[Handoff]:
    """The next ``limit`` changes of who is on call after ``now``, looking at most ``horizon`` ahead.

    Each handoff gives the instant (in the schedule's time zone) and who is on call from then.
    Moments where a shift or window turns over but the same people stay on call are skipped.
    """
    _require_aware(now)
    if limit < 0:
        raise ValueError(f"expected a limit of 0 or more, got {limit}")
    if horizon <= timedelta():
        raise ValueError(f"expected a positive look-ahead horizon, got {horizon}")
    zone = schedule.zone
    until = now.astimezone(UTC) + horizon
    sources: list[Iterator[datetime]] = [
        iter(sorted(t for o in schedule.overrides for t in (o.start, o.end))),
        iter(_window_edges(schedule, zone, now, until)),
        *(_handoff_instants(r, zone, now, until) for r in schedule.rotations),
    ]
    handoffs: list[Handoff] = []
    current = on_call(schedule, now)
    previous: datetime | None = None
    for at in heapq.merge(*sources):
        if len(handoffs) >= limit or at > until:
            break
        if at <= now or at == previous:
            continue
        previous = at
        people = on_call(schedule, at)
        if people != current:
            handoffs.append(Handoff(at.astimezone(zone), people))
            current = people
    return handoffs


def timeline(schedule: Schedule, start: datetime, end: datetime) -> list[Handoff]:
    """Who is on call under ``schedule`` through ``[start, end)``: a first handoff at ``start``
    (who is on call then) and every change after it, before ``end``; found from the handoffs
    and window edges, not by asking instant by instant."""
    _require_aware(start)
    _require_aware(end)
    if end <= start:
        raise ValueError(f"expected an end after {start.isoformat()}, got {end.isoformat()}")
    end = end.astimezone(UTC)  # compared by instant, never by two wall clocks of one zone
    first = Handoff(start.astimezone(schedule.zone), on_call(schedule, start))
    changes = next_handoffs(schedule, start, limit=sys.maxsize, horizon=end - start)
    return [first, *(h for h in changes if h.at < end)]


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware now, got naive {now.isoformat()}")


# Pure, and asked the same few walls over and over (every window edge of every day near each
# instant looked at): a forecast over two weeks reads each one once.
@functools.lru_cache(maxsize=16384)
def _instant(wall: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """The instant (in UTC) wall-clock time ``wall`` in ``zone`` stands for, by the module's rule.

    A repeated wall time means its first occurrence; a skipped one, the moment clocks jump past it.
    """
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # In a gap the two folds read the wall time with the offsets either side of the jump, so they
    # bracket it; bisect for the first instant carrying the later offset.
    other = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    before, after = min(first, other), max(first, other)
    offset_after = after.astimezone(zone).utcoffset()
    while after - before > timedelta(microseconds=1):
        middle = before + (after - before) / 2
        if middle.astimezone(zone).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return after


def _handoff(rotation: Rotation, zone: zoneinfo.ZoneInfo, index: int) -> datetime:
    return _instant(rotation.start + index * rotation.shift, zone)


def _shift_index(rotation: Rotation, zone: zoneinfo.ZoneInfo, now: datetime) -> int | None:
    """How many whole shifts of ``rotation`` have begun before the one on at ``now`` (None: not started)."""
    if now < _handoff(rotation, zone, 0):
        return None
    wall = now.astimezone(zone).replace(tzinfo=None)
    index = (wall - rotation.start) // rotation.shift
    # Wall time repeats an hour in autumn and skips one in spring; settle on the instants.
    while _handoff(rotation, zone, index + 1) <= now:
        index += 1
    while index > 0 and _handoff(rotation, zone, index) > now:
        index -= 1
    return index


def _applies(rotation: Rotation, zone: zoneinfo.ZoneInfo, now: datetime) -> bool:
    if not rotation.windows:
        return True
    today = now.astimezone(zone).date()
    # Two days back covers a window run past midnight even around a transition made at midnight.
    for back in range(-2, 2):
        day = today + timedelta(days=back)
        for window in rotation.windows:
            walls = window.walls(day)
            if walls and _instant(walls[0], zone) <= now < _instant(walls[1], zone):
                return True
    return False


def _window_edges(
    schedule: Schedule, zone: zoneinfo.ZoneInfo, now: datetime, until: datetime
) -> list[datetime]:
    first = now.astimezone(zone).date() - timedelta(days=2)
    days = (until.astimezone(zone).date() - first).days + 1
    edges = {
        _instant(wall, zone)
        for rotation in schedule.rotations
        for window in rotation.windows
        for offset in range(days)
        if (walls := window.walls(first + timedelta(days=offset)))
        for wall in walls
    }
    return sorted(edges)


def _handoff_instants(
    rotation: Rotation, zone: zoneinfo.ZoneInfo, now: datetime, until: datetime
) -> Iterator[datetime]:
    index = _shift_index(rotation, zone, now)
    index = 0 if index is None else index + 1
    # With one person taking every shift only the rotation's start can change who is on call.
    last = 0 if len(set(rotation.participants)) == 1 else None
    while (last is None or index <= last) and (at := _handoff(rotation, zone, index)) <= until:
        yield at
        index += 1
