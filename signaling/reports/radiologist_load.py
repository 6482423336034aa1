"""Radiologist load: per radiologist, the pages they received, the requests they accepted, joined
and missed, how long from page to join, and when the pages interrupted them in their own time.

Over the ended sessions of the scope (the radiologist filter picks a person's row, not the
sessions they joined):
- pages: their ``page`` pages that were sent and interrupted them (none to them in the minute
  before, from any session: marked when the session ended, ``marks``), each classified business /
  off-hours / sleep in the person's own zone (``users.timezone``; none: the zone of the facility
  that paged them, said in a note);
- accepted: sessions they accepted (console, SMS reply, keypress); joined: sessions they took;
- missed: sessions they were paged for and never accepted, that someone else took or nobody did;
- page to join: from their first sent page of a session they joined to the join (p50, p95).

On PostgreSQL three statements in the database, reading the marked pages from their partial
indexes: the pages that interrupted by person, weekday and hour (``AT TIME ZONE`` for the hours),
the joins by person, and one row per person and session paged for (their first page) or accepted
(accepted, missed, ``percentile_cont`` of page to join). On SQLite the minimal rows are read and
counted here alike."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports import interruptions, marks, scoped, sessions_in, tuning
from signaling.reports.interruptions import Hours
from signaling.reports.latency_stats import seconds
from signaling.reports.percentiles import is_postgres, percentile_cont, seconds_between
from signaling.reports.scope import Scope
from signaling.reports.shape import Card, Column, Report, Table
from signaling.storage.models import Facility, User

KEY = "radiologist_load"
TITLE = "Radiologist load"
HOURS_LABELS = {
    Hours.BUSINESS: "Business hours",
    Hours.OFF_HOURS: "Off-hours",
    Hours.SLEEP: "Sleep hours",
}


@dataclass
class Load:
    pages: int = 0
    accepted: int = 0
    joined: int = 0
    missed: int = 0
    p50_page_to_join: float | None = None
    p95_page_to_join: float | None = None
    hours: dict[Hours, int] = field(default_factory=dict)


Loads = dict[int, Load]


def _sessions(scope: Scope) -> Scope:
    """The sessions read: the scope's, whoever joined them."""
    return replace(scope, filters=replace(scope.filters, radiologist_id=None))


def _person(scope: Scope, column: Any) -> list[ColumnElement[bool]]:
    person = scope.filters.radiologist_id
    return [] if person is None else [column == person]


async def _in_database(db: AsyncSession, scope: Scope) -> Loads:
    sessions = _sessions(scope)
    scoped_ = scoped.sessions(db, sessions)
    during = await scoped.window(db, sessions)
    loads: Loads = defaultdict(Load)

    # The pages that interrupted (marked when their session ended), by person and their own
    # weekday and hour.
    counted = scoped.sent_pages(scoped_, during, only="interrupts")
    local = func.timezone(func.coalesce(User.timezone, Facility.timezone), counted.c.sent_at)
    isodow = cast(func.date_part("isodow", local), Integer)
    hour = cast(func.date_part("hour", local), Integer)
    query = (
        select(counted.c.user_id, isodow, hour, func.count())
        .join(Facility, Facility.id == counted.c.facility_id)
        .join(User, User.id == counted.c.user_id)
        .where(*_person(scope, counted.c.user_id))
        .group_by(counted.c.user_id, isodow, hour)
    )
    # Up to 168 rows a person: read as plain rows (the ORM's row handling costs more than the SQL).
    for user_id, day, at, n in await (await db.connection()).execute(query):
        load = loads[user_id]
        load.pages += n
        h = interruptions.hours_at(day, at)
        load.hours[h] = load.hours.get(h, 0) + n

    joined = (
        select(scoped_.c.radiologist_id, func.count())
        .where(scoped_.c.joined_at.is_not(None), *_person(scope, scoped_.c.radiologist_id))
        .group_by(scoped_.c.radiologist_id)
    )
    for user_id, n in await db.execute(joined):
        loads[user_id].joined = n

    # One row per person and session they were paged for (their first page, marked) or
    # accepted, fully joined: accepted, missed, page to join.
    first = scoped.sent_pages(scoped_, during, only="first_to_person")
    written = scoped.accepts(scoped_, during)
    pairs = (
        select(
            func.coalesce(first.c.user_id, written.c.user_id).label("user_id"),
            func.coalesce(first.c.radiologist_id, written.c.radiologist_id).label("taker"),
            func.coalesce(first.c.joined_at, written.c.joined_at).label("joined_at"),
            first.c.sent_at.label("first_at"),
            written.c.user_id.is_not(None).label("accepted"),
        )
        .select_from(first)
        .join(
            written,
            (written.c.session_id == first.c.session_id) & (written.c.user_id == first.c.user_id),
            full=True,
        )
        .subquery("pairs")
    )
    took = pairs.c.taker == pairs.c.user_id
    to_join = case(
        (
            and_(took, pairs.c.first_at <= pairs.c.joined_at),
            seconds_between(db, pairs.c.first_at, pairs.c.joined_at),
        ),
        else_=None,
    )
    per_person = (
        select(
            pairs.c.user_id,
            func.count().filter(pairs.c.accepted),
            func.count().filter(
                pairs.c.first_at.is_not(None),
                ~pairs.c.accepted,
                pairs.c.taker.is_distinct_from(pairs.c.user_id),
            ),
            func.percentile_cont(0.5).within_group(to_join),
            func.percentile_cont(0.95).within_group(to_join),
        )
        .where(*_person(scope, pairs.c.user_id))
        .group_by(pairs.c.user_id)
    )
    for user_id, accepted, missed, p50, p95 in await db.execute(per_person):
        load = loads[user_id]
        load.accepted, load.missed = accepted, missed
        load.p50_page_to_join, load.p95_page_to_join = seconds(p50), seconds(p95)
    return dict(loads)


