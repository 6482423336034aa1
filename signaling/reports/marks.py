"""What the pager's rows say of an ended session, kept on its rows so a report reads a few columns
instead of every page (a year of a large service sends millions):

- on the session: ``found_tier``, the lowest tier of the sent pages to the radiologist who joined,
  and ``accepted_via``, the channel of their accept (both None without a join);
- on each sent page (purpose ``page``): ``interrupts``, no sent page to the same person in the
  minute before it, from any session (``interruptions.ONCE_WITHIN``: a tier's in-app page, SMS
  and call, or two requests in one minute, are one interruption); ``first_to_person``, the first
  sent page of its session to that person.

They are written when the session ends (``session_ended``, in the end's transaction). A page is
sent while its session is open, so every page before it already has its time; ``settle`` marks
any ended session that has none yet (a history loaded in bulk, tests' rows), and a report calls
it first. Migration 0011 back-filled the sessions ended before it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Interval, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from paging.store import pages
from signaling.clock import utc_now
from signaling.reports import latency_facts
from signaling.reports.interruptions import ONCE_WITHIN
from signaling.reports.percentiles import is_postgres
from signaling.sessions.state import SessionState
from signaling.storage.models import SessionAccept, SupervisionSession

S = SupervisionSession


def _sent() -> list[ColumnElement[bool]]:
    return [pages.c.purpose == "page", pages.c.status == "sent", pages.c.sent_at.is_not(None)]


async def session_ended(db: AsyncSession, s: SupervisionSession) -> None:
    """Write ``s``'s marks and its sent pages' (``s`` has ended), in the caller's transaction."""
    await _mark_pages(db, s.id)
    s.found_tier, s.accepted_via = await _found(db, s)
    s.marked_at = utc_now()
    await latency_facts.session_marked(db, s)


async def _found(db: AsyncSession, s: SupervisionSession) -> tuple[int | None, str | None]:
    if s.joined_at is None or s.radiologist_id is None:
        return None, None
    tier = await db.scalar(
        select(pages.c.tier)
        .where(pages.c.session_id == s.id, pages.c.user_id == s.radiologist_id, *_sent())
        .order_by(pages.c.tier)
        .limit(1)
    )
    via = await db.scalar(
        select(SessionAccept.via).where(
            SessionAccept.session_id == s.id, SessionAccept.user_id == s.radiologist_id
        )
    )
    return tier, via


async def _mark_pages(db: AsyncSession, session_id: str) -> None:
    ours = (
        await db.execute(
            select(pages.c.id, pages.c.user_id, pages.c.sent_at)
            .where(pages.c.session_id == session_id, *_sent())
            .order_by(pages.c.user_id, pages.c.sent_at, pages.c.id)
        )
    ).all()
    if not ours:
        return
    by_person: dict[int, list[int]] = defaultdict(list)
    for page_id, user_id, _ in ours:
        by_person[user_id].append(page_id)
    firsts = {user_id: at for _, user_id, at in reversed(ours)}  # each person's first of ours
    lasts = {user_id: at for _, user_id, at in ours}
    marks: list[dict[str, object]] = []
    for user_id, mine in by_person.items():
        # The person's sent pages from a minute before our first to our last, any session, in
        # order: the page before each of ours, if within the minute, is among them, and our
        # session's first page to them is the first of ours.
        around = await db.execute(
            select(pages.c.id, pages.c.session_id, pages.c.user_id, pages.c.sent_at)
            .where(
                pages.c.user_id == user_id,
                *_sent(),
                pages.c.sent_at >= firsts[user_id] - ONCE_WITHIN,
                pages.c.sent_at <= lasts[user_id],
            )
            .order_by(pages.c.sent_at, pages.c.id)
        )
        wanted = set(mine)
        marks += [m for m in _flags(around) if m["pid"] in wanted]
    await _write(db, marks)


def _flags(rows: Iterable[Any]) -> Iterator[dict[str, object]]:
    """The marks of sent pages read in order of person, time and id (``id, session_id, user_id,
    sent_at``): whether each came a minute or more after the person's page before, and whether it
    is the first of its session to them."""
    previous: tuple[int, datetime] | None = None
    seen: set[tuple[str, int]] = set()
    for page_id, session_id, user_id, sent_at in rows:
        fresh = previous is None or previous[0] != user_id or sent_at - previous[1] >= ONCE_WITHIN
        first = (session_id, user_id) not in seen
        seen.add((session_id, user_id))
        previous = (user_id, sent_at)
        yield {"pid": page_id, "interrupts": fresh, "first": first}


