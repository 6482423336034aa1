"""Who is in the history: the facilities, their rooms and policies, and the people, read once from
the directory, with who is on call under each schedule over the whole period as intervals.

What a tier means at an instant is decided as the pager decides it (``pager.directory_view``):
a schedule's people on call, a users target's names, or every radiologist privileged at the
facility (the pool), each kept only if eligible (``paging.eligibility``) that day.
"""

from __future__ import annotations

import bisect
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.eligibility import Radiologist, Site, StateLicense, ineligibility
from paging.policy import EscalationPolicy, Target, TargetKind, default_policy
from paging.schedule import Schedule, next_handoffs, on_call
from signaling.accounts.roles import Role
from signaling.directory.exam_setup import ExamSetup, FormularyAgent, exam_setup_of
from signaling.storage.models import (
    Facility,
    FacilityPolicy,
    License,
    OnCallSchedule,
    Privilege,
    Room,
    User,
    UserFacility,
    UserRole,
)


@dataclass(frozen=True)
class Person:
    id: int
    username: str
    name: str
    mobile: str | None
    zone: zoneinfo.ZoneInfo | None  # their own time zone, where the directory keeps one


@dataclass(frozen=True)
class RoomFacts:
    id: int
    code: str
    name: str
    modality: str


class OnCall:
    """Who is on call under one schedule at any instant of the period, by bisecting its handoffs."""

    def __init__(self, schedule: Schedule, start: datetime, end: datetime) -> None:
        self.starts: list[datetime] = [start]
        self.people: list[tuple[str, ...]] = [on_call(schedule, start)]
        at = start
        while at < end:
            handoffs = next_handoffs(schedule, at, limit=200, horizon=timedelta(days=14))
            for h in handoffs:
                self.starts.append(h.at)
                self.people.append(h.on_call)
            at = handoffs[-1].at if len(handoffs) == 200 else at + timedelta(days=14)

    def at(self, moment: datetime) -> tuple[str, ...]:
        return self.people[bisect.bisect_right(self.starts, moment) - 1]


@dataclass
class SiteFacts:
    """A facility as the history needs it."""

    id: int
    code: str
    name: str
    state: str
    zone: zoneinfo.ZoneInfo
    monitor_media: bool
    policy: EscalationPolicy
    setup: ExamSetup
    rooms: list[RoomFacts]
    technologists: list[int]
    supervisors: list[Person]
    pool: list[int]  # radiologists privileged here, by id
    snapshot: dict[str, Any] = field(default_factory=dict)  # the policy as paging runs copy it

    def __post_init__(self) -> None:
        self.snapshot = self.policy.model_dump(mode="json")

    def agents(self, modality: str) -> list[FormularyAgent]:
        """The formulary's agents for a modality (CT: iodinated, MR: gadolinium; else any)."""
        wanted = "gadolinium" if modality == "MR" else "iodinated"
        fitting = [a for a in self.setup.formulary if a.agent_class == wanted]
        return fitting or list(self.setup.formulary)


@dataclass(frozen=True)
class Skipped:
    person: Person
    reason: str


@dataclass
class Cast:
    sites: list[SiteFacts]
    people: dict[int, Person]
    by_username: dict[str, Person]
    facts: dict[int, Radiologist]
    on_call: dict[str, OnCall]
    _resolved: dict[
        tuple[int, TargetKind, tuple[str, ...], date], tuple[list[Person], list[Skipped]]
    ] = field(default_factory=dict)

    def resolve(
        self, site: SiteFacts, target: Target, moment: datetime, today: date
    ) -> tuple[list[Person], list[Skipped]]:
        """Who ``target`` pages at ``site`` at ``moment``, and who it skips and why."""
        if target.kind is TargetKind.POOL:
            names: tuple[str, ...] = ()
        elif target.kind is TargetKind.USERS:
            names = target.users
        else:
            schedule = self.on_call.get(target.schedule or "")
            names = schedule.at(moment) if schedule is not None else ()
        # Who a target means changes at handoffs, and eligibility by the day: cache on both.
        key = (site.id, target.kind, names, today)
        found = self._resolved.get(key)
        if found is None:
            if target.kind is TargetKind.POOL:
                ids = site.pool
            else:
                ids = sorted(p.id for n in names if (p := self.by_username.get(n)) is not None)
            found = self._resolved[key] = self._eligible(site, ids, today)
        return found

    def _eligible(
        self, site: SiteFacts, ids: list[int], today: date
    ) -> tuple[list[Person], list[Skipped]]:
        paged: list[Person] = []
        skipped: list[Skipped] = []
        where = Site(site.id, site.state)
        for user_id in ids:
            facts = self.facts.get(user_id) or Radiologist(user_id, False, (), frozenset())
            reason = ineligibility(facts, where, today)
            if reason is None:
                paged.append(self.people[user_id])
            else:
                skipped.append(Skipped(self.people[user_id], reason.value))
        return paged, skipped


