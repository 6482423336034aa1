"""The response-time report: how long technologists waited for a radiologist to join, against
30 s (best in class) and 90 s (a compliance risk); a session that ended without a join is
unmeasured, a failure counted in every share.

Cards compare with the previous period of the same length; tables break the sessions down by
facility, room, modality, radiologist, the tier that found them, the channel that reached them,
hour, weekday, week and month (facility time), and give the charts their histogram, weekly trend
and weekday-by-hour grid. ``before_after`` sets two date ranges side by side."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports import sessions_in, tuning
from signaling.reports.breakdowns import (
    BREAKDOWNS,
    GROUPINGS,
    HISTOGRAM,
    TOTAL,
    WEEKDAY_HOUR,
    WEEKLY,
    Breakdown,
    Names,
)
from signaling.reports.fact_groups import Groups
from signaling.reports.latency_groups import grouped
from signaling.reports.latency_stats import LatencyStats
from signaling.reports.scope import Band, Scope
from signaling.reports.session_facts import BIN_S, LAST_BIN
from signaling.reports.shape import Card, Column, Report, Table, Value
from signaling.storage.models import Facility, Room, User

KEY = "response_time"
TITLE = "Response time"
BAND_LABELS = {
    Band.UNDER_30: "Under 30 s",
    Band.S30_60: "30-60 s",
    Band.S60_90: "60-90 s",
    Band.OVER_90: "Over 90 s",
    Band.UNMEASURED: "Unmeasured",
}
STAT_COLUMNS = (
    Column("sessions", "Sessions", "count"),
    Column("p50_s", "p50", "seconds"),
    Column("p90_s", "p90", "seconds"),
    *(Column(f"share_{b.value}", BAND_LABELS[b], "share") for b in Band),
)
NOTE_PERCENTILES = (
    "Percentiles are over measured joins; a session that ended without a join is unmeasured "
    "and counts as a failure in every share."
)
NOTE_LOCAL = "Hours, weekdays, weeks and months are in each facility's own time zone."


def cards(now: LatencyStats, before: LatencyStats) -> tuple[Card, ...]:
    """The headline figures of ``now`` beside ``before``'s (the previous period, or range A)."""
    return (
        Card("sessions", "Sessions", now.sessions, before.sessions, "count"),
        Card("p50_s", "Median join", now.p50, before.p50, "seconds", "lower"),
        Card("p90_s", "p90 join", now.p90, before.p90, "seconds", "lower"),
        Card("p95_s", "p95 join", now.p95, before.p95, "seconds", "lower"),
        Card("max_s", "Longest join", now.max, before.max, "seconds", "lower"),
        *(
            Card(
                f"share_{b.value}",
                BAND_LABELS[b],
                now.share(b),
                before.share(b),
                "share",
                "higher" if b is Band.UNDER_30 else "lower",
            )
            for b in Band
        ),
    )


def stat_cells(stats: LatencyStats) -> tuple[Value, ...]:
    return (stats.sessions, stats.p50, stats.p90, *(stats.share(b) for b in Band))


async def names(db: AsyncSession, scope: Scope, people: Iterable[int | None]) -> Names:
    """The names of the scope's facilities and rooms, and of ``people``."""
    ours = sorted(scope.facility_ids)
    facilities: dict[int, str] = {
        fid: name
        for fid, name in await db.execute(
            select(Facility.id, Facility.name).where(Facility.id.in_(ours))
        )
    }
    rooms = {
        room_id: (facilities[facility_id], name)
        for room_id, facility_id, name in await db.execute(
            select(Room.id, Room.facility_id, Room.name).where(Room.facility_id.in_(ours))
        )
    }
    ids = sorted({p for p in people if p is not None})
    named: dict[int, str] = {
        uid: name
        for uid, name in await db.execute(select(User.id, User.full_name).where(User.id.in_(ids)))
    }
    return Names(facilities, rooms, named)


def _breakdown(groups: Groups, b: Breakdown, n: Names) -> Table:
    found = groups.get(b.fields, {})
    keys = set(found) | set(b.every)
    rows = tuple(
        (*b.show(k, n), *stat_cells(found.get(k, LatencyStats())))
        for k in sorted(keys, key=lambda k: b.order(k, n))
    )
    return Table(b.key, b.title, (*b.columns, *STAT_COLUMNS), rows)


def _histogram(groups: Groups) -> Table:
    found = groups.get(HISTOGRAM, {})
    rows = []
    for i in range(LAST_BIN + 1):
        hi = (i + 1) * BIN_S if i < LAST_BIN else None
        stats = found.get((i,))
        rows.append((i * BIN_S, hi, stats.sessions if stats else 0))
    return Table(
        "histogram",
        "Join latency, measured joins (10 s bins)",
        (
            Column("lo_s", "From", "seconds"),
            Column("hi_s", "To", "seconds"),
            Column("sessions", "Sessions", "count"),
        ),
        tuple(rows),
    )


def _weekly(groups: Groups) -> Table:
    found = groups.get(WEEKLY, {})
    rows = tuple(
        (week.isoformat(), s.sessions, s.p90, s.share_over_90_or_unmeasured)
        for (week,), s in sorted(found.items())
    )
    return Table(
        "weekly",
        "Weekly trend (Monday, facility time)",
        (
            Column("week", "Week of"),
            Column("sessions", "Sessions", "count"),
            Column("p90_s", "p90", "seconds"),
            Column("share_over_90", "Over 90 s or unmeasured", "share"),
        ),
        rows,
    )


