"""Coverage: sessions that found no one, how much of the joined time was verified two-way live (and
what broke it), and cancellations per 1,000 contrast exams by reason against the period before;
each by facility.

- Found no one: ended without anyone joining, after paging ran out (the exhaustion timer fired: the
  supervisors were alerted). Ended without a join before paging ran out is counted apart.
- Joined time: from the first join to the end. Verified live: the seconds the record's coverage
  (``signaling.sessions.coverage``, stored on the session when it ends, its verified seconds and
  number of gaps as columns) counts as verified two-way live, at most the joined time. A joined
  session whose link was never verified adds its joined time and no verified second.
- Gaps by cause: each gap of the stored coverage under each of its causes (a gap with two causes is
  counted under both); a gap with none is "not attributed".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, Float, Select, case, column, func, select, true
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from paging.engine import TimerKind
from paging.store import timers
from signaling.reports import sessions_in, tuning
from signaling.reports.percentiles import is_postgres
from signaling.reports.scope import Scope
from signaling.reports.selection import (
    BEFORE,
    NOW,
    Window,
    label,
    open_note,
    per_1000,
    rounded,
    seconds,
    share,
    window,
    written_until,
)
from signaling.reports.shape import Card, Column, Report, Table, Value
from signaling.sessions.state import CancelReason, cancel_reason_of
from signaling.storage.models import Facility, SupervisionSession

KEY = "coverage"
TITLE = "Coverage"
S = SupervisionSession
NOT_GIVEN = "not_given"
EXHAUSTED = "exhausted"  # the exhaustion timer's outcome when paging ran out
UNATTRIBUTED = "not attributed"


@dataclass
class Counts:
    sessions: int = 0
    no_one: int = 0  # ended without a join after paging ran out
    unjoined_before_exhausted: int = 0
    joined: int = 0
    never_verified: int = 0  # joined, but the link never verified
    joined_s: float = 0.0
    verified_s: float = 0.0
    cancelled: dict[str, int] = field(default_factory=dict)  # reason -> count

    @property
    def verified_share(self) -> float | None:
        return None if self.joined_s <= 0 else self.verified_s / self.joined_s

    @property
    def cancellations(self) -> int:
        return sum(self.cancelled.values())


@dataclass
class Figures:
    total: Counts
    facilities: dict[int, Counts]
    gaps: dict[str, tuple[int, float, int]]  # cause -> gaps, seconds, sessions


async def _counts(db: AsyncSession, w: Window) -> dict[str, dict[int, Counts]]:
    """Per period and facility, one pass over the window's sessions."""
    joined_s = seconds(db, S.joined_at, S.ended_at)
    verified = func.coalesce(S.verified_live_s, 0.0)
    joined = S.joined_at.is_not(None)
    rows = await db.execute(
        select(
            w.period,
            S.facility_id,
            func.count(),
            func.count(S.joined_at),
            func.count().filter(joined, S.verified_live_s.is_(None)),
            func.sum(case((joined, joined_s), else_=0.0)),
            func.sum(
                case((S.joined_at.is_(None), 0.0), (verified > joined_s, joined_s), else_=verified)
            ),
        )
        .where(*w.where)
        .group_by(w.period, S.facility_id)
    )
    found: dict[str, dict[int, Counts]] = {NOW: {}, BEFORE: {}}
    for period, fid, n, joined_n, never, j_s, v_s in rows:
        found[label(period)][fid] = Counts(
            sessions=int(n),
            unjoined_before_exhausted=int(n) - int(joined_n),  # less those found no one, below
            joined=int(joined_n),
            never_verified=int(never),
            joined_s=rounded(float(j_s or 0.0), 1) or 0.0,
            verified_s=rounded(float(v_s or 0.0), 1) or 0.0,
        )
    until = await written_until(db, w)
    if until is None:
        return found
    # Paging ran out: the exhaustion timer fired while the session was open (a partial index holds
    # only those).
    for period, fid, n in await db.execute(
        select(w.period, S.facility_id, func.count(func.distinct(S.id)))
        .select_from(timers)
        .join(S, S.id == timers.c.session_id)
        .where(
            *w.where,
            S.joined_at.is_(None),
            timers.c.outcome == EXHAUSTED,
            timers.c.kind == TimerKind.EXHAUSTED,
            timers.c.due_at >= w.start,
            timers.c.due_at < until,
        )
        .group_by(w.period, S.facility_id)
    ):
        c = found[label(period)][fid]
        c.no_one = int(n)
        c.unjoined_before_exhausted -= int(n)
    reasons = await db.execute(
        select(w.period, S.facility_id, S.cancel_reason, func.count())
        .where(*w.where, S.outcome == "cancelled")
        .group_by(w.period, S.facility_id, S.cancel_reason)
    )
    for period, fid, stored, n in reasons:
        reason = cancel_reason_of(stored) or NOT_GIVEN
        c = found[label(period)].setdefault(fid, Counts())
        c.cancelled[reason] = c.cancelled.get(reason, 0) + int(n)
    return found


