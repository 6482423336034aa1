"""What the pager did for a scope's sessions, counted in the database: one pass per table for the
period and the previous one (``selection.Window``), the pager's rows read by their own times.

What the pager's rows mean (``paging.store``, ``paging.engine``, ``signaling.pager.phone``):
- ``sent``: the carrier (or the radiologist's socket) took the page: **delivered**. A delivery
  receipt is evidence, not acknowledgement; only an accept or a join answers a page.
- ``failed``: the carrier refused it or said it was not delivered; **voicemail** when the carrier's
  answering-machine detection said a machine answered (the detail the status webhook writes). A
  voicemail is never counted as reached.
- ``skipped``: the person was not paged on that channel (no mobile number, channel not configured)
  or not at all (ineligible, at their caseload cap: channel ``-``); ``cancelled``: paging stopped
  (joined, cancelled) before the page went out. ``pending``/``sending``: still in flight.
- An accept is joined when its radiologist took the session and it was joined; else it was taken
  but never live, handed back, superseded (another joined first) or still standing at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.engine import PAGING_PURPOSES, Purpose, TimerKind
from paging.store import pages, timers
from signaling.reports.grouped import grouped
from signaling.reports.scope import Scope
from signaling.reports.selection import (
    BEFORE,
    NOW,
    Window,
    label,
    rounded,
    seconds,
    window,
    written_until,
)
from signaling.sessions.supervision import VIA_CHANNEL
from signaling.storage.models import SessionAccept, SessionRepage, SupervisionSession

S, A, R = SupervisionSession, SessionAccept, SessionRepage
# The status webhook's detail for a machine that answered (signaling.http.twilio_webhooks).
VOICEMAIL_PREFIX = "voicemail"
TIER_KINDS = (TimerKind.TIER, TimerKind.STAT_TIER, TimerKind.STAT)
QS = (0.5, 0.9)
EMPTY = "skipped_empty"  # a tier's timer that fired with nobody in the tier


def _outcome(status: str, voicemail: object) -> str:
    if status == "sent":
        return "delivered"
    if status == "failed":
        return "voicemail" if voicemail else "failed"
    if status in ("skipped", "cancelled"):
        return status
    return "in_flight"


@dataclass
class Figures:
    """What one period's pager did."""

    pages: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)  # (group, channel)
    skip_reasons: dict[str, int] = field(default_factory=dict)
    accepts: dict[str, dict[str, int]] = field(default_factory=dict)  # channel -> outcome -> n
    to_accept: dict[str, list[float | None]] = field(default_factory=dict)  # median, p90
    to_accept_all: list[float | None] = field(default_factory=lambda: [None, None])
    sessions: int = 0
    tiers: dict[tuple[str, int | None], int] = field(default_factory=dict)  # empty, skipped
    repages: dict[str, dict[str, int]] = field(default_factory=dict)  # reason -> counts
    to_rejoin: dict[str, list[float | None]] = field(default_factory=dict)

    def page_total(self, outcome: str) -> int:
        return sum(c.get(outcome, 0) for (g, _), c in self.pages.items() if g == "page")

    @property
    def attempted(self) -> int:
        return sum(self.page_total(o) for o in ("delivered", "failed", "voicemail"))

    @property
    def without_join(self) -> int:
        return sum(n for c in self.accepts.values() for o, n in c.items() if o != "joined")

    @property
    def empty_tiers(self) -> int:
        return sum(self.tiers.values())


Periods = dict[str, Figures]


def _add(counts: dict[Any, int], key: Any, n: int) -> None:
    counts[key] = counts.get(key, 0) + int(n)


async def _pages(db: AsyncSession, w: Window, until: datetime, f: Periods) -> None:
    """One pass over the window's pages (read by the time they were created), grouped by the raw
    columns (cheaper than by the words they become)."""
    voicemail = and_(pages.c.status == "failed", pages.c.detail.like(f"{VOICEMAIL_PREFIX}%"))
    skipped = case((pages.c.status == "skipped", pages.c.detail), else_=None)
    keys = (w.period, pages.c.purpose, pages.c.channel, pages.c.status, voicemail, skipped)
    rows = await db.execute(
        select(*keys, func.count())
        .select_from(pages)
        .join(S, S.id == pages.c.session_id)
        .where(*w.where, pages.c.created_at >= w.start, pages.c.created_at < until)
        .group_by(*keys)
    )
    for period, purpose, channel, status, is_voicemail, detail, n in rows:
        figures = f[label(period)]
        group = "alert" if purpose == Purpose.ALERT else "page"
        _add(figures.pages.setdefault((group, channel), {}), _outcome(status, is_voicemail), n)
        if status == "skipped" and purpose in PAGING_PURPOSES:
            # "at caseload cap (1 of 1)" and "(2 of 2)" are one reason
            _add(figures.skip_reasons, (detail or "no reason recorded").split(" (")[0], n)


