"""Who is on call: rotations in local wall-clock time, active windows, layers, overrides, DST."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from paging.schedule import Handoff, Rotation, Schedule, next_handoffs, on_call, timeline

CHICAGO = ZoneInfo("America/Chicago")
WEEKNIGHTS = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "18:00", "end": "08:00"}
WEEKENDS = {"days": ["sat", "sun"], "start": "00:00", "end": "00:00"}

EXAMPLE = """
schedules:
  - code: NORTH-PRIMARY
    timezone: America/Chicago
    rotations:
      - name: nights
        participants: [drdiaz, drpatel]
        start: 2026-11-01T18:00
        shift: 24h
        windows:
          - {days: [mon, tue, wed, thu, fri], start: "18:00", end: "08:00"}
          - {days: [sat, sun], start: "00:00", end: "00:00"}
    overrides:
      - {user: drpatel, start: 2026-12-24T18:00-06:00, end: 2026-12-26T08:00-06:00, replaces: drdiaz}
"""


def chicago(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHICAGO, fold=fold)


def rotation(
    participants: list[str],
    start: str,
    shift: str = "24h",
    windows: tuple[dict[str, Any], ...] = (),
    name: str = "main",
) -> dict[str, Any]:
    return {
        "name": name,
        "participants": participants,
        "start": start,
        "shift": shift,
        "windows": list(windows),
    }


def schedule(*rotations: dict[str, Any], overrides: tuple[dict[str, Any], ...] = ()) -> Schedule:
    return Schedule.model_validate(
        {
            "code": "NORTH-PRIMARY",
            "timezone": "America/Chicago",
            "rotations": list(rotations),
            "overrides": list(overrides),
        }
    )


def test_shift_starts_inclusive_and_ends_exclusive() -> None:
    """A 12-hour shift from 08:00 is its owner's at 08:00 and through 19:59:59.999999, not at 20:00."""
    plan = schedule(rotation(["a", "b"], "2026-06-01T08:00", "12h"))
    assert on_call(plan, chicago(2026, 6, 1, 8)) == ("a",)
    assert on_call(plan, chicago(2026, 6, 1, 20) - timedelta(microseconds=1)) == ("a",)
    assert on_call(plan, chicago(2026, 6, 1, 20)) == ("b",)
    assert on_call(plan, chicago(2026, 6, 2, 8)) == ("a",)


def test_participants_wrap_around() -> None:
    """After the last participant the first takes over again, however many shifts have passed."""
    plan = schedule(rotation(["a", "b", "c"], "2026-06-01T08:00"))
    assert on_call(plan, chicago(2026, 6, 3, 9)) == ("c",)
    assert on_call(plan, chicago(2026, 6, 4, 9)) == ("a",)
    assert on_call(plan, chicago(2026, 9, 9, 9)) == ("b",)  # 100 days on


def test_nobody_is_on_call_before_the_rotation_starts() -> None:
    """Before its start a rotation puts nobody on call; at its start the first participant."""
    plan = schedule(rotation(["a", "b"], "2026-06-01T08:00"))
    assert on_call(plan, chicago(2026, 6, 1, 8) - timedelta(microseconds=1)) == ()
    assert on_call(plan, chicago(2026, 6, 1, 8)) == ("a",)
    assert on_call(plan, chicago(2025, 1, 1)) == ()


def test_now_in_any_time_zone_means_the_same_instant() -> None:
    """An aware `now` in UTC or Tokyo gives the answer for that instant in the schedule's zone."""
    plan = schedule(rotation(["a", "b"], "2026-06-01T08:00", "12h"))
    handoff = datetime.fromisoformat("2026-06-01T20:00-05:00")
    assert on_call(plan, handoff.astimezone(ZoneInfo("UTC"))) == ("b",)
    assert on_call(plan, (handoff - timedelta(seconds=1)).astimezone(ZoneInfo("Asia/Tokyo"))) == (
        "a",
    )