def _gap_rows(db: AsyncSession, w: Window) -> Select[Any]:
    """(session, cause or NULL, seconds) for every gap of the stored coverage, under each cause,
    of the sessions of this period (not the previous one)."""
    where = [*w.where, w.period, S.joined_at.is_not(None), S.link_gap_count > 0]
    if is_postgres(db):
        g = func.json_array_elements(S.coverage["gaps"]).table_valued(column("value", JSON))
        gaps = g.lateral("g")
        c = func.json_array_elements_text(gaps.c.value["causes"]).table_valued("value")
        causes = c.lateral("c")
        seconds_: ColumnElement[Any] = gaps.c.value["seconds"].as_float()
    else:
        gaps = func.json_each(S.coverage, "$.gaps").table_valued("value").alias("g")
        causes = func.json_each(gaps.c.value, "$.causes").table_valued("value").alias("c")
        seconds_ = sql_cast(func.json_extract(gaps.c.value, "$.seconds"), Float)
    return (
        select(S.id.label("session_id"), causes.c.value.label("cause"), seconds_.label("seconds"))
        .select_from(S)
        .join(gaps, true())
        .outerjoin(causes, true())
        .where(*where)
    )


async def _gaps(db: AsyncSession, w: Window) -> dict[str, tuple[int, float, int]]:
    sub = _gap_rows(db, w).subquery()
    rows = await db.execute(
        select(
            sub.c.cause,
            func.count(),
            func.sum(sub.c.seconds),
            func.count(func.distinct(sub.c.session_id)),
        ).group_by(sub.c.cause)
    )
    return {
        (cause or UNATTRIBUTED): (int(n), float(secs or 0.0), int(sessions))
        for cause, n, secs, sessions in rows
    }


def _total(counts: dict[int, Counts]) -> Counts:
    t = Counts()
    for c in counts.values():
        t.sessions += c.sessions
        t.no_one += c.no_one
        t.unjoined_before_exhausted += c.unjoined_before_exhausted
        t.joined += c.joined
        t.never_verified += c.never_verified
        t.joined_s += c.joined_s
        t.verified_s += c.verified_s
        for reason, n in c.cancelled.items():
            t.cancelled[reason] = t.cancelled.get(reason, 0) + n
    return t


async def figures(db: AsyncSession, scope: Scope) -> tuple[Figures, Counts]:
    """What the report says about the scope's period, and the previous period's totals."""
    w = await window(db, scope)
    counts = await _counts(db, w)
    now = Figures(_total(counts[NOW]), counts[NOW], await _gaps(db, w))
    return now, _total(counts[BEFORE])


def _cards(now: Counts, before: Counts) -> tuple[Card, ...]:
    def no_coverage(c: Counts) -> float | None:
        return per_1000(c.cancelled.get(CancelReason.NO_COVERAGE, 0), c.sessions)

    return (
        Card("sessions", "Sessions", now.sessions, before.sessions, "count"),
        Card("no_one_found", "Found no one", now.no_one, before.no_one, "count", "lower"),
        Card(
            "no_one_share",
            "Found no one, of sessions",
            share(now.no_one, now.sessions),
            share(before.no_one, before.sessions),
            "share",
            "lower",
        ),
        Card(
            "verified_share",
            "Joined time verified live",
            now.verified_share,
            before.verified_share,
            "share",
            "higher",
        ),
        Card(
            "never_verified",
            "Joined, link never verified",
            now.never_verified,
            before.never_verified,
            "count",
            "lower",
        ),
        Card(
            "cancelled_per_1000",
            "Cancellations per 1,000 exams",
            per_1000(now.cancellations, now.sessions),
            per_1000(before.cancellations, before.sessions),
            "per_1000",
            "lower",
        ),
        Card(
            "no_coverage_per_1000",
            "Cancelled for no coverage per 1,000",
            no_coverage(now),
            no_coverage(before),
            "per_1000",
            "lower",
        ),
    )