async def load_cast(
    db: AsyncSession, codes: frozenset[str], start: datetime, end: datetime
) -> Cast:
    """The directory as it stands, for the facilities named by ``codes`` (empty: all)."""
    query = select(Facility).order_by(Facility.code)
    if codes:
        query = query.where(Facility.code.in_(sorted(codes)))
    facilities = list((await db.scalars(query)).all())
    users = (await db.scalars(select(User).order_by(User.id))).all()
    zone_of = await _user_zones(db)
    people = {
        u.id: Person(u.id, u.username, u.full_name, u.mobile, zone_of.get(u.id)) for u in users
    }
    roles: dict[int, set[str]] = defaultdict(set)
    for user_id, role in (await db.execute(select(UserRole.user_id, UserRole.role))).all():
        roles[user_id].add(role)
    works: dict[int, set[int]] = defaultdict(set)  # facility -> users
    for user_id, facility_id in await db.execute(
        select(UserFacility.user_id, UserFacility.facility_id)
    ):
        works[facility_id].add(user_id)
    privileged: dict[int, set[int]] = defaultdict(set)  # user -> facilities
    for user_id, facility_id in await db.execute(select(Privilege.user_id, Privilege.facility_id)):
        privileged[user_id].add(facility_id)
    licenses: dict[int, list[StateLicense]] = defaultdict(list)
    for lic in (await db.scalars(select(License))).all():
        licenses[lic.user_id].append(StateLicense(lic.state, lic.expires_on))
    active = {u.id: u.active for u in users}
    facts = {
        user_id: Radiologist(
            user_id,
            active[user_id] and Role.RADIOLOGIST.value in roles[user_id],
            tuple(licenses[user_id]),
            frozenset(privileged[user_id]),
        )
        for user_id in people
    }
    policies = {
        row.facility_id: EscalationPolicy.model_validate(row.policy)
        for row in (await db.scalars(select(FacilityPolicy))).all()
    }
    rooms: dict[int, list[RoomFacts]] = defaultdict(list)
    for room in (await db.scalars(select(Room).where(Room.active.is_(True)))).all():
        rooms[room.facility_id].append(RoomFacts(room.id, room.code, room.name, room.modality))
    radiologists = {i for i, r in roles.items() if Role.RADIOLOGIST.value in r}
    sites = [
        SiteFacts(
            id=f.id,
            code=f.code,
            name=f.name,
            state=f.state,
            zone=zoneinfo.ZoneInfo(f.timezone),
            monitor_media=f.monitor_media,
            policy=policies.get(f.id) or default_policy(),
            setup=exam_setup_of(f),
            rooms=sorted(rooms[f.id], key=lambda r: r.code),
            technologists=sorted(
                u for u in works[f.id] if Role.TECHNOLOGIST.value in roles[u] and active[u]
            ),
            supervisors=[
                people[u]
                for u in sorted(works[f.id])
                if Role.SUPERVISOR.value in roles[u] and active[u]
            ],
            pool=sorted(u for u in radiologists if f.id in privileged[u]),
        )
        for f in facilities
    ]
    schedules = (await db.scalars(select(OnCallSchedule))).all()
    return Cast(
        sites=[s for s in sites if s.rooms and s.technologists],
        people=people,
        by_username={p.username: p for p in people.values()},
        facts=facts,
        on_call={
            row.code: OnCall(Schedule.model_validate(row.definition), start, end)
            for row in schedules
        },
    )


async def _user_zones(db: AsyncSession) -> dict[int, zoneinfo.ZoneInfo]:
    """People's own time zones, where the schema has them (``users.timezone``, migration 0009)."""
    column = User.__table__.c.get("timezone")
    if column is None:
        return {}
    rows = await db.execute(select(User.__table__.c.id, column).where(column.is_not(None)))
    return {user_id: zoneinfo.ZoneInfo(name) for user_id, name in rows.all()}
