"""Who is on call now for a facility, as its technologists, supervisors and admins see it.

For each schedule that covers the facility (names it, or is named by its escalation policy): who is on
call now, until when, and who takes over then; and whether each person on call could be paged right now,
decided by the pager's own directory (``ServiceDirectory``: license in the facility's state, privileges
there, caseload cap), so this view and the pager never disagree. Plus the escalation policy in force.
Names, never phone numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.policy import EscalationPolicy, Target, TargetKind
from paging.schedule import Schedule, next_handoffs
from signaling.accounts.principal import Principal
from signaling.accounts.roles import Role
from signaling.clock import iso_ms
from signaling.common.errors import Forbidden, NotFound
from signaling.directory.edits import policy_in_force
from signaling.pager.directory_view import ServiceDirectory
from signaling.storage.models import Facility, OnCallSchedule, User


async def visible_facility(db: AsyncSession, principal: Principal, facility_id: int) -> Facility:
    """The facility if ``principal`` may see its on-call view: admins any, technologists and
    supervisors their own (NotFound otherwise, as for an unknown id: no probing)."""
    if not principal.has(Role.ADMIN, Role.TECHNOLOGIST, Role.SUPERVISOR):
        raise Forbidden("this needs the role technologist, supervisor or admin")
    facility = await db.get(Facility, facility_id)
    if facility is None or not (principal.has(Role.ADMIN) or facility_id in principal.facility_ids):
        raise NotFound(f"no facility {facility_id} that you may see")
    return facility


def covering_schedules(
    schedules: Iterable[Schedule], facility_code: str, policy: EscalationPolicy
) -> list[Schedule]:
    """Those of ``schedules`` that cover the facility: they name it, or its policy names them."""
    named = {
        target.schedule
        for tier in policy.tiers
        for target in tier.targets
        if target.kind is TargetKind.SCHEDULE
    }
    return [s for s in schedules if facility_code in s.facilities or s.code in named]


async def on_call_now(db: AsyncSession, facility: Facility, now: datetime) -> dict[str, Any]:
    """The view at ``now``: each covering schedule's people on call (eligible or why not), ``until``
    (the next handoff, None if none within two weeks) and ``next``; the policy in force."""
    in_force = await policy_in_force(db, facility)
    schedules = covering_schedules(
        [
            Schedule.model_validate(row.definition)
            for row in await db.scalars(select(OnCallSchedule).order_by(OnCallSchedule.code))
        ],
        facility.code,
        in_force.policy,
    )
    handoffs = {s.code: next_handoffs(s, now, limit=1) for s in schedules}
    names = await _full_names(
        db,
        {u for h in handoffs.values() for handoff in h for u in handoff.on_call}
        | {u for tier in in_force.policy.tiers for t in tier.targets for u in t.users},
    )
    directory = ServiceDirectory()
    entries = []
    for schedule in schedules:
        resolved = await directory.resolve(
            db, facility.id, Target(kind=TargetKind.SCHEDULE, schedule=schedule.code), now
        )
        people = [{"name": r.name, "eligible": True, "reason": None} for r in resolved.recipients]
        people += [
            {"name": s.name, "eligible": False, "reason": s.reason} for s in resolved.skipped
        ]
        following = handoffs[schedule.code][0] if handoffs[schedule.code] else None
        entries.append(
            {
                "code": schedule.code,
                "timezone": schedule.timezone,
                "on_call": sorted(people, key=lambda p: str(p["name"])),
                "until": iso_ms(following.at) if following else None,
                "next": [names.get(u, u) for u in following.on_call] if following else None,
            }
        )
    return {
        "facility": {
            "id": facility.id,
            "code": facility.code,
            "name": facility.name,
            "state": facility.state,
            "timezone": facility.timezone,
        },
        "at": iso_ms(now),
        "schedules": entries,
        "escalation": _policy_summary(in_force.policy, in_force.stored, names),
    }


def _policy_summary(
    policy: EscalationPolicy, stored: bool, names: dict[str, str]
) -> dict[str, Any]:
    def target(t: Target) -> dict[str, Any]:
        if t.kind is TargetKind.SCHEDULE:
            return {"kind": t.kind.value, "schedule": t.schedule}
        if t.kind is TargetKind.USERS:
            return {"kind": t.kind.value, "names": [names.get(u, u) for u in t.users]}
        return {"kind": t.kind.value}

    return {
        "default": not stored,
        "repeat": policy.repeat,
        "repeat_after_s": policy.repeat_after_s,
        "tiers": [
            {
                "delay_s": tier.delay_s,
                "targets": [target(t) for t in tier.targets],
                "channels": [c.value for c in tier.channels],
            }
            for tier in policy.tiers
        ],
    }


async def _full_names(db: AsyncSession, usernames: set[str]) -> dict[str, str]:
    if not usernames:
        return {}
    rows = await db.execute(
        select(User.username, User.full_name).where(User.username.in_(usernames))
    )
    return {row.username: row.full_name for row in rows}