async def _write(db: AsyncSession, marks: list[dict[str, object]]) -> None:
    if not marks:
        return
    connection = await db.connection()
    await connection.execute(
        update(pages)
        .where(pages.c.id == bindparam("pid"))
        .values(interrupts=bindparam("interrupts"), first_to_person=bindparam("first")),
        marks,
    )


async def settle(db: AsyncSession) -> bool:
    """Mark the ended sessions not marked yet, if there are any, in the caller's transaction;
    whether there were. A report calls this before it reads: a live service has none (the end
    marks its session, a bulk load calls ``mark_all``, migration 0011 marked the older ones)."""
    waiting = await db.scalar(
        select(S.id).where(S.state == SessionState.ENDED.value, S.marked_at.is_(None)).limit(1)
    )
    if waiting is None:
        return False
    await mark_all(db)
    return True


PAGE_MARKS_POSTGRES = text(
    """
UPDATE paging_pages p SET interrupts = m.interrupts, first_to_person = m.first_to_person
FROM (
    SELECT id,
           coalesce(sent_at - lag(sent_at) OVER person >= :within, true) AS interrupts,
           row_number() OVER (PARTITION BY session_id, user_id ORDER BY sent_at, id) = 1
               AS first_to_person
    FROM paging_pages
    WHERE purpose = 'page' AND status = 'sent' AND sent_at IS NOT NULL
    WINDOW person AS (PARTITION BY user_id ORDER BY sent_at, id)
) m
WHERE m.id = p.id
  AND (p.interrupts IS DISTINCT FROM m.interrupts
       OR p.first_to_person IS DISTINCT FROM m.first_to_person)
"""
).bindparams(bindparam("within", ONCE_WITHIN, type_=Interval()))


async def mark_all(db: AsyncSession) -> int:
    """Mark every ended session not marked yet, and every sent page whose marks are missing or
    not what its person's pages say (a history loaded by COPY brings its own, a few of them
    wrong: ``history.premarks``), in bulk, in the caller's transaction; how many pages were
    written. On PostgreSQL one pass of window functions over the sent pages, writing only the
    pages that differ; on SQLite, whose stored times cannot be subtracted exactly, the pages read
    in order and compared here."""
    unmarked = [S.state == SessionState.ENDED.value, S.marked_at.is_(None)]
    joined = [*unmarked, S.joined_at.is_not(None), S.radiologist_id.is_not(None)]
    # Joins on aggregates (UPDATE ... FROM), not a subquery per session: one pass over the
    # waiting sessions' pages, whatever their number.
    found = (
        select(pages.c.session_id, pages.c.user_id, func.min(pages.c.tier).label("tier"))
        .where(*_sent(), pages.c.session_id.in_(select(S.id).where(*unmarked)))
        .group_by(pages.c.session_id, pages.c.user_id)
        .subquery()
    )
    await db.execute(
        update(S)
        .where(*joined, S.id == found.c.session_id, S.radiologist_id == found.c.user_id)
        .values(found_tier=found.c.tier)
        .execution_options(synchronize_session=False)
    )
    await db.execute(
        update(S)
        .where(
            *joined,
            SessionAccept.session_id == S.id,
            SessionAccept.user_id == S.radiologist_id,
        )
        .values(accepted_via=SessionAccept.via)
        .execution_options(synchronize_session=False)
    )
    marked = await db.scalars(
        update(S)
        .where(*unmarked)
        .values(marked_at=utc_now())
        .returning(S.id)
        .execution_options(synchronize_session=False)
    )
    await latency_facts.add(db, list(marked))
    if is_postgres(db):
        result = await db.execute(PAGE_MARKS_POSTGRES)
        return int(getattr(result, "rowcount", 0) or 0)
    rows = (
        await db.execute(
            select(pages.c.id, pages.c.session_id, pages.c.user_id, pages.c.sent_at)
            .add_columns(pages.c.interrupts, pages.c.first_to_person)
            .where(*_sent())
            .order_by(pages.c.user_id, pages.c.sent_at, pages.c.id)
        )
    ).all()
    stored = {row[0]: (row[4], row[5]) for row in rows}
    marks = _flags(row[:4] for row in rows)
    wrong = [m for m in marks if stored[m["pid"]] != (m["interrupts"], m["first"])]
    await _write(db, wrong)
    return len(wrong)
