"""One row per ended session of a scope with everything the response-time report breaks it down
by: facility, room, modality, the radiologist who joined (by id: names are looked up once, after
grouping), the tier that found them (the lowest tier
of their pages that were sent) and the channel they accepted on, both marked on the session when it
ended (``signaling.reports.marks``), the hour,
weekday, week and month of the request in the facility's own time zone, its 10 s histogram bin,
and its join latency (None: unmeasured).

SQLite's reports read them here (``read_facts``): the minimal columns, the rest computed with
``zoneinfo`` for the local times SQLite cannot compute. PostgreSQL's read the same facts packed
(``latency_facts``, ``fact_groups``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import CTE, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports import scoped, sessions_in
from signaling.reports.scope import Scope
from signaling.storage.models import Facility, Room

BIN_S = 10
LAST_BIN = 18  # 0-10 s ... 170-180 s, then one 180+ bin


@dataclass(frozen=True)
class Fact:
    facility_id: int
    room_id: int
    modality: str
    radiologist_id: int | None
    tier: int | None
    via: str | None
    joined: bool
    hour: int
    weekday: int  # 0 = Monday
    week: date  # its Monday
    month: date  # its first day
    bin: int | None  # None: unmeasured
    latency: float | None


def bin_of(latency: float | None) -> int | None:
    if latency is None:
        return None
    return min(max(math.floor(latency / BIN_S), 0), LAST_BIN)


async def _base(db: AsyncSession, scope: Scope) -> tuple[CTE, Select[*tuple[Any, ...]]]:
    """The scoped sessions, and a SELECT of the columns every fact has, to add to."""
    scoped_ = scoped.sessions(db, scope)
    # The tier and channel of a join, marked on the session when it ended (``marks``).
    query = (
        select(
            scoped_.c.facility_id,
            scoped_.c.room_id,
            Room.modality.label("modality"),
            scoped_.c.radiologist_id,
            scoped_.c.found_tier.label("tier"),
            scoped_.c.accepted_via.label("via"),
            scoped_.c.joined_at.is_not(None).label("joined"),
        )
        .select_from(scoped_)
        .join(Facility, Facility.id == scoped_.c.facility_id)
        .join(Room, Room.id == scoped_.c.room_id)
    )
    return scoped_, query


async def read_facts(db: AsyncSession, scope: Scope) -> list[Fact]:
    """SQLite: the minimal columns of each session, local times and latency computed here."""
    scoped_, query = await _base(db, scope)
    query = query.add_columns(scoped_.c.requested_at, scoped_.c.joined_at, Facility.timezone)
    facts = []
    for row in await db.execute(query):
        requested: datetime = row.requested_at
        if not sessions_in.band_matches(db, scope, requested, row.joined_at):
            continue
        local = requested.astimezone(ZoneInfo(row.timezone))
        day = local.date()
        latency = sessions_in.exact_latency_s(requested, row.joined_at)
        facts.append(
            Fact(
                facility_id=row.facility_id,
                room_id=row.room_id,
                modality=row.modality,
                radiologist_id=row.radiologist_id,
                tier=row.tier,
                via=row.via,
                joined=row.joined_at is not None,
                hour=local.hour,
                weekday=local.weekday(),
                week=day - timedelta(days=day.weekday()),
                month=day.replace(day=1),
                bin=bin_of(latency),
                latency=latency,
            )
        )
    return facts
