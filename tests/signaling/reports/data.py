"""Small fixed data sets for the report tests, inserted directly: sessions as they end up after
the service ran them, the pages the pager sent and the accepts radiologists made."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.store import pages
from signaling.reports import latency_facts
from signaling.reports.scope import Filters, Period, Scope
from signaling.storage.models import (
    Facility,
    ReportFacts,
    Room,
    SessionAccept,
    SupervisionSession,
    User,
)


def at(text: str) -> datetime:
    """An ISO time, UTC unless it says otherwise."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def period(start: str, end: str) -> Period:
    return Period(at(start), at(end))


@dataclass(frozen=True)
class Ids:
    facilities: dict[str, int]
    rooms: dict[tuple[str, str], int]
    users: dict[str, int]

    def scope(self, period: Period, *codes: str, **filters: object) -> Scope:
        """The scope of facilities ``codes`` (default NORTH) over ``period``."""
        wanted = frozenset(self.facilities[c] for c in (codes or ("NORTH",)))
        return Scope(wanted, period, Filters(**filters))  # type: ignore[arg-type]


async def ids(db: AsyncSession) -> Ids:
    facilities = {code: fid for code, fid in await db.execute(select(Facility.code, Facility.id))}
    codes = {fid: code for code, fid in facilities.items()}
    rooms = {
        (codes[fid], code): rid
        for rid, fid, code in await db.execute(select(Room.id, Room.facility_id, Room.code))
    }
    users = {name: uid for name, uid in await db.execute(select(User.username, User.id))}
    return Ids(facilities, rooms, users)


def session_row(
    ids: Ids,
    requested: datetime,
    joined_s: float | None = None,
    *,
    facility: str = "NORTH",
    room: str | None = None,
    radiologist: str | None = None,
    outcome: str | None = None,
    ended_s: float = 900.0,
    state: str = "ended",
) -> dict[str, Any]:
    """A session requested at ``requested``, joined ``joined_s`` later (None: never), ended
    ``ended_s`` after the request (unless still open)."""
    room = room or min(r for (f, r) in ids.rooms if f == facility)
    joined = None if joined_s is None else requested + timedelta(seconds=joined_s)
    ended = state == "ended"
    outcome = outcome or ("completed" if joined else "cancelled") if ended else None
    return {
        "id": str(uuid.uuid4()),
        "facility_id": ids.facilities[facility],
        "room_id": ids.rooms[(facility, room)],
        "technologist_id": ids.users["tech"],
        "radiologist_id": ids.users[radiologist] if radiologist else None,
        "accession_number": "ACC-1",
        "state": state,
        "outcome": outcome,
        "cancel_reason": "no_coverage" if outcome == "cancelled" else None,
        "requested_at": requested,
        "paging_at": requested,
        "joined_at": joined,
        "ended_at": requested + timedelta(seconds=ended_s) if ended else None,
    }


def page_row(
    ids: Ids,
    session_id: str,
    user: str,
    sent: datetime,
    *,
    tier: int = 0,
    channel: str = "in_app",
    status: str = "sent",
    purpose: str = "page",
) -> dict[str, Any]:
    """A page created and sent at ``sent``."""
    return {
        "key": f"{session_id}/{tier}/{user}/{channel}/{uuid.uuid4().hex[:8]}",
        "session_id": session_id,
        "user_id": ids.users[user],
        "user_name": user,
        "channel": channel,
        "purpose": purpose,
        "tier": tier,
        "round": 0,
        "status": status,
        "created_at": sent,
        "due_at": sent,
        "sent_at": sent if status == "sent" else None,
        "attempts": 1,
    }


def accept_row(
    ids: Ids, session_id: str, user: str, when: datetime, via: str = "web"
) -> dict[str, Any]:
    return {"session_id": session_id, "user_id": ids.users[user], "via": via, "accepted_at": when}


async def insert_rows(
    db: AsyncSession,
    sessions: list[dict[str, Any]],
    page_rows: list[dict[str, Any]] = (),  # type: ignore[assignment]
    accepts: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> None:
    """Many rows at once (sessions first: pages and accepts name them)."""
    if sessions:
        await db.execute(insert(SupervisionSession), sessions)
    if page_rows:
        await db.execute(insert(pages), list(page_rows))
    if accepts:
        await db.execute(insert(SessionAccept), list(accepts))


async def add_session(
    db: AsyncSession, ids: Ids, requested: datetime, joined_s: float | None = None, **how: Any
) -> str:
    """``session_row``, inserted; its id."""
    row = session_row(ids, requested, joined_s, **how)
    await insert_rows(db, [row])
    return str(row["id"])


async def add_page(
    db: AsyncSession, ids: Ids, session_id: str, user: str, sent: datetime, **how: Any
) -> None:
    await insert_rows(db, [], [page_row(ids, session_id, user, sent, **how)])


async def add_accept(
    db: AsyncSession, ids: Ids, session_id: str, user: str, when: datetime, via: str = "web"
) -> None:
    await insert_rows(db, [], [], [accept_row(ids, session_id, user, when, via)])


async def joined_session(
    db: AsyncSession,
    ids: Ids,
    requested: datetime,
    joined_s: float,
    radiologist: str = "drpatel",
    *,
    tier: int = 0,
    via: str = "web",
    **session: object,
) -> str:
    """A session ``radiologist`` was paged for in ``tier`` (10 s a tier), accepted ``via`` a
    second before joining ``joined_s`` after the request."""
    sid = await add_session(db, ids, requested, joined_s, radiologist=radiologist, **session)
    await add_page(db, ids, sid, radiologist, requested + timedelta(seconds=10 * tier), tier=tier)
    await add_accept(db, ids, sid, radiologist, requested + timedelta(seconds=joined_s - 1), via)
    return sid


async def stored_facts(db: AsyncSession) -> dict[tuple[int, date], Counter[bytes]]:
    """Each facility-day's packed latency facts (``latency_facts``) as a multiset of records
    (their order is the order their sessions were marked)."""
    size = latency_facts.RECORD.size
    rows = await db.execute(select(ReportFacts.facility_id, ReportFacts.day, ReportFacts.facts))
    return {
        (facility_id, day): Counter(bytes(facts[i : i + size]) for i in range(0, len(facts), size))
        for facility_id, day, facts in rows
    }
