"""Who could be paged for each facility, hour by hour over the coming days, by the pager's own rules.

For each facility: the people on call (on the schedules its escalation policy names or that name
it, and the people its policy names directly) and, of them, who is eligible there: an active
radiologist with a license in the facility's state not expired on the facility's calendar
(``paging.eligibility``, the pager's rule), privileges there and a caseload cap above zero
(``cap_reason`` with nothing supervised yet). A pool tier is not counted: it pages whoever is
privileged, on call or not.

Hours are the facility's local clock hours in real time: the day clocks spring forward has no
02:00, the day they fall back has 01:00 twice. An hour's count is the fewest eligible at any moment
of it (a shift changing at 08:30 with nobody until 09:00 leaves 08:00-09:00 empty). Each schedule's
shifts are read once for the whole span (``paging.schedule.timeline``) and each person's
eligibility once per facility and local day, so the cost grows with changes, not with hours asked.
"""

from __future__ import annotations

import zoneinfo
from bisect import bisect_right
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.eligibility import Ineligibility, Radiologist, Site, ineligibility
from paging.policy import EscalationPolicy
from paging.schedule import Handoff, Schedule, timeline
from signaling.directory.queries import facility_policies, radiologists_facts
from signaling.pager.directory_view import cap_reason
from signaling.pager.on_call import covering_schedules
from signaling.storage.models import Facility, OnCallSchedule, User

HOUR = timedelta(hours=1)
NOBODY = "no schedule covers it"
NO_SOURCE = "no schedule covers this facility and its policy names nobody"


@dataclass(frozen=True)
class Hour:
    """One local clock hour at a facility: ``eligible`` names the fewest people who could be paged
    at any moment of it (empty: a hole), ``why`` says why nobody could when it is empty."""

    start: datetime  # aware, in the facility's zone
    end: datetime
    eligible: tuple[str, ...]
    why: tuple[str, ...] = ()


@dataclass(frozen=True)
class FacilityHours:
    facility_id: int
    code: str
    name: str
    timezone: str
    hours: tuple[Hour, ...]


def first_hour(now: datetime, zone: tzinfo) -> datetime:
    """The start of the facility's local clock hour that ``now`` falls in, in UTC (so that adding
    hours to it adds real hours, not wall-clock ones)."""
    local = now.astimezone(zone)
    return now.astimezone(UTC) - timedelta(
        minutes=local.minute, seconds=local.second, microseconds=local.microsecond
    )


async def on_call_hours(
    db: AsyncSession, facility_ids: Collection[int], now: datetime, hours: int
) -> list[FacilityHours]:
    """``hours`` local hours of each facility in ``facility_ids`` from the one ``now`` is in (that
    first hour judged from ``now`` on), facilities sorted by name. Reads the directory in a few
    queries, whatever the number of facilities."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware now, got naive {now.isoformat()}")
    now = now.astimezone(UTC)  # aware arithmetic in one zone is wall-clock arithmetic
    facilities = list(
        await db.scalars(
            select(Facility).where(Facility.id.in_(set(facility_ids))).order_by(Facility.name)
        )
    )
    if not facilities:
        return []
    policies = await facility_policies(db, [f.id for f in facilities])
    schedules = [
        Schedule.model_validate(row.definition)
        for row in await db.scalars(select(OnCallSchedule).order_by(OnCallSchedule.code))
    ]
    covering = {f.id: covering_schedules(schedules, f.code, policies[f.id]) for f in facilities}
    end = now + hours * HOUR
    timelines = {s.code: _Timeline(timeline(s, now, end)) for c in covering.values() for s in c}
    named = {f.id: _named_users(policies[f.id]) for f in facilities}
    usernames = {u for t in timelines.values() for h in t.handoffs for u in h.on_call}
    usernames |= {u for users in named.values() for u in users}
    users = {
        u.username: u for u in await db.scalars(select(User).where(User.username.in_(usernames)))
    }
    facts = await radiologists_facts(db, [u.id for u in users.values()])
    return [
        _Facility(f, users, facts).hours(
            [timelines[s.code] for s in covering[f.id]], named[f.id], now, hours
        )
        for f in facilities
    ]


def _named_users(policy: EscalationPolicy) -> frozenset[str]:
    return frozenset(u for tier in policy.tiers for t in tier.targets for u in t.users)


class _Timeline:
    """A schedule's handoffs with a lookup of who is on call at an instant inside the span."""

    def __init__(self, handoffs: list[Handoff]) -> None:
        self.handoffs = handoffs
        # In UTC: two aware times in one zone compare by their wall clocks, fold ignored.
        self.ats = [h.at.astimezone(UTC) for h in handoffs]

    def at(self, instant: datetime) -> tuple[str, ...]:
        return self.handoffs[bisect_right(self.ats, instant) - 1].on_call