def test_window_past_midnight_belongs_to_the_day_it_starts() -> None:
    """Weeknights 18:00-08:00 cover Friday night into Saturday morning but not Monday before 08:00."""
    plan = schedule(rotation(["a"], "2026-06-01T00:00", windows=(WEEKNIGHTS,)))
    assert on_call(plan, chicago(2026, 6, 5, 17, 59)) == ()  # Friday
    assert on_call(plan, chicago(2026, 6, 5, 18)) == ("a",)
    assert on_call(plan, chicago(2026, 6, 6, 7, 59)) == ("a",)  # Saturday morning
    assert on_call(plan, chicago(2026, 6, 6, 8)) == ()
    assert on_call(plan, chicago(2026, 6, 8, 7)) == ()  # Monday morning: Sunday is not listed
    assert on_call(plan, chicago(2026, 6, 10, 12)) == ()  # Wednesday noon


def test_window_with_equal_start_and_end_is_all_day() -> None:
    """Saturday and Sunday 00:00-00:00 cover the whole weekend and nothing either side."""
    plan = schedule(rotation(["a"], "2026-06-01T00:00", windows=(WEEKENDS,)))
    assert on_call(plan, chicago(2026, 6, 5, 23, 59)) == ()  # Friday
    assert on_call(plan, chicago(2026, 6, 6)) == ("a",)
    assert on_call(plan, chicago(2026, 6, 7, 23, 59)) == ("a",)
    assert on_call(plan, chicago(2026, 6, 8)) == ()  # Monday


def test_window_within_one_day() -> None:
    """A Monday 09:00-17:00 window includes 09:00 and excludes 17:00."""
    plan = schedule(
        rotation(
            ["a"],
            "2026-06-01T00:00",
            windows=({"days": ["mon"], "start": "09:00", "end": "17:00"},),
        )
    )
    assert on_call(plan, chicago(2026, 6, 1, 8, 59)) == ()
    assert on_call(plan, chicago(2026, 6, 1, 9)) == ("a",)
    assert on_call(plan, chicago(2026, 6, 1, 16, 59)) == ("a",)
    assert on_call(plan, chicago(2026, 6, 1, 17)) == ()
    assert on_call(plan, chicago(2026, 6, 2, 10)) == ()


def test_windows_gate_a_rotation_without_pausing_it() -> None:
    """Outside its windows a rotation still turns: Monday night belongs to Monday's shift owner."""
    plan = schedule(rotation(["a", "b"], "2026-06-05T18:00", windows=(WEEKNIGHTS,)))
    assert on_call(plan, chicago(2026, 6, 5, 19)) == ("a",)  # Friday, shift 0
    assert on_call(plan, chicago(2026, 6, 8, 19)) == ("b",)  # Monday, shift 3


def test_layered_rotations_put_everyone_on_shift_on_call() -> None:
    """Two parallel rotations both count, a person on both is listed once, windows gate each layer."""
    plan = schedule(
        rotation(["a", "b"], "2026-06-01T08:00", name="days"),
        rotation(["b", "c"], "2026-06-01T08:00", name="nights", windows=(WEEKNIGHTS,)),
    )
    assert on_call(plan, chicago(2026, 6, 1, 12)) == ("a",)
    assert on_call(plan, chicago(2026, 6, 1, 19)) == ("a", "b")
    assert on_call(plan, chicago(2026, 6, 2, 19)) == ("b", "c")
    assert on_call(plan, chicago(2026, 6, 3, 19)) == ("a", "b")


def test_override_adds_its_user_for_its_interval_only() -> None:
    """An override without `replaces` adds its user from its start, up to but not at its end."""
    start, end = chicago(2026, 6, 1, 12), chicago(2026, 6, 1, 14)
    plan = schedule(
        rotation(["a"], "2026-06-01T08:00"),
        overrides=({"user": "z", "start": start, "end": end},),
    )
    assert on_call(plan, start - timedelta(microseconds=1)) == ("a",)
    assert on_call(plan, start) == ("a", "z")
    assert on_call(plan, end - timedelta(microseconds=1)) == ("a", "z")
    assert on_call(plan, end) == ("a",)