def _reasons(now: Counts, before: Counts) -> list[str]:
    given = set(now.cancelled) | set(before.cancelled)
    known = [r.value for r in CancelReason if r.value in given]
    return known + sorted(given - set(known))


def _cancel_table(now: Counts, before: Counts) -> Table:
    rows = []
    for reason in _reasons(now, before):
        b, a = before.cancelled.get(reason, 0), now.cancelled.get(reason, 0)
        rate_b, rate_a = per_1000(b, before.sessions), per_1000(a, now.sessions)
        change = None if rate_a is None or rate_b is None else rate_a - rate_b
        rows.append((reason, b, rate_b, a, rate_a, change))
    return Table(
        "cancellations",
        "Cancellations per 1,000 contrast exams by reason, before and after",
        (
            Column("reason", "Reason"),
            Column("before", "Before", "count"),
            Column("before_per_1000", "Before per 1,000", "per_1000"),
            Column("after", "After", "count"),
            Column("after_per_1000", "After per 1,000", "per_1000"),
            Column("change_per_1000", "Change per 1,000", "per_1000"),
        ),
        tuple(rows),
    )


def _gap_table(gaps: dict[str, tuple[int, float, int]]) -> Table:
    rows = tuple(
        (cause, n, secs, sessions)
        for cause, (n, secs, sessions) in sorted(gaps.items(), key=lambda kv: (-kv[1][1], kv[0]))
    )
    return Table(
        "gaps",
        "Gaps in verified live supervision by cause",
        (
            Column("cause", "Cause"),
            Column("gaps", "Gaps", "count"),
            Column("seconds", "Seconds", "seconds"),
            Column("sessions", "Sessions", "count"),
        ),
        rows,
    )


async def _facility_table(db: AsyncSession, figures: Figures) -> Table:
    names = dict((await db.execute(select(Facility.id, Facility.name))).all())
    rows: list[tuple[Value, ...]] = []
    for fid, c in sorted(figures.facilities.items(), key=lambda kv: names.get(kv[0], "")):
        rows.append(
            (
                names.get(fid, str(fid)),
                c.sessions,
                c.no_one,
                share(c.no_one, c.sessions),
                c.unjoined_before_exhausted,
                c.joined,
                c.joined_s,
                c.verified_s,
                c.verified_share,
                c.never_verified,
                c.cancellations,
                per_1000(c.cancellations, c.sessions),
                per_1000(c.cancelled.get(CancelReason.NO_COVERAGE, 0), c.sessions),
            )
        )
    return Table(
        "facilities",
        "By facility",
        (
            Column("facility", "Facility"),
            Column("sessions", "Sessions", "count"),
            Column("no_one_found", "Found no one", "count"),
            Column("no_one_share", "Found no one, of sessions", "share"),
            Column("unjoined_before_exhausted", "Ended unjoined before paging ran out", "count"),
            Column("joined", "Joined", "count"),
            Column("joined_s", "Joined time", "seconds"),
            Column("verified_s", "Verified live", "seconds"),
            Column("verified_share", "Verified live, of joined time", "share"),
            Column("never_verified", "Joined, never verified", "count"),
            Column("cancelled", "Cancelled", "count"),
            Column("cancelled_per_1000", "Cancelled per 1,000", "per_1000"),
            Column("no_coverage_per_1000", "No coverage per 1,000", "per_1000"),
        ),
        tuple(rows),
    )


async def report(db: AsyncSession, scope: Scope, now: datetime) -> Report:
    """Coverage of ``scope`` (ended sessions requested in its period), cards and cancellations
    against the previous period of the same length."""
    await tuning.for_aggregates(db)
    current, before = await figures(db, scope)
    notes = [
        "Found no one: ended without a join after paging ran out and the supervisors were alerted.",
        "Verified live: seconds of two-way audio and video the server verified, of the time from "
        "the first join to the end. A gap with several causes is counted under each.",
        "Before: the period of the same length just before this one.",
    ]
    return Report(
        key=KEY,
        title=TITLE,
        start=scope.period.start,
        end=scope.period.end,
        facilities=await sessions_in.facility_names(db, scope),
        cards=_cards(current.total, before),
        tables=(
            _cancel_table(current.total, before),
            _gap_table(current.gaps),
            await _facility_table(db, current),
        ),
        notes=(*notes, *await open_note(db, scope)),
    )