def _weekday_hour(groups: Groups) -> Table:
    found = groups.get(WEEKDAY_HOUR, {})
    rows = []
    for day in range(7):
        for hour in range(24):
            stats = found.get((day, hour), LatencyStats())
            rows.append((day, hour, stats.sessions, stats.p50))
    return Table(
        "weekday_hour",
        "Weekday by hour (facility time)",
        (
            Column("weekday", "Weekday (0 = Monday)", "count"),
            Column("hour", "Hour", "count"),
            Column("sessions", "Sessions", "count"),
            Column("median_s", "Median", "seconds"),
        ),
        tuple(rows),
    )


def span(scope: Scope) -> str:
    """A period in words, UTC to the minute (its facilities' zones may differ)."""
    start, end = scope.period.start, scope.period.end
    return f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"


async def notes(db: AsyncSession, scope: Scope, now: datetime, name: str = "") -> list[str]:
    """What the latency figures of ``scope`` need said beside them (``name``: which range)."""
    said = []
    prefix = f"{name}: " if name else ""
    open_now = await sessions_in.still_open(db, scope)
    if open_now:
        said.append(
            f"{prefix}{open_now} session{'s' if open_now != 1 else ''} still open, left out."
        )
    if scope.period.end > now:
        said.append(f"{prefix}the period is not over yet: figures up to now.")
    return said


async def report(db: AsyncSession, scope: Scope, now: datetime) -> Report:
    """The response-time report of ``scope`` (see the module docstring); ``now`` only decides
    what the notes say."""
    await tuning.for_aggregates(db)
    groups = await grouped(db, scope, GROUPINGS)
    before = (await grouped(db, scope.previous(), [TOTAL]))[TOTAL][()]
    n = await names(db, scope, (k[0] for k in groups.get(("radiologist_id",), {})))
    return Report(
        key=KEY,
        title=TITLE,
        start=scope.period.start,
        end=scope.period.end,
        facilities=await sessions_in.facility_names(db, scope),
        cards=cards(groups[TOTAL][()], before),
        tables=(
            *(_breakdown(groups, b, n) for b in BREAKDOWNS),
            _histogram(groups),
            _weekly(groups),
            _weekday_hour(groups),
        ),
        notes=(NOTE_PERCENTILES, *await notes(db, scope, now), NOTE_LOCAL),
    )


_SIDE_COLUMNS = (
    Column("sessions", "Sessions", "count"),
    Column("p90_s", "p90", "seconds"),
    Column("share_over_90", "Over 90 s or unmeasured", "share"),
)


async def before_after(db: AsyncSession, scope_a: Scope, scope_b: Scope, now: datetime) -> Report:
    """Two date ranges side by side (key ``before_after``): each card's ``previous`` is range A,
    its ``value`` range B; tables ``ranges`` (one row per range) and ``by_facility`` (each
    facility's sessions, p90 and share over 90 s or unmeasured in A and in B). Both scopes read
    the same facilities and filters (only their periods differ)."""
    await tuning.for_aggregates(db)
    groupings = [TOTAL, ("facility_id",)]
    a = await grouped(db, scope_a, groupings)
    b = await grouped(db, scope_b, groupings)
    ranges = Table(
        "ranges",
        "The two ranges",
        (Column("range", "Range"), Column("from", "From"), Column("to", "To"), *STAT_COLUMNS),
        tuple(
            (name, s.period.start.isoformat(), s.period.end.isoformat(), *stat_cells(g[TOTAL][()]))
            for name, s, g in (("A", scope_a, a), ("B", scope_b, b))
        ),
    )
    fa, fb = a[groupings[1]], b[groupings[1]]
    n = await names(db, scope_b, ())
    empty = LatencyStats()
    facilities = Table(
        "by_facility",
        "By facility, A against B",
        (
            Column("facility", "Facility"),
            *(
                Column(f"{c.key}_{side}", f"{c.label} ({side.upper()})", c.unit)
                for side in ("a", "b")
                for c in _SIDE_COLUMNS
            ),
        ),
        tuple(
            (
                n.facilities.get(key[0], ""),
                *(
                    cell
                    for side in (fa, fb)
                    for st in (side.get(key, empty),)
                    for cell in (st.sessions, st.p90, st.share_over_90_or_unmeasured)
                ),
            )
            for key in sorted(set(fa) | set(fb), key=lambda k: (n.facilities.get(k[0], ""), k[0]))
        ),
    )
    said = [f"A: {span(scope_a)}; B: {span(scope_b)}. Each card: B, beside A.", NOTE_PERCENTILES]
    said += await notes(db, scope_a, now, "A") + await notes(db, scope_b, now, "B")
    return Report(
        key="before_after",
        title="Before and after",
        start=min(scope_a.period.start, scope_b.period.start),
        end=max(scope_a.period.end, scope_b.period.end),
        facilities=await sessions_in.facility_names(db, scope_b),
        cards=cards(b[TOTAL][()], a[TOTAL][()]),
        tables=(ranges, facilities),
        notes=tuple(said),
    )