def test_override_with_replaces_swaps_people() -> None:
    """An override replacing someone takes them off call for its interval and puts its user on."""
    plan = schedule(
        rotation(["a"], "2026-06-01T08:00"),
        overrides=(
            {
                "user": "z",
                "start": "2026-06-01T12:00-05:00",
                "end": "2026-06-01T14:00-05:00",
                "replaces": "a",
            },
        ),
    )
    assert on_call(plan, chicago(2026, 6, 1, 11, 59)) == ("a",)
    assert on_call(plan, chicago(2026, 6, 1, 12)) == ("z",)
    assert on_call(plan, chicago(2026, 6, 1, 14)) == ("a",)


def test_later_override_applies_over_an_earlier_one() -> None:
    """z covers a for two days; y covers z for an afternoon inside them: y alone is on call then."""
    plan = schedule(
        rotation(["a"], "2026-06-01T08:00"),
        overrides=(
            {
                "user": "y",
                "start": chicago(2026, 6, 2, 12),
                "end": chicago(2026, 6, 2, 18),
                "replaces": "z",
            },
            {
                "user": "z",
                "start": chicago(2026, 6, 1),
                "end": chicago(2026, 6, 3),
                "replaces": "a",
            },
        ),
    )
    assert on_call(plan, chicago(2026, 6, 2, 11)) == ("z",)
    assert on_call(plan, chicago(2026, 6, 2, 12)) == ("y",)
    assert on_call(plan, chicago(2026, 6, 2, 18)) == ("z",)


def test_override_replacing_someone_off_call_still_adds_its_user() -> None:
    """Replacing a person who is not on call at the moment still puts the override's user on call."""
    plan = schedule(
        rotation(["a"], "2026-06-01T08:00"),
        overrides=(
            {
                "user": "z",
                "start": chicago(2026, 6, 1),
                "end": chicago(2026, 6, 2),
                "replaces": "q",
            },
        ),
    )
    assert on_call(plan, chicago(2026, 6, 1, 12)) == ("a", "z")


def test_daily_0800_handoff_stays_at_0800_across_spring_forward() -> None:
    """On 8 March 2026 Chicago skips 02:00-03:00: the shift lasts 23 h and hands off at 08:00 CDT."""
    plan = schedule(rotation(["a", "b"], "2026-03-01T08:00"))
    assert on_call(plan, chicago(2026, 3, 7, 8)) == ("a",)
    assert on_call(plan, chicago(2026, 3, 8, 7, 59)) == ("a",)
    assert on_call(plan, chicago(2026, 3, 8, 8)) == ("b",)
    assert chicago(2026, 3, 8, 8).utcoffset() == timedelta(hours=-5)
    assert on_call(plan, chicago(2026, 3, 9, 8)) == ("a",)


def test_daily_0800_handoff_stays_at_0800_across_fall_back() -> None:
    """On 1 November 2026 Chicago repeats 01:00-02:00: the shift lasts 25 h and hands off at 08:00 CST."""
    plan = schedule(rotation(["a", "b"], "2026-10-25T08:00"))
    assert on_call(plan, chicago(2026, 10, 31, 8)) == ("a",)
    assert on_call(plan, chicago(2026, 11, 1, 7, 59)) == ("a",)
    assert on_call(plan, chicago(2026, 11, 1, 8)) == ("b",)
    assert chicago(2026, 11, 1, 8).utcoffset() == timedelta(hours=-6)
    assert on_call(plan, chicago(2026, 11, 2, 8)) == ("a",)


