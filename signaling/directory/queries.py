"""Read-side queries of the directory: who someone is, where they work, where they may supervise."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.eligibility import Radiologist, Site, StateLicense, eligible_sites
from signaling.models import Facility, License, Privilege, Room, User, UserFacility, UserRole
from signaling.roles import Role


@dataclass(frozen=True)
class Principal:
    """The logged-in person, as every route and socket sees them."""

    id: int
    username: str
    full_name: str
    credentials: str
    roles: frozenset[Role]
    facility_ids: frozenset[int]

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "username": self.username,
            "full_name": self.full_name,
            "credentials": self.credentials,
            "roles": sorted(self.roles),
        }


async def load_principal(db: AsyncSession, user_id: int) -> Principal | None:
    user = await db.get(User, user_id)
    if user is None or not user.active:
        return None
    roles = await db.scalars(select(UserRole.role).where(UserRole.user_id == user_id))
    facilities = await db.scalars(
        select(UserFacility.facility_id).where(UserFacility.user_id == user_id)
    )
    return Principal(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        credentials=user.credentials,
        roles=frozenset(Role(r) for r in roles),
        facility_ids=frozenset(facilities),
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
