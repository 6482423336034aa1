"""PostgreSQL settings for the report aggregates, for the rest of the caller's transaction.

A report's statement is one scan and a dozen sorts of tens of thousands of rows: JIT compiling it
costs more (a second or more of CPU) than running it; the default ``work_mem`` (4 MB) sends those
sorts to disk; and the default ``random_page_cost`` (4, a spinning disk) makes a probe per session
into a covering index look dearer than reading a whole year of pages, when the index is in
memory. ``SET LOCAL`` ends with the transaction, so nothing else is affected."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports.percentiles import is_postgres

WORK_MEM = "64MB"
RANDOM_PAGE_COST = 1.1


async def for_aggregates(db: AsyncSession) -> None:
    """JIT off, memory for sorts, index probes at their in-memory cost, until the end of
    ``db``'s transaction (PostgreSQL)."""
    if is_postgres(db):
        await db.execute(text("SET LOCAL jit = off"))
        await db.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        await db.execute(text(f"SET LOCAL random_page_cost = {RANDOM_PAGE_COST}"))