def test_repeated_hour_belongs_to_whoever_took_over_in_its_first_pass() -> None:
    """Half-hour shifts never run backwards: the 01:30 shift holds through the second 01:00-02:00."""
    plan = schedule(rotation(["a", "b", "c"], "2026-11-01T00:00", "30m"))
    assert on_call(plan, chicago(2026, 11, 1, 1, 15)) == ("c",)  # first pass, CDT
    assert on_call(plan, chicago(2026, 11, 1, 1, 45)) == ("a",)
    assert on_call(plan, chicago(2026, 11, 1, 1, 15, fold=1)) == ("a",)  # second pass, CST
    assert on_call(plan, chicago(2026, 11, 1, 1, 59, fold=1)) == ("a",)
    assert on_call(plan, chicago(2026, 11, 1, 2)) == ("b",)


def test_shifts_inside_the_skipped_hour_vanish() -> None:
    """Half-hour shifts due at 02:00 and 02:30 on spring-forward day fall into the gap; 03:00 CDT is next."""
    plan = schedule(rotation(["a", "b", "c"], "2026-03-08T00:00", "30m"))
    assert on_call(plan, chicago(2026, 3, 8, 1, 59)) == ("a",)
    assert on_call(plan, chicago(2026, 3, 8, 3)) == ("a",)
    assert on_call(plan, chicago(2026, 3, 8, 3, 30)) == ("b",)
    assert next_handoffs(plan, chicago(2026, 3, 8, 1, 45), limit=1) == [
        Handoff(chicago(2026, 3, 8, 3, 30), ("b",))
    ]


def test_window_edge_in_the_repeated_hour_happens_once() -> None:
    """A window ending at 01:30 on fall-back night ends at the first 01:30 and does not reopen."""
    window = {"days": ["sat"], "start": "22:00", "end": "01:30"}
    plan = schedule(rotation(["a"], "2026-10-01T00:00", windows=(window,)))
    assert on_call(plan, chicago(2026, 11, 1, 1, 29)) == ("a",)
    assert on_call(plan, chicago(2026, 11, 1, 1, 30)) == ()
    assert on_call(plan, chicago(2026, 11, 1, 1, 10, fold=1)) == ()


def test_timeline_gives_who_is_on_call_from_the_start_and_every_change_before_the_end() -> None:
    """Half-hour shifts across fall-back night: the first entry is who is on call at the start,
    the changes follow in real time through the repeated hour, none at or after the end."""
    plan = schedule(rotation(["a", "b", "c"], "2026-11-01T00:00", "30m"))
    start, end = chicago(2026, 11, 1, 1, 15), chicago(2026, 11, 1, 2, 30)
    assert timeline(plan, start, end) == [
        Handoff(start, ("c",)),
        Handoff(chicago(2026, 11, 1, 1, 30), ("a",)),
        Handoff(chicago(2026, 11, 1, 2), ("b",)),
    ]
    with pytest.raises(ValueError, match="expected an end after"):
        timeline(plan, end, start)


def test_naive_now_is_refused() -> None:
    """A `now` without a time zone is ambiguous and raises ValueError naming what arrived."""
    plan = schedule(rotation(["a"], "2026-06-01T08:00"))
    with pytest.raises(
        ValueError, match="expected a timezone-aware now, got naive 2026-06-01T12:00"
    ):
        on_call(plan, datetime(2026, 6, 1, 12))
    with pytest.raises(ValueError, match="timezone-aware"):
        next_handoffs(plan, datetime(2026, 6, 1, 12))


def test_rotation_needs_participants() -> None:
    """A rotation with nobody in it is refused."""
    with pytest.raises(ValidationError, match="at least 1 item"):
        schedule(rotation([], "2026-06-01T08:00"))


def test_shift_must_be_at_least_a_minute() -> None:
    """A zero or negative shift length is refused, naming the length that arrived."""
    with pytest.raises(ValidationError, match="at least 1 minute, got 0:00:00"):
        schedule(rotation(["a"], "2026-06-01T08:00", "0h"))
    with pytest.raises(ValidationError, match="at least 1 minute, got -1:00:00"):
        schedule(rotation(["a"], "2026-06-01T08:00", "-PT1H"))


