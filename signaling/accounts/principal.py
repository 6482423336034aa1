"""The logged-in person as every route, socket and domain sees them: who, with which roles, at which
facilities, loaded from the directory's tables."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.accounts.roles import Role
from signaling.storage.models import User, UserFacility, UserRole


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
