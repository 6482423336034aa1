"""PostgreSQL settings for the report aggregates, for the rest of the caller's transaction.

A report's statement is one scan and a dozen sorts of tens of thousands of rows: JIT compiling it
costs more (a second or more of CPU) than running it; the default ``work_mem`` (4 MB) sends those
sorts to disk; and the default ``random_page_cost`` (4, a spinning disk) makes a probe per session
into a covering index look dearer than reading a whole year of pages, when the index is in
memory. And a plan for the values at hand: the driver prepares each statement once per connection,
and after five runs PostgreSQL may keep one generic plan for every period and set of facilities,
a month's plan for a year (measured: a year's paging health 0.25 s with its own plan, 2.5 s with
the generic one). ``SET LOCAL`` ends with the transaction, so nothing else is affected."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports.percentiles import is_postgres

WORK_MEM = "64MB"
RANDOM_PAGE_COST = 1.1


async def for_aggregates(db: AsyncSession) -> None:
    """JIT off, memory for sorts, index probes at their in-memory cost, each statement planned for
    its own values, until the end of ``db``'s transaction (PostgreSQL)."""
    if is_postgres(db):
        await db.execute(text("SET LOCAL jit = off"))
        await db.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        await db.execute(text(f"SET LOCAL random_page_cost = {RANDOM_PAGE_COST}"))
        await db.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


async def hash_joins(db: AsyncSession) -> None:
    """No merge joins until the end of ``db``'s transaction (PostgreSQL): a merge join of pages
    to sessions sorts hundreds of thousands of 36-character ids by the database's collation
    (measured: the radiologist-load pairs 1.8 s with it, 0.9 s hashed, 30 days of 50 facilities)."""
    if is_postgres(db):
        await db.execute(text("SET LOCAL enable_mergejoin = off"))