def test_bare_number_shift_is_refused() -> None:
    """`shift: 24` could mean hours or seconds, so a unit is required."""
    with pytest.raises(ValidationError, match=r"expected a duration such as 12h.*got 24"):
        Rotation.model_validate(
            {"name": "n", "participants": ["a"], "start": "2026-06-01T08:00", "shift": 24}
        )


def test_unknown_time_zone_is_refused() -> None:
    """A time zone name tzdata does not know is refused, naming it."""
    with pytest.raises(ValidationError, match=r"IANA time zone.*got 'America/Gotham'"):
        Schedule.model_validate(
            {
                "code": "X",
                "timezone": "America/Gotham",
                "rotations": [rotation(["a"], "2026-06-01T08:00")],
            }
        )


def test_override_must_end_after_it_starts() -> None:
    """An override whose end is at or before its start is refused."""
    with pytest.raises(ValidationError, match="expected end after start"):
        schedule(
            rotation(["a"], "2026-06-01T08:00"),
            overrides=({"user": "z", "start": chicago(2026, 6, 1), "end": chicago(2026, 6, 1)},),
        )


def test_override_times_need_an_offset() -> None:
    """Override times without a UTC offset are refused: they are instants, not wall times."""
    with pytest.raises(
        ValidationError, match=r"with a UTC offset.*got 2026-12-24T18:00:00 \(no offset\)"
    ):
        schedule(
            rotation(["a"], "2026-06-01T08:00"),
            overrides=(
                {"user": "z", "start": "2026-12-24T18:00", "end": "2026-12-26T08:00-06:00"},
            ),
        )


def test_rotation_start_is_a_local_wall_time() -> None:
    """A rotation start with an offset is refused: it is wall time in the schedule's zone."""
    with pytest.raises(ValidationError, match=r"without offset.*got 2026-06-01T08:00:00-05:00"):
        schedule(rotation(["a"], "2026-06-01T08:00-05:00"))


def test_unquoted_yaml_time_is_refused() -> None:
    """YAML reads an unquoted 18:00 as 1080; the window refuses it rather than take it as seconds."""
    window = yaml.safe_load("{days: [mon], start: 18:00, end: '08:00'}")
    with pytest.raises(ValidationError, match=r'expected a local time as "HH:MM".*got 1080'):
        schedule(rotation(["a"], "2026-06-01T08:00", windows=(window,)))


def test_window_days_are_known_and_listed_once() -> None:
    """Day names are mon..sun (any case), each at most once per window."""
    with pytest.raises(ValidationError, match="funday"):
        schedule(
            rotation(
                ["a"],
                "2026-06-01T08:00",
                windows=({"days": ["funday"], "start": "09:00", "end": "17:00"},),
            )
        )
    with pytest.raises(ValidationError, match="expected each day once, got mon, mon"):
        schedule(
            rotation(
                ["a"],
                "2026-06-01T08:00",
                windows=({"days": ["Mon", "mon"], "start": "09:00", "end": "17:00"},),
            )
        )


def test_rotation_names_are_unique_within_a_schedule() -> None:
    """Two rotations called the same are refused."""
    with pytest.raises(ValidationError, match="rotation names repeat: main"):
        schedule(rotation(["a"], "2026-06-01T08:00"), rotation(["b"], "2026-06-01T08:00"))


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("12h", timedelta(hours=12)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("90m", timedelta(minutes=90)),
        ("1d12h", timedelta(hours=36)),
        ("2w", timedelta(weeks=2)),
        ("PT12H", timedelta(hours=12)),
        ("P7D", timedelta(days=7)),
        ("PT1H30M", timedelta(minutes=90)),
    ],
)
def test_shift_lengths_parse_in_short_and_iso_forms(text: str, length: timedelta) -> None:
    """Shift lengths read as 12h / 7d / 90m / 1d12h / 2w or as ISO-8601 durations."""
    assert schedule(rotation(["a"], "2026-06-01T08:00", text)).rotations[0].shift == length


