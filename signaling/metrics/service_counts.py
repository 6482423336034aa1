"""What the database says about the whole service, read at scrape time: the same on every worker.

Three aggregate queries, each one scan: every joined session's join latency counted into the
histogram's buckets (cumulative counts over all sessions ever joined, per facility), the sessions
per facility by state and outcome, and the pager's pages by channel, purpose and outcome. Every
label is a facility code or a fixed word: never an accession number, a session id or a name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Float, Integer, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.engine import PageStatus, Purpose
from paging.policy import Channel
from paging.store import pages
from signaling.pager.phone import VOICEMAIL
from signaling.sessions.state import Outcome, SessionState
from signaling.storage.models import Facility, SupervisionSession

# Upper bounds (seconds) of the join latency buckets: the 30 s and 90 s benchmarks among them.
LATENCY_BOUNDS_S: tuple[float, ...] = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180)
# Latencies are stored to the millisecond; SQLite's julianday arithmetic is off by microseconds.
# Half a millisecond of slack puts a join of exactly 30.000 s in the 30 s bucket on both databases.
_SLACK_S = 0.0005

OPEN_STATES = tuple(s.value for s in SessionState if s is not SessionState.ENDED)
OUTCOMES = tuple(o.value for o in Outcome)
NO_CHANNEL = "none"  # a person skipped before any channel (not eligible now), stored as "-"
VOICEMAIL_OUTCOME = "voicemail"
PAGE_OUTCOMES = (
    PageStatus.PENDING,
    PageStatus.SENDING,
    PageStatus.SENT,
    PageStatus.FAILED,
    PageStatus.SKIPPED,
    PageStatus.CANCELLED,
)
PURPOSES = (Purpose.PAGE, Purpose.STAT, Purpose.ALERT)


@dataclass(frozen=True)
class LatencyTally:
    """One facility's joined sessions: cumulative counts at each bound, then all; the sum."""

    cumulative: tuple[int, ...]  # len(LATENCY_BOUNDS_S) + 1
    sum_s: float

    @property
    def count(self) -> int:
        return self.cumulative[-1]


NO_JOINS = LatencyTally((0,) * (len(LATENCY_BOUNDS_S) + 1), 0.0)


@dataclass(frozen=True)
class ServiceCounts:
    """Every mapping has a key for every facility (and state, outcome, channel) there can be, with
    0 where nothing happened: a series that appears from nothing cannot show an increase."""

    join_latency: Mapping[str, LatencyTally]  # facility code ->
    open_sessions: Mapping[tuple[str, str], int]  # (facility code, state) ->
    ended: Mapping[tuple[str, str], int]  # (facility code, outcome) ->
    unmeasured: Mapping[str, int]  # facility code -> sessions ended without a join
    pages: Mapping[tuple[str, str, str], int]  # (channel, purpose, outcome) ->


def page_keys() -> list[tuple[str, str, str]]:
    """Every (channel, purpose, outcome) a page can have: voicemail only by voice, and only a
    skipped person has no channel."""
    keys = [
        (channel.value, purpose, outcome)
        for channel in Channel
        for purpose in PURPOSES
        for outcome in PAGE_OUTCOMES
    ]
    keys += [(Channel.VOICE.value, purpose, VOICEMAIL_OUTCOME) for purpose in PURPOSES]
    keys += [(NO_CHANNEL, purpose, PageStatus.SKIPPED) for purpose in PURPOSES]
    return keys


async def read(db: AsyncSession) -> ServiceCounts:
    """The counts now, from three aggregate queries (and the facilities' codes)."""
    codes = dict((await db.execute(select(Facility.id, Facility.code))).all())
    open_sessions, ended, unmeasured = await _sessions(db, codes)
    return ServiceCounts(
        join_latency=await _join_latency(db, codes),
        open_sessions=open_sessions,
        ended=ended,
        unmeasured=unmeasured,
        pages=await _pages(db),
    )


def _latency_s(db: AsyncSession) -> ColumnElement[float]:
    """Request to join in seconds. On PostgreSQL ``date_part`` (a double) rather than
    ``EXTRACT`` (a numeric since PostgreSQL 14, several times slower over a million rows)."""
    s = SupervisionSession
    if db.get_bind().dialect.name == "postgresql":
        return func.date_part("epoch", s.joined_at - s.requested_at, type_=Float)
    return (func.julianday(s.joined_at) - func.julianday(s.requested_at)) * 86400.0


async def _join_latency(db: AsyncSession, codes: Mapping[int, str]) -> dict[str, LatencyTally]:
    s = SupervisionSession
    # The latency once per row (OFFSET 0 keeps the planner from inlining it into every bucket's
    # filter), then one pass counting it into every bucket.
    joined = (
        select(s.facility_id, _latency_s(db).label("s"))
        .where(s.joined_at.is_not(None))
        .offset(0)
        .subquery()
    )
    within = [func.count().filter(joined.c.s <= bound + _SLACK_S) for bound in LATENCY_BOUNDS_S]
    rows = await db.execute(
        select(joined.c.facility_id, *within, func.count(), func.sum(joined.c.s)).group_by(
            joined.c.facility_id
        )
    )
    tallies = dict.fromkeys(codes.values(), NO_JOINS)
    for facility_id, *counts, total, sum_s in rows:
        cumulative = (*(int(n or 0) for n in counts), int(total))
        tallies[codes[facility_id]] = LatencyTally(cumulative, float(sum_s or 0.0))
    return tallies


async def _sessions(
    db: AsyncSession, codes: Mapping[int, str]
) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int], dict[str, int]]:
    """Open sessions by (facility, state), ended ones by (facility, outcome), and per facility
    those that ended without a join."""
    s = SupervisionSession
    unjoined = case((s.joined_at.is_(None), 1), else_=0)
    rows = await db.execute(
        select(
            s.facility_id, s.state, s.outcome, func.count(), func.sum(unjoined, type_=Integer)
        ).group_by(s.facility_id, s.state, s.outcome)
    )
    open_sessions = {(code, state): 0 for code in codes.values() for state in OPEN_STATES}
    ended = {(code, outcome): 0 for code in codes.values() for outcome in OUTCOMES}
    unmeasured = dict.fromkeys(codes.values(), 0)
    for facility_id, state, outcome, count, without_join in rows:
        code = codes[facility_id]
        if state != SessionState.ENDED:
            open_sessions[(code, state)] = open_sessions.get((code, state), 0) + int(count)
            continue
        key = (code, outcome or "unknown")
        ended[key] = ended.get(key, 0) + int(count)
        unmeasured[code] += int(without_join or 0)
    return open_sessions, ended, unmeasured


async def _pages(db: AsyncSession) -> dict[tuple[str, str, str], int]:
    outcome = case(
        (
            (pages.c.status == PageStatus.FAILED) & (pages.c.detail == VOICEMAIL),
            VOICEMAIL_OUTCOME,
        ),
        else_=pages.c.status,
    )
    rows = await db.execute(
        select(pages.c.channel, pages.c.purpose, outcome, func.count()).group_by(
            pages.c.channel, pages.c.purpose, outcome
        )
    )
    counts = dict.fromkeys(page_keys(), 0)
    for channel, purpose, status, count in rows:
        key = (NO_CHANNEL if channel == "-" else channel, purpose, status)
        counts[key] = counts.get(key, 0) + int(count)
    return counts
