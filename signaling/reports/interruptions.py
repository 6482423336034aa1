"""When a page interrupted a person, in their own local time (PagerDuty's hours): business 08-18
Monday to Friday, off-hours 18-22 on weekdays and 08-22 on Saturday and Sunday, sleep 22-08 every
day. Pages to one person less than a minute apart are one interruption (a tier's in-app page,
SMS and call; a second request in the same minute): a page interrupts when no page reached the
person in the minute before it (``ONCE_WITHIN``), marked when its session ends (``marks``).

PostgreSQL counts pages by weekday and hour in the database; both databases' counts are then
classified by the one rule here (``hours_at``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

ONCE_WITHIN = timedelta(seconds=60)


class Hours(StrEnum):
    BUSINESS = "business"
    OFF_HOURS = "off_hours"
    SLEEP = "sleep"


def hours_at(isoweekday: int, hour: int) -> Hours:
    """The kind of hours of ``hour`` (0-23) on ``isoweekday`` (1 = Monday .. 7 = Sunday), in the
    person's own wall-clock time."""
    if hour >= 22 or hour < 8:
        return Hours.SLEEP
    if isoweekday >= 6 or hour >= 18:
        return Hours.OFF_HOURS
    return Hours.BUSINESS


def hours_of(local: datetime) -> Hours:
    """The kind of hours ``local`` (the person's own wall-clock time) falls in."""
    return hours_at(local.isoweekday(), local.hour)
