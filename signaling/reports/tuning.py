"""PostgreSQL settings for the report aggregates, for the rest of the caller's transaction.

A report's statement is one scan and a dozen sorts of tens of thousands of rows: JIT compiling it
costs more (a second or more of CPU) than running it, and the default ``work_mem`` (4 MB) sends
those sorts to disk. ``SET LOCAL`` ends with the transaction, so nothing else is affected."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports.percentiles import is_postgres

WORK_MEM = "64MB"


async def for_aggregates(db: AsyncSession) -> None:
    """Turn JIT off and give sorts memory, until the end of ``db``'s transaction (PostgreSQL)."""
    if is_postgres(db):
        await db.execute(text("SET LOCAL jit = off"))
        await db.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
