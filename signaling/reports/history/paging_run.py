"""One session's paging, run as the engine runs it (``paging.engine``), with people who answer or
do not: the rows the pager leaves (timers, pages per tier and channel, carrier replies) and who
took the session when.

The engine's rules, kept: every firing of the policy is a timer; a tier fires at its time and
pages each eligible person on each of its channels (a skipped row for who is not eligible, or has
no number); an empty tier is not waited out (the next timer is pulled to now); an accept holds
further timers for the grace window; the first radiologist to take the session stops paging (the
timers left are cancelled); when the rounds run out the facility's supervisors are alerted.

People: each person paged answers a tier's page with that tier's chance (``spec.Response``; less
at night in their own time, less again for each page they let go), joining after a lognormal
delay; by the console, or by accepting first by SMS or keypress and opening it after. Someone who
sees another's accept standing mostly leaves it to them. All times are epoch seconds.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from paging.engine import ALERT_TIER, AlertKind, Purpose, alert_key, page_key
from paging.policy import Channel, EscalationPolicy, exhausted_at_s, firings
from signaling.pager.phone import JOIN_NOW
from signaling.reports.history.cast import Cast, Person, SiteFacts
from signaling.reports.history.paging_state import Accept, Page, Paging, Timer
from signaling.reports.history.spec import HistorySpec
from signaling.reports.history.times import at

GRACE_S = 30.0  # the engine's hold after an accept (``Engine(grace=...)``)
STEP_BACK = 0.85  # someone who sees another's accept standing leaves it to them
NIGHT = (22, 7)  # a person's own sleep hours: slower, and fewer answer
SMS_UNDELIVERED = 0.012
NO_PAGE_OPEN = "not delivered: no Standby page open"


@dataclass(frozen=True)
class Taken:
    """Who took the session, how, and when their call was verified two-way live."""

    user: Person
    via: str
    accepted: float
    take: float
    joined: float


class Pager:
    """Runs sessions' paging for one history (its cast, spec and random stream)."""

    def __init__(self, cast: Cast, spec: HistorySpec, rng: random.Random) -> None:
        self.cast = cast
        self.spec = spec
        self.rng = rng
        self._pace: dict[int, float] = {}
        self._firings: dict[int, tuple[list[tuple[float, int, int]], float]] = {}

    def pace(self, person: Person) -> float:
        """A person's own speed (1: typical), the same for the whole history."""
        if person.id not in self._pace:
            own = random.Random(self.spec.seed * 1_000_003 + person.id)
            self._pace[person.id] = own.lognormvariate(0.0, 0.15)
        return self._pace[person.id]

    def _plan(self, policy: EscalationPolicy) -> tuple[list[tuple[float, int, int]], float]:
        key = id(policy)
        if key not in self._firings:
            plan = [(f.at_s, f.tier, f.round) for f in firings(policy)]
            self._firings[key] = (plan, exhausted_at_s(policy))
        return self._firings[key]

    def run(
        self,
        paging: Paging,
        start: float,
        give_up: float,
        *,
        base_round: int = 0,
        returning: tuple[Person, float] | None = None,
    ) -> Taken | None:
        """Page from ``start`` (rounds from ``base_round``) until someone takes the session or the
        technologist ends it at ``give_up``; ``returning``: a radiologist coming back by the
        console at that moment (after a re-page). The session's rows grow in ``paging``."""
        site, rng = paging.site, self.rng
        plan, exhausted_s = self._plan(site.policy)
        queue: list[tuple[float, int, str, Any]] = []
        order = len(paging.timers)
        fresh: list[Timer] = []
        for at_s, tier, round_ in plan:
            fresh.append(Timer("tier", tier, base_round + round_, start + at_s, order))
            order += 1
        fresh.append(Timer("exhausted", None, None, start + exhausted_s, order))
        paging.timers.extend(fresh)
        paging.stopped, paging.stop_reason, paging.held_until = None, None, None
        counter = 0

        def push(moment: float, what: str, payload: Any) -> None:
            nonlocal counter
            counter += 1
            heapq.heappush(queue, (moment, counter, what, payload))

        for t in fresh:
            push(t.due, "timer", t)
        push(give_up, "end", None)
        if returning is not None:
            person, moment = returning
            joined = moment + rng.uniform(3.0, 7.0)
            push(moment, "take", (person, "web", moment, joined, True))
        responding: set[int] = set()
        tries: dict[int, int] = {}
        taken: Taken | None = None
        while queue:
            moment, _, what, payload = heapq.heappop(queue)
            if what == "timer":
                t = payload
                if t.done is not None or t.due != moment or paging.stopped is not None:
                    continue
                if paging.held_until is not None and moment < paging.held_until:
                    t.due = paging.held_until
                    push(t.due, "timer", t)
                    continue
                paging.held_until = None  # a hold that lapsed: the engine resumes the run
                fired_at = moment if moment == start else moment + rng.uniform(0.0, 0.06)
                if t.kind == "exhausted":
                    t.done, t.outcome = fired_at, "exhausted"
                    paging.stopped, paging.stop_reason = fired_at, "exhausted"
                    self._alert(paging, fired_at)
                    continue
                paged = self._fire(paging, t, fired_at, responding, tries, push)
                t.done, t.outcome = fired_at, "fired" if paged else "skipped_empty"
                if not paged:
                    following = [x for x in fresh if x.done is None and x.due > moment]
                    if following:
                        nxt = min(following, key=lambda x: (x.due, x.order))
                        nxt.due = fired_at
                        push(fired_at, "timer", nxt)
            elif what == "accept":
                person, via, take, joined = payload
                if self._steps_back(paging, person):
                    continue
                paging.accepts[person.id] = Accept(person, via, moment)
                paging.accepted.append((person, via, moment))
                self._reply(paging, person, via, moment)
                if paging.stopped is None:
                    paging.held_until = moment + GRACE_S
                push(take, "take", (person, via, moment, joined, True))
            elif what == "take":
                person, via, accepted, joined, insists = payload
                mine = paging.accepts.get(person.id)
                fresh_take = mine is None or mine.ended is not None
                if fresh_take and not insists and self._steps_back(paging, person):
                    continue
                if fresh_take:
                    paging.accepts[person.id] = Accept(person, via, moment)
                    paging.accepted.append((person, via, moment))
                    accepted = moment
                taken = Taken(person, via, accepted, moment, joined)
                self._stop(paging, moment, "joined", winner=person.id)
                break
            else:  # the technologist ends it
                break
        return taken

    def end(self, paging: Paging, moment: float, reason: str) -> None:
        """The session ended (cancelled) at ``moment`` while still paging."""
        self._stop(paging, moment, reason, winner=None)

    def _stop(self, paging: Paging, moment: float, reason: str, winner: int | None) -> None:
        for t in paging.timers:
            if t.done is None:
                t.done, t.outcome = moment, "cancelled"
        if paging.stopped is None:
            paging.stopped, paging.stop_reason = moment, reason
        for a in paging.accepts.values():
            if a.ended is None:
                mine = a.user.id == winner
                a.ended = moment
                a.end_reason = "joined" if mine else "superseded" if winner else "session_ended"
        for p in paging.pages:
            if p.status in ("sent", "failed") and p.sent is not None and p.sent > moment:
                p.status, p.detail, p.sent, p.ref = "cancelled", reason, None, None

    def _steps_back(self, paging: Paging, person: Person) -> bool:
        standing = any(a.ended is None and a.user.id != person.id for a in paging.accepts.values())
        return standing and self.rng.random() < STEP_BACK

    def _fire(
        self,
        paging: Paging,
        t: Timer,
        now: float,
        responding: set[int],
        tries: dict[int, int],
        push: Any,
    ) -> bool:
        """Fire one tier: its pages and skips; each person paged may answer. Whether anyone was
        paged (an empty tier is not waited out)."""
        site = paging.site
        assert t.tier is not None
        assert t.round is not None
        tier = site.policy.tiers[t.tier]
        moment = at(now)
        today = moment.astimezone(site.zone).date()
        people: dict[int, Person] = {}
        skipped: dict[int, str] = {}
        for target in tier.targets:
            paged, skips = self.cast.resolve(site, target, moment, today)
            for person in paged:
                people[person.id] = person
            for skip in skips:
                skipped.setdefault(skip.person.id, skip.reason)
        for person in people.values():
            self._page(paging, t, person, tier.channels, now, moment, responding, tries, push)
        for user_id, reason in skipped.items():
            if user_id not in people:
                person = self.cast.people[user_id]
                key = page_key(paging.session_id, t.tier, t.round, user_id, "-")
                paging.pages.append(
                    Page(key, person, "-", Purpose.PAGE, t.tier, t.round, "skipped", now)
                )
                paging.pages[-1].detail = reason
        return bool(people)

    def _page(
        self,
        paging: Paging,
        t: Timer,
        person: Person,
        channels: tuple[Channel, ...],
        now: float,
        moment: datetime,
        responding: set[int],
        tries: dict[int, int],
        push: Any,
    ) -> None:
        rng = self.rng
        assert t.tier is not None
        assert t.round is not None
        response = self.spec.responses[min(t.tier, len(self.spec.responses) - 1)]
        night = self._night(person, paging.site, moment)
        answers = False
        if person.id not in responding:
            tries[person.id] = tries.get(person.id, 0) + 1
            chance = response.answers * (0.8 if night else 1.0) * 0.5 ** (tries[person.id] - 1)
            answers = rng.random() < chance
        via = "web"
        if answers:
            draw = rng.random()
            via = "web" if draw < 0.55 else "sms" if draw < 0.85 else "voice"
        slow = self.spec.slow.get(person.username)
        if answers and slow is not None:
            via = "sms" if rng.random() < 0.85 else "web"
        delivered: set[str] = set()
        for channel in channels:
            name = channel.value
            key = page_key(paging.session_id, t.tier, t.round, person.id, name)
            if name != "in_app" and not person.mobile:
                page = Page(key, person, name, Purpose.PAGE, t.tier, t.round, "skipped", now)
                page.detail = "no mobile number"
                paging.pages.append(page)
                continue
            page = self._sent(key, person, name, t.tier, t.round, now, answers, via)
            if page.status == "sent":
                delivered.add(name)
            paging.pages.append(page)
        if not answers:
            return
        if via != "web" and via not in delivered:
            via = "web"
        responding.add(person.id)
        connect = rng.uniform(3.0, 8.0)
        if slow is not None:
            accepted = now + rng.lognormvariate(math.log(8.0), 0.35) + 2.0
            joined = accepted + rng.lognormvariate(math.log(slow.join_after_s), slow.spread)
        else:
            median = response.median_s * self.pace(person) * (1.35 if night else 1.0)
            joined = now + max(rng.lognormvariate(math.log(median), response.spread), connect + 2)
            accepted = now + min(rng.lognormvariate(math.log(9.0), 0.4) + 1.5, joined - now - 1)
        take = max(joined - connect, accepted)
        if via == "web" or accepted - now < 2.0:
            push(take, "take", (person, "web", take, joined, False))
        else:
            push(accepted, "accept", (person, via, take, joined))

    def _sent(
        self,
        key: str,
        person: Person,
        channel: str,
        tier: int,
        round_: int,
        now: float,
        answers: bool,
        via: str,
    ) -> Page:
        """A page handed to its channel, and what became of it (a call rings on while its person
        answers another way, and is often declined)."""
        rng = self.rng
        page = Page(key, person, channel, Purpose.PAGE, tier, round_, "sent", now)
        if channel == "in_app":
            page.sent, page.ref = now + rng.uniform(0.01, 0.15), f"in-app:{key}"
            return page
        if channel == "sms":
            page.sent, page.ref = now + rng.uniform(0.4, 1.6), f"SM{rng.getrandbits(128):032x}"
            if rng.random() < SMS_UNDELIVERED:
                page.status, page.detail = "failed", "carrier: undelivered"
            return page
        page.sent, page.ref = now + rng.uniform(0.8, 2.5), f"CA{rng.getrandbits(128):032x}"
        if not (answers and via == "voice"):
            draw = rng.random() + (0.3 if answers else 0.0)
            if draw < 0.45:
                page.status, page.detail = "failed", "voicemail: not reached"
            elif draw < 0.72:
                page.status, page.detail = "failed", "carrier: no-answer"
            elif draw < 0.75:
                page.status, page.detail = "failed", "carrier: busy"
        return page

    def _reply(self, paging: Paging, person: Person, via: str, moment: float) -> None:
        """The carrier event an SMS or keypress accept was claimed by (``paging_inbound``)."""
        if via == "sms":
            local = at(paging.requested).astimezone(paging.site.zone)
            where = f"{paging.site.name}, {paging.room_name} (requested {local:%H:%M})"
            key = f"sms:SM{self.rng.getrandbits(128):032x}"
            answer = f"Standby: Accepted {where}. {JOIN_NOW}"
        else:
            call = next(
                (p.ref for p in reversed(paging.pages) if p.user.id == person.id and p.ref),
                f"CA{self.rng.getrandbits(128):032x}",
            )
            key, answer = f"voice:{call}:1", f"Accepted. {JOIN_NOW}"
        paging.inbound.append((key, at(moment), answer[:400]))

    def _alert(self, paging: Paging, now: float) -> None:
        """Paging ran out: every supervisor of the facility, in-app and by SMS; once a session
        (the history models no second exhaustion after a re-page)."""
        if paging.alerted:
            return
        rng, paging.alerted = self.rng, True
        daytime = at(now).astimezone(paging.site.zone).hour in range(7, 22)
        for person in paging.site.supervisors:
            key = alert_key(paging.session_id, AlertKind.EXHAUSTED, 1, person.id, "in_app")
            page = Page(key, person, "in_app", Purpose.ALERT, ALERT_TIER, 0, "sent", now)
            page.sent = now + rng.uniform(0.05, 2.0)
            if rng.random() < (0.25 if daytime else 0.7):
                page.status, page.detail = "failed", NO_PAGE_OPEN
            else:
                page.ref = f"in-app:{rng.getrandbits(64):016x}"  # the key is too long for it
            paging.pages.append(page)
            key = alert_key(paging.session_id, AlertKind.EXHAUSTED, 1, person.id, "sms")
            page = Page(key, person, "sms", Purpose.ALERT, ALERT_TIER, 0, "sent", now)
            if person.mobile:
                page.sent = now + rng.uniform(0.4, 1.6)
                page.ref = f"SM{rng.getrandbits(128):032x}"
            else:
                page.status, page.detail = "skipped", "no sms for this supervisor"
            paging.pages.append(page)

    @staticmethod
    def _night(person: Person, site: SiteFacts, moment: datetime) -> bool:
        hour = moment.astimezone(person.zone or site.zone).hour
        return hour >= NIGHT[0] or hour < NIGHT[1]