class _Facility:
    """One facility's hours: who of those on call is eligible there, on which local day, and why not."""

    def __init__(
        self, facility: Facility, users: dict[str, User], facts: dict[int, Radiologist]
    ) -> None:
        self.facility = facility
        self.zone = zoneinfo.ZoneInfo(facility.timezone)
        self.site = Site(facility.id, facility.state)
        self.users = users
        self.facts = facts
        self._why_not: dict[tuple[str, date], str | None] = {}

    def hours(
        self, timelines: list[_Timeline], named: frozenset[str], now: datetime, count: int
    ) -> FacilityHours:
        begin = first_hour(now, self.zone)
        starts = [begin + k * HOUR for k in range(count + 1)]
        local = [start.astimezone(self.zone) for start in starts]
        # Who may be paged changes only at a handoff or where the local date turns (a license
        # runs out at the facility's midnight): judge each stretch between two such moments once.
        turns = {at for t in timelines for at in t.ats if now < at < starts[-1]}
        turns |= {starts[k] for k in range(1, count) if local[k].date() != local[k - 1].date()}
        moments = [now, *sorted(turns)]
        stretches = [self._stretch(moment, timelines, named) for moment in moments]
        hours: list[Hour] = []
        index = 0
        for k in range(count):
            while index + 1 < len(moments) and moments[index + 1] <= starts[k]:
                index += 1
            fewest, first_why = stretches[index]
            why = dict.fromkeys(first_why)
            while index + 1 < len(moments) and moments[index + 1] < starts[k + 1]:
                index += 1
                eligible, reasons = stretches[index]
                if len(eligible) < len(fewest):
                    fewest = eligible
                why.update(dict.fromkeys(reasons))
            hours.append(Hour(local[k], local[k + 1], fewest, tuple(why)))
        f = self.facility
        return FacilityHours(f.id, f.code, f.name, f.timezone, tuple(hours))

    def _stretch(
        self, moment: datetime, timelines: list[_Timeline], named: frozenset[str]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Who may be paged from ``moment`` until the next turn, and why nobody when nobody may."""
        on_call = sorted(set(named).union(*(t.at(moment) for t in timelines)))
        day = moment.astimezone(self.zone).date()
        reasons = [self._reason(u, day) for u in on_call]
        eligible = tuple(
            sorted(
                self.users[u].full_name for u, r in zip(on_call, reasons, strict=True) if r is None
            )
        )
        if eligible:
            return eligible, ()
        if not timelines and not named:
            return (), (NO_SOURCE,)
        if not on_call:
            return (), (NOBODY,)
        return (), tuple(dict.fromkeys(r for r in reasons if r is not None))

    def _reason(self, username: str, day: date) -> str | None:
        key = (username, day)
        if key not in self._why_not:
            self._why_not[key] = self._judge(username, day)
        return self._why_not[key]

    def _judge(self, username: str, day: date) -> str | None:
        user = self.users.get(username)
        if user is None:
            return f"{username} is not in the directory"
        facts = self.facts[user.id]
        reason = ineligibility(facts, self.site, day)
        name, state = user.full_name, self.site.state
        if reason is Ineligibility.INACTIVE:
            return f"{name} is not an active radiologist"
        if reason is Ineligibility.NO_LICENSE:
            return f"{name} has no {state} license"
        if reason is Ineligibility.LICENSE_EXPIRED:
            expiry = max(_expiries(facts, state))
            return f"{name}'s {state} license expires {expiry.isoformat()}"
        if reason is Ineligibility.NOT_PRIVILEGED:
            return f"{name} has no privileges at {self.facility.name}"
        if cap_reason(0, user.max_concurrent) is not None:
            return f"{name}'s caseload cap is {user.max_concurrent}"
        return None


def _expiries(facts: Radiologist, state: str) -> Iterable[date]:
    return (lic.expires_on for lic in facts.licenses if lic.state == state)
