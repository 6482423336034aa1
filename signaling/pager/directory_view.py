"""The pager's view of the directory: who a target means now, eligibility and caps checked.

Implements ``paging.engine.Directory``. Called inside the tier's transaction at the moment it fires,
so a license that expired, a shift that ended or a cap reached a minute ago all count.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.eligibility import Site, ineligibility
from paging.engine import Recipient, Resolution, Skip
from paging.policy import Target, TargetKind
from paging.schedule import Schedule, on_call
from signaling.accounts.roles import Role
from signaling.directory.queries import facility_today, radiologist_facts
from signaling.sessions.state import SessionState
from signaling.storage.models import (
    Facility,
    OnCallSchedule,
    Privilege,
    SupervisionSession,
    User,
    UserFacility,
    UserRole,
)

log = logging.getLogger(__name__)


def cap_reason(busy: int, cap: int) -> str | None:
    """Why someone supervising ``busy`` sessions may take no other under their ``cap`` (None: they
    may take one)."""
    if busy >= cap:
        return f"at caseload cap ({busy} of {cap})"
    return None


class ServiceDirectory:
    async def resolve(
        self, db: AsyncSession, facility_id: int, target: Target, now: datetime
    ) -> Resolution:
        facility = await db.get(Facility, facility_id)
        if facility is None:
            return Resolution(())
        users = await self._candidates(db, facility_id, target, now)
        recipients: list[Recipient] = []
        skipped: list[Skip] = []
        site, today = Site(facility.id, facility.state), facility_today(facility, now)
        for user in users:
            reason = ineligibility(await radiologist_facts(db, user.id), site, today)
            if reason is not None:
                skipped.append(Skip(user.id, user.full_name, reason.value))
                continue
            at_cap = cap_reason(await _sessions_supervised(db, user.id), user.max_concurrent)
            if at_cap is not None:
                skipped.append(Skip(user.id, user.full_name, at_cap))
                continue
            recipients.append(Recipient(user.id, user.full_name, user.mobile))
        return Resolution(tuple(recipients), tuple(skipped))

    async def supervisors(self, db: AsyncSession, facility_id: int) -> tuple[Recipient, ...]:
        """Active supervisors of the facility: told when paging runs out."""
        found = await db.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .join(UserFacility, UserFacility.user_id == User.id)
            .where(
                UserRole.role == Role.SUPERVISOR,
                UserFacility.facility_id == facility_id,
                User.active.is_(True),
            )
            .order_by(User.id)
        )
        return tuple(Recipient(u.id, u.full_name, u.mobile) for u in found.unique())

    async def _candidates(
        self, db: AsyncSession, facility_id: int, target: Target, now: datetime
    ) -> list[User]:
        if target.kind is TargetKind.POOL:
            query = (
                select(User)
                .join(Privilege, Privilege.user_id == User.id)
                .join(UserRole, UserRole.user_id == User.id)
                .where(Privilege.facility_id == facility_id, UserRole.role == Role.RADIOLOGIST)
            )
            return list((await db.scalars(query.order_by(User.id))).all())
        if target.kind is TargetKind.USERS:
            names = list(target.users)
        else:
            row = await db.scalar(
                select(OnCallSchedule).where(OnCallSchedule.code == target.schedule)
            )
            if row is None:
                log.warning(
                    "paging: schedule %s is named by a policy but does not exist", target.schedule
                )
                return []
            names = list(on_call(Schedule.model_validate(row.definition), now))
        if not names:
            return []
        return list(
            (await db.scalars(select(User).where(User.username.in_(names)).order_by(User.id))).all()
        )


async def _sessions_supervised(db: AsyncSession, user_id: int) -> int:
    """Sessions this radiologist has taken and not finished (accepted or joined)."""
    count = await db.scalar(
        select(func.count())
        .select_from(SupervisionSession)
        .where(
            SupervisionSession.radiologist_id == user_id,
            SupervisionSession.state.in_([SessionState.PAGING.value, SessionState.JOINED.value]),
        )
    )
    return int(count or 0)
