"""The session record's hash chain: every entry sealed to the one before, and the check that names
the first entry altered or removed.

Entries (``session_events`` rows: state changes, pages answered, link changes, exam, injection,
reaction...) are written by whoever acts, in their own transactions, with no lock on the chain: a
join never waits for the record. The sealer (``run``, in every worker) gives each new entry its
place (``seq``, from 1) and its digest, SHA-256 over the previous digest and the entry's canonical
form, within ``SEAL_EVERY_S``; workers never seal the same session at once (its ``record_chains`` row
is taken with SKIP LOCKED). The chain's head (length and last digest) is kept apart, so removing the
last entries is noticed as well as altering or removing any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Executable, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.storage.database import SessionFactory
from signaling.storage.models import RecordChain, SessionEvent

log = logging.getLogger(__name__)

GENESIS = "0" * 64
SEAL_EVERY_S = 0.5
SESSIONS_PER_PASS = 100


class Entry(Protocol):
    """What a chained entry is made of: a ``session_events`` row, or one about to be written
    (``signaling.reports.history`` seals the records it writes)."""

    @property
    def session_id(self) -> str: ...
    @property
    def seq(self) -> int | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def from_state(self) -> str | None: ...
    @property
    def to_state(self) -> str | None: ...
    @property
    def at(self) -> datetime: ...
    @property
    def actor_id(self) -> int | None: ...
    @property
    def detail(self) -> str | None: ...
    @property
    def body(self) -> dict[str, Any] | None: ...


def canonical(e: Entry) -> bytes:
    """What the digest covers: everything the entry says and its place."""
    return json.dumps(
        {
            "session": e.session_id,
            "seq": e.seq,
            "kind": e.kind,
            "from": e.from_state,
            "to": e.to_state,
            "at": e.at.isoformat(),
            "actor": e.actor_id,
            "detail": e.detail,
            "body": e.body,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def digest(previous: str, e: Entry) -> str:
    return hashlib.sha256(previous.encode() + b"\n" + canonical(e)).hexdigest()


def _insert_head(db: AsyncSession, session_id: str, now: datetime) -> Executable:
    values = {"session_id": session_id, "length": 0, "head": GENESIS, "sealed_at": now}
    if db.get_bind().dialect.name == "postgresql":
        return postgresql.insert(RecordChain).values(**values).on_conflict_do_nothing()
    return sqlite.insert(RecordChain).values(**values).on_conflict_do_nothing()


async def seal_session(db: AsyncSession, session_id: str, now: datetime) -> int:
    """Seal what is unsealed of one session, inside the caller's transaction; how many entries
    (0 too when another worker is sealing it right now)."""
    await db.execute(_insert_head(db, session_id, now))
    head = await db.scalar(
        select(RecordChain)
        .where(RecordChain.session_id == session_id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if head is None:
        return 0
    fresh = (
        await db.scalars(
            select(SessionEvent)
            .where(SessionEvent.session_id == session_id, SessionEvent.digest.is_(None))
            .order_by(SessionEvent.id)
        )
    ).all()
    for e in fresh:
        head.length += 1
        e.seq = head.length
        e.digest = digest(head.head, e)
        head.head = e.digest
    head.sealed_at = now
    return len(fresh)


async def seal(db_factory: SessionFactory, now: datetime) -> int:
    """One pass: seal every session with unsealed entries (each in its own short transaction)."""
    async with db_factory() as db:
        pending = (
            await db.scalars(
                select(SessionEvent.session_id)
                .where(SessionEvent.digest.is_(None))
                .group_by(SessionEvent.session_id)
                .limit(SESSIONS_PER_PASS)
            )
        ).all()
    sealed = 0
    for session_id in pending:
        async with db_factory() as db, db.begin():
            sealed += await seal_session(db, session_id, now)
    return sealed


async def run(
    db_factory: SessionFactory, clock: Callable[[], datetime], stopping: asyncio.Event
) -> None:
    """Seal every ``SEAL_EVERY_S`` until ``stopping``, then once more. A failing database is
    logged once, and sealing resumes when it is back (entries wait unsealed, nothing is lost)."""
    failing = False
    while True:
        try:
            await seal(db_factory, clock())
            if failing:
                log.warning("sealing the session records: working again")
            failing = False
        except Exception as exc:
            if not failing:
                log.warning("sealing the session records failed: %r", exc)
            failing = True
        if stopping.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), SEAL_EVERY_S)


@dataclass(frozen=True)
class Verdict:
    session_id: str
    length: int  # entries sealed, as the head says
    head: str | None
    unsealed: int
    problem: str | None  # None: intact; else the first entry altered or removed, in words
    first_bad: int | None = None  # its seq

    @property
    def intact(self) -> bool:
        return self.problem is None


def check(
    session_id: str, entries: Sequence[SessionEvent], head: RecordChain | None, unsealed: int
) -> Verdict:
    """Walk the sealed entries in order: the first whose digest does not follow from the one
    before is altered; a missing place is a removed entry; a head past the last is a removed tail."""
    length, top = (head.length, head.head) if head is not None else (0, None)

    def broken(problem: str, seq: int) -> Verdict:
        return Verdict(session_id, length, top, unsealed, problem, seq)

    previous, expected = GENESIS, 1
    for e in entries:
        if e.seq != expected:
            return broken(
                f"entry {expected} was removed (the next one present is {e.seq})", expected
            )
        if e.digest != digest(previous, e):
            return broken(f"entry {e.seq} ({e.kind} at {e.at.isoformat()}) was altered", e.seq)
        previous, expected = e.digest, expected + 1
    last = expected - 1
    if head is None:
        return (
            broken("the chain's head was removed", 1)
            if last
            else Verdict(session_id, 0, None, unsealed, None)
        )
    if head.length > last:
        return broken(
            f"entry {last + 1} was removed (the chain holds {head.length} entries, "
            f"{last} are present)",
            last + 1,
        )
    if head.head != previous or head.length < last:
        return broken(f"the chain's head does not match entry {last}", last)
    return Verdict(session_id, length, top, unsealed, None)


async def verify(db: AsyncSession, session_id: str) -> Verdict:
    entries = (
        await db.scalars(
            select(SessionEvent)
            .where(SessionEvent.session_id == session_id, SessionEvent.seq.is_not(None))
            .order_by(SessionEvent.seq)
        )
    ).all()
    unsealed = await db.scalar(
        select(func.count())
        .select_from(SessionEvent)
        .where(SessionEvent.session_id == session_id, SessionEvent.seq.is_(None))
    )
    head = await db.get(RecordChain, session_id)
    return check(session_id, entries, head, int(unsealed or 0))


async def verify_all(db: AsyncSession) -> list[Verdict]:
    """Every session with a record; the broken ones first."""
    with_entries = select(SessionEvent.session_id).group_by(SessionEvent.session_id)
    ids = (await db.scalars(with_entries.union(select(RecordChain.session_id)))).all()
    verdicts = [await verify(db, session_id) for session_id in sorted(set(ids))]
    return sorted(verdicts, key=lambda v: v.intact)
