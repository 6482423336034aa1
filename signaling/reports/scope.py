"""What a report covers: whose facilities, which half-open UTC period, which filters; and the
previous period of the same length that every card is compared with.

Access is decided here, once: admins read every facility, supervisors only their own (a facility
of someone else's named in a filter is refused, never silently dropped), anybody else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.accounts.principal import Principal
from signaling.accounts.roles import Role
from signaling.common.errors import Forbidden, InvalidInput
from signaling.storage.models import Facility

# A year and a day: the longest period one report covers (a yearly review across a leap day).
MAX_PERIOD = timedelta(days=367)


class Band(StrEnum):
    """Join latency against the benchmarks; a session that ended without a join is unmeasured, a
    failure, never missing data."""

    UNDER_30 = "under_30"
    S30_60 = "30_60"
    S60_90 = "60_90"
    OVER_90 = "over_90"
    UNMEASURED = "unmeasured"


BAND_LIMITS_S = {Band.UNDER_30: (0.0, 30.0), Band.S30_60: (30.0, 60.0), Band.S60_90: (60.0, 90.0)}


def band_of(latency_s: float | None) -> Band:
    """``latency_s`` of a session that ended (None: it ended without a join)."""
    if latency_s is None:
        return Band.UNMEASURED
    if latency_s < 30.0:
        return Band.UNDER_30
    if latency_s < 60.0:
        return Band.S30_60
    if latency_s < 90.0:
        return Band.S60_90
    return Band.OVER_90


@dataclass(frozen=True)
class Period:
    """``start`` <= requested_at < ``end``, both aware UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InvalidInput("a report period needs times with a time zone")
        if self.end <= self.start:
            raise InvalidInput(
                f"a report period must end after it starts: {self.start.isoformat()} to "
                f"{self.end.isoformat()}"
            )
        if self.end - self.start > MAX_PERIOD:
            raise InvalidInput(
                f"a report covers at most {MAX_PERIOD.days} days; this asks for "
                f"{(self.end - self.start).days}"
            )

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - self.length, self.start)


@dataclass(frozen=True)
class Filters:
    """Narrowing within the allowed facilities; None is "any"."""

    facility_ids: frozenset[int] | None = None
    room_ids: frozenset[int] | None = None
    modality: str | None = None
    radiologist_id: int | None = None
    outcome: str | None = None  # completed, cancelled
    band: Band | None = None


@dataclass(frozen=True)
class Scope:
    """The facilities a report may read (after access and the facility filter), its period and the
    other filters. Build it with ``scope_for``; every report function takes one."""

    facility_ids: frozenset[int]
    period: Period
    filters: Filters = Filters()

    def previous(self) -> Scope:
        return replace(self, period=self.period.previous())

    def over(self, period: Period) -> Scope:
        return replace(self, period=period)


async def readable_facilities(db: AsyncSession, principal: Principal) -> frozenset[int]:
    """Facility ids ``principal`` may read reports of: all for an admin, their own for a
    supervisor; Forbidden for anyone else."""
    if principal.has(Role.ADMIN):
        return frozenset(await db.scalars(select(Facility.id)))
    if principal.has(Role.SUPERVISOR):
        return principal.facility_ids
    raise Forbidden("reports are for supervisors and admins")


async def scope_for(
    db: AsyncSession, principal: Principal, period: Period, filters: Filters = Filters()
) -> Scope:
    """The scope ``principal`` may read: Forbidden if a facility filter names a facility they may
    not read (the same answer whether or not it exists: no probing)."""
    allowed = await readable_facilities(db, principal)
    if filters.facility_ids is not None:
        outside = filters.facility_ids - allowed
        if outside:
            raise Forbidden(
                f"you may not read reports of facility {min(outside)}: it is not one of yours"
            )
        allowed = filters.facility_ids
    return Scope(facility_ids=allowed, period=period, filters=filters)
