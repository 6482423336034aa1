"""The pager's marks the reports read (``signaling.reports.marks``), on SQLite and on PostgreSQL:
which sent pages interrupted their person and which was the first to them for a session, the tier
and channel that found the radiologist who joined; written one session at a time when it ends
and in bulk, with the same result."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paging.store import pages
from signaling.reports import marks
from signaling.storage.models import SupervisionSession
from tests.signaling.reports.data import Ids, add_accept, add_page, add_session, at, ids

T0 = at("2026-03-04T15:00")
S = SupervisionSession


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


async def _story(db: AsyncSession, d: Ids) -> dict[str, str]:
    """A: Dr Patel paged at 0 s (in-app), 30 s (SMS), 90 s (voice); Dr Diaz at 10 s (tier 1),
    accepts by SMS and joins. B, requested 20 s after A: Dr Patel paged at 20 s and 200 s
    (two gaps: 20 s after A's first page, 110 s after A's last); nobody came. A skipped page and
    a sent alert are never marked."""
    a = await add_session(db, d, T0, 40.0, radiologist="drdiaz")
    b = await add_session(db, d, T0 + s(20))
    await add_page(db, d, a, "drpatel", T0, channel="in_app")
    await add_page(db, d, a, "drpatel", T0 + s(30), channel="sms")
    await add_page(db, d, a, "drpatel", T0 + s(90), channel="voice")
    await add_page(db, d, a, "drdiaz", T0 + s(10), tier=1)
    await add_page(db, d, a, "drdiaz", T0 + s(11), tier=2, channel="sms")
    await add_page(db, d, a, "drdiaz", T0 + s(12), tier=0, channel="voice", status="skipped")
    await add_accept(db, d, a, "drdiaz", T0 + s(30), "sms")
    await add_page(db, d, b, "drpatel", T0 + s(20), channel="in_app")
    await add_page(db, d, b, "drpatel", T0 + s(200), channel="sms")
    await add_page(db, d, b, "super", T0 + s(21), purpose="alert", channel="in_app")
    return {"a": a, "b": b}


async def _page_marks(db: AsyncSession) -> dict[tuple[str, int, str], tuple[object, object]]:
    rows = await db.execute(
        select(
            pages.c.session_id,
            pages.c.user_id,
            pages.c.channel,
            pages.c.interrupts,
            pages.c.first_to_person,
        )
    )
    return {(sid, uid, ch): (i, f) for sid, uid, ch, i, f in rows}


async def _session_marks(db: AsyncSession, sid: str) -> tuple[object, object, bool]:
    row = (
        await db.execute(
            select(S.found_tier, S.accepted_via, S.marked_at.is_not(None)).where(S.id == sid)
        )
    ).one()
    return row[0], row[1], bool(row[2])


def _expected(d: Ids, sid: dict[str, str]) -> dict[tuple[str, int, str], tuple[object, object]]:
    patel, diaz, boss = d.users["drpatel"], d.users["drdiaz"], d.users["super"]
    return {
        (sid["a"], patel, "in_app"): (True, True),
        (sid["a"], patel, "sms"): (False, False),  # 10 s after B's page at 20 s
        (sid["a"], patel, "voice"): (True, False),  # 60 s after the SMS: a new interruption
        (sid["a"], diaz, "in_app"): (True, True),
        (sid["a"], diaz, "sms"): (False, False),
        (sid["a"], diaz, "voice"): (None, None),  # skipped: not a sent page
        (sid["b"], patel, "in_app"): (False, True),  # 20 s after A's first: the same burst
        (sid["b"], patel, "sms"): (True, False),
        (sid["b"], boss, "in_app"): (None, None),  # an alert, not a page
    }


async def test_marks_in_bulk(db: AsyncSession) -> None:
    """A page interrupts when no page reached its person in the minute before, from any session;
    the radiologist who joined was found by their lowest sent tier, on their accept's channel."""
    d = await ids(db)
    sid = await _story(db, d)
    assert await marks.settle(db) is True
    assert await _page_marks(db) == _expected(d, sid)
    assert await _session_marks(db, sid["a"]) == (1, "sms", True)
    assert await _session_marks(db, sid["b"]) == (None, None, True)  # nobody joined
    assert await marks.settle(db) is False  # nothing left to mark


async def test_marks_as_each_session_ends_agree_with_bulk(db: AsyncSession) -> None:
    """Marked one session at a time, in either order (B ended first), the same marks."""
    d = await ids(db)
    sid = await _story(db, d)
    for which in ("b", "a"):
        s_ = await db.get(S, sid[which])
        assert s_ is not None
        await marks.session_ended(db, s_)
    await db.flush()
    assert await _page_marks(db) == _expected(d, sid)
    assert await _session_marks(db, sid["a"]) == (1, "sms", True)
    assert await marks.settle(db) is False


async def test_a_session_still_open_is_not_marked(db: AsyncSession) -> None:
    d = await ids(db)
    open_ = await add_session(db, d, T0, state="paging")
    await add_page(db, d, open_, "drpatel", T0)
    assert await marks.settle(db) is False
    assert await _session_marks(db, open_) == (None, None, False)


async def test_a_reset_page_is_marked_again(db: AsyncSession) -> None:
    """Marks lost from the pages (a bulk load) are written again by the bulk pass."""
    d = await ids(db)
    sid = await _story(db, d)
    await marks.settle(db)
    await db.execute(update(pages).values(interrupts=None, first_to_person=None))
    await marks.mark_all(db)
    assert await _page_marks(db) == _expected(d, sid)


async def test_wrong_marks_are_put_right_and_only_they_are_written(db: AsyncSession) -> None:
    """A load that brought its own marks, two of them wrong (B's first page to Dr Patel as an
    interruption, A's voice page as none): the bulk pass writes those two pages and no other."""
    d = await ids(db)
    sid = await _story(db, d)
    await marks.settle(db)
    patel = d.users["drpatel"]
    for session, channel, wrong in ((sid["b"], "in_app", True), (sid["a"], "voice", False)):
        await db.execute(
            update(pages)
            .where(
                pages.c.session_id == session,
                pages.c.user_id == patel,
                pages.c.channel == channel,
            )
            .values(interrupts=wrong)
        )
    assert await marks.mark_all(db) == 2
    assert await _page_marks(db) == _expected(d, sid)
    assert await marks.mark_all(db) == 0