async def _in_python(db: AsyncSession, scope: Scope) -> Loads:
    sessions = _sessions(scope)
    scoped_ = scoped.sessions(db, sessions)
    during = await scoped.window(db, sessions)
    sent, accepts = scoped.sent_pages(scoped_, during), scoped.accepts(scoped_, during)
    person = scope.filters.radiologist_id

    def passes(row: Any) -> bool:
        return sessions_in.band_matches(db, sessions, row.requested_at, row.joined_at)

    page_rows = [
        row
        for row in await db.execute(
            select(
                sent,
                User.timezone.label("own_zone"),
                Facility.timezone.label("facility_zone"),
            )
            .join(Facility, Facility.id == sent.c.facility_id)
            .join(User, User.id == sent.c.user_id)
        )
        if passes(row) and (person is None or row.user_id == person)
    ]
    accept_rows = [
        row
        for row in await db.execute(
            select(
                accepts.c.user_id,
                accepts.c.session_id.label("id"),
                accepts.c.requested_at,
                accepts.c.joined_at,
            )
        )
        if passes(row)
    ]
    join_rows = [
        row
        for row in await db.execute(
            select(
                scoped_.c.id, scoped_.c.radiologist_id, scoped_.c.requested_at, scoped_.c.joined_at
            ).where(scoped_.c.joined_at.is_not(None))
        )
        if passes(row) and (person is None or row.radiologist_id == person)
    ]

    loads: Loads = defaultdict(Load)
    received: dict[int, list[Any]] = defaultdict(list)
    first: dict[tuple[int, str], datetime] = {}
    paged: dict[int, set[str]] = defaultdict(set)
    taken_by = {}
    for row in page_rows:
        received[row.user_id].append(row)
        key = (row.user_id, row.session_id)
        first[key] = min(first.get(key, row.sent_at), row.sent_at)
        paged[row.user_id].add(row.session_id)
        taken_by[row.session_id] = row.radiologist_id
    for user_id, rows in received.items():
        rows.sort(key=lambda r: (r.sent_at, r.id))
        load = loads[user_id]
        kept = [r for r in rows if r.interrupts]
        load.pages = len(kept)
        for row in kept:
            zone = ZoneInfo(row.own_zone or row.facility_zone)
            h = interruptions.hours_of(row.sent_at.astimezone(zone))
            load.hours[h] = load.hours.get(h, 0) + 1
    accepted_pairs = {(row.user_id, row.id) for row in accept_rows}
    for user_id, _ in accepted_pairs:
        if person is None or user_id == person:
            loads[user_id].accepted += 1
    waits: dict[int, list[float]] = defaultdict(list)
    for row in join_rows:
        loads[row.radiologist_id].joined += 1
        page_at = first.get((row.radiologist_id, row.id))
        if page_at is not None and page_at <= row.joined_at:
            waits[row.radiologist_id].append((row.joined_at - page_at).total_seconds())
    for user_id, values in waits.items():
        values.sort()
        loads[user_id].p50_page_to_join = seconds(percentile_cont(values, 0.5))
        loads[user_id].p95_page_to_join = seconds(percentile_cont(values, 0.95))
    for user_id, session_ids in paged.items():
        loads[user_id].missed = sum(
            1
            for sid in session_ids
            if taken_by[sid] != user_id and (user_id, sid) not in accepted_pairs
        )
    return dict(loads)


