"""What the pager has done for a session, as the technologist and supervisors see it.

Names, channels, tiers and outcomes; never phone numbers (``address`` stays in the pager's table).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.store import pages, runs
from signaling.clock import iso_ms


async def paging_summary(db: AsyncSession, session_id: str) -> dict[str, Any] | None:
    run = (await db.execute(select(runs).where(runs.c.session_id == session_id))).first()
    if run is None:
        return None
    rows = (
        await db.execute(
            select(
                pages.c.user_id,
                pages.c.user_name,
                pages.c.channel,
                pages.c.tier,
                pages.c.round,
                pages.c.status,
                pages.c.detail,
                pages.c.created_at,
                pages.c.sent_at,
            )
            .where(pages.c.session_id == session_id)
            .order_by(pages.c.id)
        )
    ).all()
    return {
        "state": run.state,
        "stop_reason": run.stop_reason,
        "exhausted": run.stop_reason == "exhausted",
        "held_until": iso_ms(run.held_until),
        "started_at": iso_ms(run.started_at),
        "tier": max((r.tier for r in rows), default=None),
        "round": max((r.round for r in rows), default=None),
        "tiers": len(run.policy["tiers"]),
        "pages": [
            {
                "user_id": r.user_id,
                "name": r.user_name,
                "channel": r.channel,
                "tier": r.tier,
                "round": r.round,
                "status": r.status,
                "detail": r.detail,
                "at": iso_ms(r.sent_at or r.created_at),
            }
            for r in rows
        ],
    }
