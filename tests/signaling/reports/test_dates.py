"""A report's period as people write it, read in the facilities' time zone; and the hours rule."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from signaling.common.errors import InvalidInput
from signaling.reports import interruptions
from signaling.reports.dates import local_dates, period_of
from signaling.reports.interruptions import Hours
from tests.signaling.reports.data import at

CHICAGO = ZoneInfo("America/Chicago")
NOW = at("2026-06-10T15:00")


def test_dates_are_whole_local_days() -> None:
    """March in Chicago: from 06:00 UTC on 1 March (CST) to 05:00 UTC on 1 April (CDT)."""
    p = period_of("2026-03-01", "2026-03-31", CHICAGO, NOW)
    assert (p.start, p.end) == (at("2026-03-01T06:00"), at("2026-04-01T05:00"))
    assert local_dates(p, CHICAGO) == (
        at("2026-03-01T12:00").date(),
        at("2026-03-31T12:00").date(),
    )


def test_the_days_the_clocks_change_are_23_and_25_hours_long() -> None:
    spring = period_of("2026-03-08", "2026-03-08", CHICAGO, NOW)
    autumn = period_of("2026-11-01", "2026-11-01", CHICAGO, NOW)
    assert spring.length == timedelta(hours=23)
    assert autumn.length == timedelta(hours=25)


def test_times_with_and_without_an_offset() -> None:
    """An offset (or Z) is taken as given; a time without one is facility time."""
    p = period_of("2026-03-02T08:00", "2026-03-02T17:30:00Z", CHICAGO, NOW)
    assert (p.start, p.end) == (at("2026-03-02T14:00"), at("2026-03-02T17:30"))


def test_defaults_are_the_30_days_through_today() -> None:
    """Without dates: 12 May through 10 June (today in Chicago), whole days; with only ``to``,
    the 30 days up to it (an hour short: the clocks went forward on 8 March)."""
    p = period_of(None, None, CHICAGO, NOW)
    assert (p.start, p.end) == (at("2026-05-12T05:00"), at("2026-06-11T05:00"))
    q = period_of(None, "2026-03-31", CHICAGO, NOW)
    assert q.end == at("2026-04-01T05:00")
    assert q.length == timedelta(days=29, hours=23)


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        ("March", "2026-03-31", "from: expected a date"),
        ("2026-02-30", "2026-03-31", "from: expected a date"),
        ("2026-03-01", "2026-13-01T00:00", "to: expected a date"),
        ("2026-03-31", "2026-03-01", "must end after it starts"),
        ("2025-01-01", "2026-03-01", "at most 367 days"),
        ("", "2026-03-31", "from: expected a date"),
        ("9999-12-31", "9999-12-31", "out of the range"),
        ("2026-03-01" + "x" * 40, "2026-03-31", "from: expected a date"),
    ],
)
def test_bad_periods_are_refused_with_a_reason(start: str, end: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        period_of(start, end, CHICAGO, NOW)


def test_hours_of_the_week() -> None:
    """Business 08-18 Monday to Friday, off-hours 18-22 and weekend days, sleep 22-08."""
    assert interruptions.hours_at(1, 8) is Hours.BUSINESS
    assert interruptions.hours_at(5, 17) is Hours.BUSINESS
    assert interruptions.hours_at(5, 18) is Hours.OFF_HOURS
    assert interruptions.hours_at(6, 8) is Hours.OFF_HOURS
    assert interruptions.hours_at(7, 21) is Hours.OFF_HOURS
    assert interruptions.hours_at(3, 22) is Hours.SLEEP
    assert interruptions.hours_at(6, 7) is Hours.SLEEP
