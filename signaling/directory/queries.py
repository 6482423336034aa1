"""Read-side queries of the directory: where someone works, where they may supervise, the policy a
facility pages with and the exam setup its people read."""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.eligibility import Radiologist, Site, StateLicense, eligible_sites
from paging.policy import EscalationPolicy, default_policy
from signaling.accounts.principal import Principal
from signaling.accounts.roles import Role
from signaling.common.errors import Forbidden, NotFound
from signaling.directory.exam_setup import ExamSetup, exam_setup_of
from signaling.storage.models import (
    Facility,
    FacilityPolicy,
    License,
    Privilege,
    Room,
    User,
    UserRole,
)


def facility_today(facility: Facility, now: datetime) -> date:
    """The calendar date at the facility: licenses expire by the patient's local date."""
    return now.astimezone(zoneinfo.ZoneInfo(facility.timezone)).date()


async def radiologist_facts(db: AsyncSession, user_id: int) -> Radiologist:
    return (await radiologists_facts(db, [user_id]))[user_id]


async def radiologists_facts(db: AsyncSession, user_ids: Collection[int]) -> dict[int, Radiologist]:
    """The eligibility facts of each of ``user_ids`` in four queries, however many there are; an
    unknown id reads as an inactive radiologist with no licenses."""
    ids = sorted(set(user_ids))
    active = set(
        await db.scalars(
            select(User.id)
            .join(UserRole, UserRole.user_id == User.id)
            .where(User.id.in_(ids), User.active.is_(True), UserRole.role == Role.RADIOLOGIST)
        )
    )
    licenses: defaultdict[int, list[StateLicense]] = defaultdict(list)
    for lic in await db.scalars(select(License).where(License.user_id.in_(ids))):
        licenses[lic.user_id].append(StateLicense(lic.state, lic.expires_on))
    privileges: defaultdict[int, set[int]] = defaultdict(set)
    for row in await db.execute(
        select(Privilege.user_id, Privilege.facility_id).where(Privilege.user_id.in_(ids))
    ):
        privileges[row.user_id].add(row.facility_id)
    return {
        user_id: Radiologist(
            user_id=user_id,
            active=user_id in active,
            licenses=tuple(licenses[user_id]),
            privileged_facility_ids=frozenset(privileges[user_id]),
        )
        for user_id in ids
    }


async def eligible_facility_ids(db: AsyncSession, user_id: int, now: datetime) -> set[int]:
    """Facilities where this radiologist may supervise right now (license AND privileges)."""
    facts = await radiologist_facts(db, user_id)
    if not facts.privileged_facility_ids:
        return set()
    facilities = (
        await db.scalars(select(Facility).where(Facility.id.in_(facts.privileged_facility_ids)))
    ).all()
    return eligible_sites(
        facts,
        [Site(f.id, f.state) for f in facilities],
        {f.id: facility_today(f, now) for f in facilities},
    )


async def rooms_for(db: AsyncSession, principal: Principal) -> list[Room]:
    """Active rooms a technologist may open sessions in (admins: every room)."""
    query = (
        select(Room)
        .where(Room.active.is_(True))
        .join(Room.facility)
        .order_by(Facility.name, Room.code)
    )
    if not principal.has(Role.ADMIN):
        query = query.where(Room.facility_id.in_(principal.facility_ids))
    return list((await db.scalars(query)).all())


async def facility_policy(db: AsyncSession, facility_id: int) -> EscalationPolicy:
    """The facility's stored policy, or the default (the whole eligible pool at once)."""
    row = await db.get(FacilityPolicy, facility_id)
    return EscalationPolicy.model_validate(row.policy) if row else default_policy()


async def facility_policies(
    db: AsyncSession, facility_ids: Collection[int]
) -> dict[int, EscalationPolicy]:
    """``facility_policy`` of each of ``facility_ids``, in one query."""
    stored = {
        row.facility_id: EscalationPolicy.model_validate(row.policy)
        for row in await db.scalars(
            select(FacilityPolicy).where(FacilityPolicy.facility_id.in_(set(facility_ids)))
        )
    }
    return {f: stored.get(f) or default_policy() for f in facility_ids}


async def readable_exam_setup(
    db: AsyncSession, principal: Principal, facility_id: int
) -> tuple[Facility, ExamSetup]:
    """The facility and its exam setup, for the people who work with it: its technologists and
    supervisors, radiologists privileged there, admins. NotFound for an unknown facility,
    Forbidden for anyone else."""
    facility = await db.get(Facility, facility_id)
    if facility is None:
        raise NotFound(f"no facility {facility_id}")
    works_there = facility_id in principal.facility_ids and principal.has(
        Role.TECHNOLOGIST, Role.SUPERVISOR
    )
    if not (principal.has(Role.ADMIN) or works_there):
        privileged = principal.has(Role.RADIOLOGIST) and await db.scalar(
            select(Privilege.user_id).where(
                Privilege.user_id == principal.id, Privilege.facility_id == facility_id
            )
        )
        if not privileged:
            raise Forbidden(
                f"the exam setup of {facility.name} is for its technologists and supervisors, "
                "radiologists privileged there, and admins"
            )
    return facility, exam_setup_of(facility)
