"""Read-side queries of the directory: where someone works, where they may supervise, the policy a
facility pages with and the exam setup its people read."""

from __future__ import annotations

import zoneinfo
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
    user = await db.get(User, user_id)
    licenses = await db.scalars(select(License).where(License.user_id == user_id))
    privileges = await db.scalars(select(Privilege.facility_id).where(Privilege.user_id == user_id))
    is_radiologist = await db.scalar(
        select(UserRole.user_id).where(
            UserRole.user_id == user_id, UserRole.role == Role.RADIOLOGIST
        )
    )
    return Radiologist(
        user_id=user_id,
        active=user is not None and user.active and is_radiologist is not None,
        licenses=tuple(StateLicense(lic.state, lic.expires_on) for lic in licenses),
        privileged_facility_ids=frozenset(privileges),
    )


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
