"""The demo's history, seeded at its first start: four months at North Imaging and Lakeside, so a
supervisor has something to read, and a story in it:

- Lakeside's nights from Friday and Saturday 19:00 to 07:00 have nobody on call (the demo
  directory's schedule says so, and a coverage forecast finds the same hours): every session
  requested then ran out of paging at once, the supervisor was alerted, and the technologist
  cancelled it for no coverage, unmeasured.
- Dr Patel answers her pages at once by SMS but joins a minute and a half later: her median join
  latency is over 90 s, where Dr Diaz's is under 30 s.

Paged as a deployment with a carrier is (SMS and voice as well as in-app). Seeded once: a second
start finds the history and adds nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports.history.generator import Generated, generate
from signaling.reports.history.spec import HistorySpec, Slow
from signaling.storage.models import SupervisionSession

PREFIX = "DEMO-H-"  # the history's accession numbers: DEMO-H-NORTH-000001
DAYS = 122  # about four months
SEED = 2026
SLOW = "drpatel"


def demo_spec(now: datetime) -> HistorySpec:
    """The demo's history up to ``now``: every session ended, none left open."""
    end = now.replace(second=0, microsecond=0)
    start = (end - timedelta(days=DAYS)).replace(minute=0)
    return HistorySpec(
        start=start,
        end=end,
        seed=SEED,
        per_room_weekday=10.0,
        accession_prefix=PREFIX,
        slow={SLOW: Slow()},
    )


async def seed_history(db: AsyncSession, now: datetime) -> Generated | None:
    """Seed the demo's history unless it is there (caller commits); None when it was."""
    there = await db.scalar(
        select(SupervisionSession.id)
        .where(SupervisionSession.accession_number.startswith(PREFIX))
        .limit(1)
    )
    if there is not None:
        return None
    return await generate(db, demo_spec(now))
