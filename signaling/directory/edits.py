"""The directory over the admin API: read back in the directory file's shape, edited through its loader.

``export_directory`` returns the document ``standby load-directory`` takes, so an admin can fetch it,
edit it and put it back; loading an unedited export changes nothing. It never carries passwords (nor
their hashes). Rooms that are no longer active are left out: the file has no way to say "inactive",
and loading a room makes it active.

Every edit goes through ``signaling.directory.file.load_directory``, the one validator and loader, inside the
caller's transaction, so an edit with any error changes nothing. An edit that would leave no active
admin is refused, so nobody can lock a deployment out of its own admin API (``standby
load-directory`` on the server stays the way back in).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.policy import EscalationPolicy
from paging.schedule import Schedule
from signaling.accounts.roles import Role
from signaling.common.errors import Conflict, NotFound
from signaling.directory.exam_setup import exam_setup_of
from signaling.directory.file import (
    DirectoryFile,
    FacilitySpec,
    LoadReport,
    UserSpec,
    load_directory,
)
from signaling.directory.queries import facility_policy
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
class PolicyInForce:
    """The policy a facility pages with; ``stored`` is False when it is the default."""

    policy: EscalationPolicy
    stored: bool


async def export_directory(db: AsyncSession) -> dict[str, Any]:
    """The whole directory as a directory-file document, each list sorted by its code."""
    facilities = (await db.scalars(select(Facility).order_by(Facility.code))).all()
    users = (await db.scalars(select(User).order_by(User.username))).all()
    schedules = (await db.scalars(select(OnCallSchedule).order_by(OnCallSchedule.code))).all()
    return {
        "facilities": await _facility_entries(db, facilities),
        "users": await _user_entries(db, users),
        "schedules": [_schedule_entry(row) for row in schedules],
    }


async def export_user(db: AsyncSession, username: str) -> dict[str, Any]:
    """One user's entry as the directory file writes it; NotFound if there is no such user."""
    user = await db.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username[:80]!r}")
    (entry,) = await _user_entries(db, [user])
    return entry


async def export_schedule(db: AsyncSession, code: str) -> dict[str, Any]:
    """One schedule as the directory file writes it; NotFound if there is no such schedule."""
    row = await db.scalar(select(OnCallSchedule).where(OnCallSchedule.code == code))
    if row is None:
        raise NotFound(f"no schedule {code[:40]!r}")
    return _schedule_entry(row)


async def facility_by_code(db: AsyncSession, code: str) -> Facility:
    facility = await db.scalar(select(Facility).where(Facility.code == code))
    if facility is None:
        raise NotFound(f"no facility {code[:40]!r}")
    return facility


async def policy_in_force(db: AsyncSession, facility: Facility) -> PolicyInForce:
    """What a session opened now at ``facility`` would page with (the pager's own choice)."""
    stored = await db.get(FacilityPolicy, facility.id) is not None
    return PolicyInForce(await facility_policy(db, facility.id), stored)


async def apply(db: AsyncSession, directory: DirectoryFile) -> LoadReport:
    """Load ``directory`` as ``standby load-directory`` does, refusing to leave no active admin."""
    report = await load_directory(db, directory)
    admins = await db.scalar(
        select(func.count())
        .select_from(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.ADMIN, User.active.is_(True))
    )
    if not admins:
        raise Conflict(
            "this change would leave no active user with the role admin; keep at least one"
        )
    return report


async def put_user(db: AsyncSession, spec: UserSpec) -> LoadReport:
    return await apply(db, DirectoryFile(users=[spec]))


async def put_schedule(db: AsyncSession, schedule: Schedule) -> LoadReport:
    return await apply(db, DirectoryFile(schedules=[schedule]))


async def put_policy(db: AsyncSession, code: str, policy: EscalationPolicy) -> LoadReport:
    """Replace one facility's escalation policy (sessions already paging keep their snapshot)."""
    facility = await facility_by_code(db, code)
    spec = FacilitySpec(
        code=facility.code,
        name=facility.name,
        state=facility.state,
        timezone=facility.timezone,
        monitor_media=facility.monitor_media,
        escalation=policy,
        require_preflight=facility.require_preflight,
    )
    return await apply(db, DirectoryFile(facilities=[spec]))


async def _facility_entries(
    db: AsyncSession, facilities: Sequence[Facility]
) -> list[dict[str, Any]]:
    rooms: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for room in await db.scalars(
        select(Room).where(Room.active.is_(True)).order_by(Room.facility_id, Room.code)
    ):
        rooms[room.facility_id].append(
            {"code": room.code, "name": room.name, "modality": room.modality}
        )
    policies = {row.facility_id: row.policy for row in await db.scalars(select(FacilityPolicy))}
    return [
        {
            "code": f.code,
            "name": f.name,
            "state": f.state,
            "timezone": f.timezone,
            "rooms": rooms[f.id],
            "require_preflight": f.require_preflight,
            "monitor_media": f.monitor_media,
            "escalation": (
                EscalationPolicy.model_validate(policies[f.id]).model_dump(mode="json")
                if f.id in policies
                else None
            ),
            "exam_setup": (
                exam_setup_of(f).model_dump(mode="json") if f.exam_setup is not None else None
            ),
        }
        for f in facilities
    ]


async def _user_entries(db: AsyncSession, users: Sequence[User]) -> list[dict[str, Any]]:
    ids = [u.id for u in users]
    codes = {row.id: row.code for row in await db.execute(select(Facility.id, Facility.code))}
    roles: dict[int, list[str]] = defaultdict(list)
    for user_id, role in await db.execute(
        select(UserRole.user_id, UserRole.role).where(UserRole.user_id.in_(ids))
    ):
        roles[user_id].append(role)
    works_at: dict[int, list[str]] = defaultdict(list)
    for user_id, facility_id in await db.execute(
        select(UserFacility.user_id, UserFacility.facility_id).where(UserFacility.user_id.in_(ids))
    ):
        works_at[user_id].append(codes[facility_id])
    privileged: dict[int, list[str]] = defaultdict(list)
    for user_id, facility_id in await db.execute(
        select(Privilege.user_id, Privilege.facility_id).where(Privilege.user_id.in_(ids))
    ):
        privileged[user_id].append(codes[facility_id])
    licenses: dict[int, list[dict[str, str]]] = defaultdict(list)
    for lic in await db.scalars(
        select(License).where(License.user_id.in_(ids)).order_by(License.state)
    ):
        licenses[lic.user_id].append(
            {"state": lic.state, "number": lic.number, "expires": lic.expires_on.isoformat()}
        )
    return [
        {
            "username": u.username,
            "full_name": u.full_name,
            "credentials": u.credentials,
            "roles": sorted(roles[u.id]),
            "facilities": sorted(works_at[u.id]),
            "licenses": licenses[u.id],
            "privileges": sorted(privileged[u.id]),
            "active": u.active,
            "mobile": u.mobile,
            "max_concurrent": u.max_concurrent,
            "timezone": u.timezone,
        }
        for u in users
    ]


def _schedule_entry(row: OnCallSchedule) -> dict[str, Any]:
    return Schedule.model_validate(row.definition).model_dump(mode="json")