def _accept_outcome(end_reason: str | None, joined: object) -> str:
    if end_reason == "joined":
        return "joined" if joined else "taken_not_live"
    if end_reason in ("released", "superseded"):
        return end_reason
    return "standing_at_end"


async def _accepts(db: AsyncSession, w: Window, until: datetime, f: Periods) -> None:
    """Accepts by channel and what became of them, with page-to-accept (from the first page to
    that person on the accept's channel, kept on the accept) per channel and over all."""
    channel = case(*((A.via == via, literal(ch)) for via, ch in VIA_CHANNEL.items()), else_=A.via)
    joined = S.joined_at.is_not(None)
    reasons = ("joined", "released", "superseded")
    end = case(*((A.end_reason == r, literal(r)) for r in reasons), else_=literal("other"))
    pairs = [(r, j) for r in (*reasons, "other") for j in (True, False)]
    counts = [func.count().filter(end == r, joined if j else not_(joined)) for r, j in pairs]

    def shape(q: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
        return (
            q.select_from(A)
            .join(S, S.id == A.session_id)
            .where(*w.where, A.accepted_at >= w.start, A.accepted_at < until)
        )

    found = await grouped(
        db, shape, (w.period, channel), counts, seconds(db, A.paged_at, A.accepted_at), QS, 1
    )
    for (period, ch), numbers in found.aggregates.items():
        outcomes = f[label(period)].accepts.setdefault(ch, {})
        for (reason, was_joined), n in zip(pairs, numbers, strict=True):
            if n:
                _add(outcomes, _accept_outcome(reason, was_joined), n)
    for (period, ch), values in found.percentiles.items():
        f[label(period)].to_accept[ch] = [rounded(v) for v in values]
    for (period,), values in found.rolled_up.items():
        f[label(period)].to_accept_all = [rounded(v) for v in values]


async def _tiers(db: AsyncSession, w: Window, until: datetime, f: Periods) -> None:
    """Tiers that fired with nobody in them (skipped at once), by their due time while their
    session was open."""
    keys = (w.period, timers.c.kind, timers.c.tier)
    rows = await db.execute(
        select(*keys, func.count())
        .select_from(timers)
        .join(S, S.id == timers.c.session_id)
        .where(
            *w.where,
            timers.c.outcome == EMPTY,
            timers.c.due_at >= w.start,
            timers.c.due_at < until,
            timers.c.kind.in_(TIER_KINDS),
        )
        .group_by(*keys)
    )
    for period, kind, tier, n in rows:
        key = ("stat" if kind == TimerKind.STAT else "tier", tier)
        _add(f[label(period)].tiers, key, n)


async def _sessions(db: AsyncSession, w: Window, f: Periods) -> None:
    for period, n in await db.execute(
        select(w.period, func.count()).where(*w.where).group_by(w.period)
    ):
        f[label(period)].sessions = int(n)


async def _repages(db: AsyncSession, w: Window, until: datetime, f: Periods) -> None:
    def shape(q: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
        return (
            q.select_from(R)
            .join(S, S.id == R.session_id)
            .where(*w.where, R.repaged_at >= w.start, R.repaged_at < until)
        )

    counts = (func.count(), func.count(func.distinct(R.session_id)), func.count(R.joined_at))
    back = seconds(db, R.repaged_at, R.joined_at)
    found = await grouped(db, shape, (w.period, R.reason), counts, back, QS)
    for (period, reason), (n, sessions, rejoined) in found.aggregates.items():
        f[label(period)].repages[reason] = {
            "repages": int(n),
            "sessions": int(sessions),
            "rejoined": int(rejoined),
        }
    for (period, reason), values in found.percentiles.items():
        f[label(period)].to_rejoin[reason] = [rounded(v) for v in values]


async def figures(db: AsyncSession, scope: Scope) -> Periods:
    """Everything the report says about the scope's period (``NOW``) and the previous one
    (``BEFORE``), counted in the database, one pass per table."""
    w = await window(db, scope)
    found = {NOW: Figures(), BEFORE: Figures()}
    until = await written_until(db, w)
    if until is None:
        return found
    await _sessions(db, w, found)
    await _pages(db, w, until, found)
    await _accepts(db, w, until, found)
    await _tiers(db, w, until, found)
    await _repages(db, w, until, found)
    return found
