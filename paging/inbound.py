"""A carrier's inbound events (SMS replies, keypresses) are acted on at most once.

Carriers repeat webhooks (a retry after a slow answer, a replay by anyone holding a signed request).
Each event that may act is first claimed by its key in ``paging_inbound``, in the same transaction as
what it does: a replay finds the row and does nothing; a crash before the commit loses both the claim
and the action, so the carrier's retry acts then. The unique key makes two workers that receive the
same event at once agree: the second insert waits for the first transaction and then finds the row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paging.store import inbound

ANSWER_MAX = 400


def sms_key(message_sid: str) -> str:
    return f"sms:{message_sid}"


def keypress_key(call_sid: str, digits: str) -> str:
    return f"voice:{call_sid}:{digits}"


async def claim(db: AsyncSession, key: str, now: datetime) -> bool:
    """Record the event ``key`` inside the caller's transaction; False if it was already recorded
    (a replay: do nothing). The caller commits with whatever the event did."""
    dialect = sqlite if db.get_bind().dialect.name == "sqlite" else postgresql
    statement = (
        dialect.insert(inbound)
        .values(key=key, received_at=now)
        .on_conflict_do_nothing(index_elements=[inbound.c.key])
    )
    result = await db.execute(statement)
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def answered(db: AsyncSession, key: str, answer: str) -> None:
    """Keep what the first delivery of ``key`` was told (caller commits)."""
    await db.execute(update(inbound).where(inbound.c.key == key).values(answer=answer[:ANSWER_MAX]))


async def first_answer(db: AsyncSession, key: str) -> str | None:
    """What the first delivery of ``key`` was told, if it is known."""
    return await db.scalar(select(inbound.c.answer).where(inbound.c.key == key))