def test_example_file_schedule_swaps_for_christmas() -> None:
    """The directory-file example: drpatel covers drdiaz's Christmas night, then the rotation resumes."""
    plan = Schedule.model_validate(yaml.safe_load(EXAMPLE)["schedules"][0])
    assert on_call(plan, chicago(2026, 12, 23, 20)) == ("drdiaz",)  # Wednesday night, shift 52
    assert on_call(plan, chicago(2026, 12, 24, 20)) == ("drpatel",)
    assert on_call(plan, chicago(2026, 12, 25, 20)) == ("drpatel",)  # drdiaz's shift, swapped
    assert on_call(plan, chicago(2026, 12, 26, 8)) == ("drdiaz",)  # Saturday, all day
    assert on_call(plan, chicago(2026, 12, 28, 12)) == ()  # Monday noon: outside every window


def test_schedule_round_trips_through_json() -> None:
    """model_dump(mode="json") -> JSON text -> model_validate gives back an equal schedule."""
    plan = Schedule.model_validate(yaml.safe_load(EXAMPLE)["schedules"][0])
    stored = json.dumps(plan.model_dump(mode="json"))
    assert Schedule.model_validate(json.loads(stored)) == plan
    assert json.loads(stored)["rotations"][0]["shift"] == "P1D"


def test_next_handoffs_lists_changes_with_who_is_on_call_from_then() -> None:
    """Upcoming changes come in order, in the schedule's zone, with the people on call from each."""
    plan = schedule(
        rotation(["a", "b"], "2026-06-01T08:00", "12h"),
        overrides=(
            {"user": "z", "start": chicago(2026, 6, 1, 12), "end": chicago(2026, 6, 1, 14)},
        ),
    )
    handoffs = next_handoffs(plan, chicago(2026, 6, 1, 9), limit=4)
    assert handoffs == [
        Handoff(chicago(2026, 6, 1, 12), ("a", "z")),
        Handoff(chicago(2026, 6, 1, 14), ("a",)),
        Handoff(chicago(2026, 6, 1, 20), ("b",)),
        Handoff(chicago(2026, 6, 2, 8), ("a",)),
    ]
    assert all(h.at.tzinfo == CHICAGO for h in handoffs)


def test_next_handoffs_skips_turnovers_that_change_nobody() -> None:
    """A one-person rotation turning over, or a window opening while someone else covers, is no handoff."""
    plan = schedule(rotation(["a"], "2026-06-01T08:00", windows=(WEEKNIGHTS, WEEKENDS)))
    handoffs = next_handoffs(plan, chicago(2026, 6, 5, 12), limit=3)  # Friday noon
    assert handoffs == [
        Handoff(chicago(2026, 6, 5, 18), ("a",)),
        Handoff(chicago(2026, 6, 8), ()),  # Monday 00:00: the weekend window closes
        Handoff(chicago(2026, 6, 8, 18), ("a",)),
    ]


def test_next_handoffs_stops_at_the_limit_and_the_horizon() -> None:
    """No more than `limit` handoffs, none beyond `horizon`; nothing happens now -> nothing listed."""
    plan = schedule(rotation(["a", "b"], "2026-06-01T08:00"))
    now = chicago(2026, 6, 1, 9)
    assert len(next_handoffs(plan, now, limit=3)) == 3
    assert next_handoffs(plan, now, limit=10, horizon=timedelta(days=2)) == [
        Handoff(chicago(2026, 6, 2, 8), ("b",)),
        Handoff(chicago(2026, 6, 3, 8), ("a",)),
    ]
    assert next_handoffs(plan, now, limit=0) == []
    assert next_handoffs(schedule(rotation(["a"], "2026-06-01T08:00")), now) == []


def test_next_handoffs_from_before_the_start_begins_with_the_start() -> None:
    """Looking ahead from before a rotation begins, its start is the first handoff."""
    plan = schedule(rotation(["a", "b"], "2026-06-01T08:00"))
    assert next_handoffs(plan, chicago(2026, 5, 30), limit=1) == [
        Handoff(chicago(2026, 6, 1, 8), ("a",))
    ]