async def loads_of(db: AsyncSession, scope: Scope) -> Loads:
    """Each radiologist's load over ``scope`` (by user id; only people with something to count)."""
    await marks.settle(db)
    return await (_in_database(db, scope) if is_postgres(db) else _in_python(db, scope))


def _total(loads: Loads) -> Load:
    total = Load()
    for load in loads.values():
        total.pages += load.pages
        total.accepted += load.accepted
        total.joined += load.joined
        total.missed += load.missed
        for h, n in load.hours.items():
            total.hours[h] = total.hours.get(h, 0) + n
    return total


def _cards(now: Load, before: Load) -> tuple[Card, ...]:
    return (
        Card("pages", "Pages received", now.pages, before.pages, "count", "lower"),
        Card("accepted", "Accepted", now.accepted, before.accepted, "count"),
        Card("joined", "Joined", now.joined, before.joined, "count"),
        Card("missed", "Missed", now.missed, before.missed, "count", "lower"),
        *(
            Card(
                h.value,
                f"Pages in {HOURS_LABELS[h].lower()}",
                now.hours.get(h, 0),
                before.hours.get(h, 0),
                "count",
                None if h is Hours.BUSINESS else "lower",
            )
            for h in Hours
        ),
    )


COLUMNS = (
    Column("radiologist", "Radiologist"),
    Column("timezone", "Own time zone"),
    Column("pages", "Pages received", "count"),
    Column("accepted", "Accepted", "count"),
    Column("joined", "Joined", "count"),
    Column("missed", "Missed", "count"),
    Column("p50_page_to_join_s", "Median page to join", "seconds"),
    Column("p95_page_to_join_s", "p95 page to join", "seconds"),
    *(Column(h.value, HOURS_LABELS[h], "count") for h in Hours),
)
NOTE_PAGES = (
    "Pages received: pages sent to the person, one interruption however many channels and "
    "requests reached them less than a minute apart. Hours are the person's own: business "
    "08-18 Mon-Fri, off-hours 18-22 and weekends, sleep 22-08."
)
NOTE_MISSED = "Missed: paged for a session someone else took or nobody took, and never accepted it."


async def report(db: AsyncSession, scope: Scope, now: datetime) -> Report:
    """The radiologist-load report of ``scope`` (see the module docstring): cards summed over
    the radiologists against the previous period, one table row per radiologist."""
    await tuning.for_aggregates(db)
    await tuning.hash_joins(db)
    loads = await loads_of(db, scope)
    before = _total(await loads_of(db, scope.previous()))
    people = {
        row.id: row
        for row in await db.execute(
            select(User.id, User.full_name, User.timezone).where(User.id.in_(sorted(loads)))
        )
    }
    ordered = sorted(loads, key=lambda uid: (people[uid].full_name, uid))
    rows = tuple(
        (
            people[uid].full_name,
            people[uid].timezone or "facility's",
            loads[uid].pages,
            loads[uid].accepted,
            loads[uid].joined,
            loads[uid].missed,
            loads[uid].p50_page_to_join,
            loads[uid].p95_page_to_join,
            *(loads[uid].hours.get(h, 0) for h in Hours),
        )
        for uid in ordered
    )
    said = [NOTE_PAGES, NOTE_MISSED]
    zoneless = [people[uid].full_name for uid in ordered if people[uid].timezone is None]
    if zoneless:
        said.append(
            f"No time zone of their own in the directory: {', '.join(zoneless)}; their pages are "
            "judged in the zone of the facility that paged them."
        )
    open_now = await sessions_in.still_open(db, _sessions(scope))
    if open_now:
        said.append(f"{open_now} session{'s' if open_now != 1 else ''} still open, left out.")
    if scope.period.end > now:
        said.append("The period is not over yet: figures up to now.")
    return Report(
        key=KEY,
        title=TITLE,
        start=scope.period.start,
        end=scope.period.end,
        facilities=await sessions_in.facility_names(db, scope),
        cards=_cards(_total(loads), before),
        tables=(Table("radiologists", "By radiologist", COLUMNS, rows),),
        notes=tuple(said),
    )
