"""A report's period as people write it (the API's ``from``/``to``, the CLI's ``--from``/``--to``):
dates or ISO times, read in the time zone of the facilities reported on.

A date means the whole day: ``from`` its local midnight, ``to`` up to the next local midnight (so
``from=2026-03-01&to=2026-03-31`` is March). A time with an offset is taken as it is; one without
is local. Local is the facilities' zone when they share one, UTC otherwise (and for no facility).
Without ``to`` the period runs through today; without ``from`` it is the 30 days up to ``to``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.accounts.principal import Principal
from signaling.common.errors import InvalidInput
from signaling.reports.scope import Filters, Period, Scope, scope_for
from signaling.storage.models import Facility

DEFAULT_DAYS = 30
MAX_TEXT = 40


@dataclass(frozen=True)
class Bound:
    """One end as written: a whole day, or an instant."""

    day: date | None = None
    at: datetime | None = None


def parse_bound(text: str, name: str) -> Bound:
    """``YYYY-MM-DD`` or an ISO-8601 time (``Z`` or an offset, or none for local time)."""
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        raise InvalidInput(f"{name}: expected a date (2026-03-01) or an ISO time, got {text!r}")
    try:
        if len(text) == 10:
            return Bound(day=date.fromisoformat(text))
        return Bound(at=datetime.fromisoformat(text))
    except ValueError:
        raise InvalidInput(
            f"{name}: expected a date (2026-03-01) or an ISO time (2026-03-01T08:00:00Z), "
            f"got {text!r}"
        ) from None


def _instant(bound: Bound, zone: ZoneInfo, end: bool) -> datetime:
    if bound.at is not None:
        at = bound.at if bound.at.tzinfo is not None else bound.at.replace(tzinfo=zone)
        return at.astimezone(UTC)
    assert bound.day is not None
    day = bound.day + timedelta(days=1) if end else bound.day
    return datetime.combine(day, time(), zone).astimezone(UTC)


def period_of(from_text: str | None, to_text: str | None, zone: ZoneInfo, now: datetime) -> Period:
    """The period ``from_text`` to ``to_text`` mean in ``zone`` (see the module docstring);
    InvalidInput naming the problem for text that is not a date or time, a period that ends
    before it starts, or one longer than a report covers."""
    try:
        end = (
            _instant(parse_bound(to_text, "to"), zone, end=True)
            if to_text is not None
            else datetime.combine(now.astimezone(zone).date() + timedelta(days=1), time(), zone)
        )
        if from_text is not None:
            start = _instant(parse_bound(from_text, "from"), zone, end=False)
        else:
            local_end = end.astimezone(zone)
            start = datetime.combine(
                local_end.date() - timedelta(days=DEFAULT_DAYS), local_end.time(), zone
            )
    except OverflowError:
        raise InvalidInput("from/to: a date out of the range of the calendar") from None
    return Period(start.astimezone(UTC), end.astimezone(UTC))


async def zone_of(db: AsyncSession, facility_ids: frozenset[int]) -> ZoneInfo:
    """The facilities' time zone if they share one; UTC otherwise."""
    zones = set(
        await db.scalars(
            select(Facility.timezone).where(Facility.id.in_(sorted(facility_ids))).distinct()
        )
    )
    return ZoneInfo(zones.pop()) if len(zones) == 1 else ZoneInfo("UTC")


async def scope_of(
    db: AsyncSession,
    principal: Principal,
    periods: list[tuple[str | None, str | None]],
    filters: Filters,
    now: datetime,
) -> tuple[list[Scope], ZoneInfo]:
    """``principal``'s scopes over each (from, to) of ``periods`` with ``filters`` (access decided
    by ``scope_for``: Forbidden first, then InvalidInput for the dates), and the zone they were
    read in."""
    allowed = await scope_for(db, principal, Period(now - timedelta(days=1), now), filters)
    zone = await zone_of(db, allowed.facility_ids)
    return [allowed.over(period_of(a, b, zone, now)) for a, b in periods], zone


def local_dates(period: Period, zone: ZoneInfo) -> tuple[date, date]:
    """The first and the last day ``period`` covers in ``zone`` (its end is exclusive)."""
    return (
        period.start.astimezone(zone).date(),
        (period.end - timedelta(microseconds=1)).astimezone(zone).date(),
    )
