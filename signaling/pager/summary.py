"""What the pager has done for a session, as the technologist and supervisors see it.

Names, channels, tiers and outcomes; never phone numbers (``address`` stays in the pager's table).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.engine import REACTION_ALERT_TIER, Purpose
from paging.store import pages, runs
from signaling.clock import iso_ms
from signaling.storage.models import SessionAccept, User


async def paging_summary(db: AsyncSession, session_id: str) -> dict[str, Any] | None:
    """What the pager did for one session (None: it was never paged)."""
    return (await paging_summaries(db, [session_id])).get(session_id)


async def paging_summaries(
    db: AsyncSession, session_ids: Collection[str]
) -> dict[str, dict[str, Any]]:
    """``paging_summary`` of many sessions in three queries (a board of open sessions): by
    session id, only those that were paged."""
    if not session_ids:
        return {}
    wanted = list(session_ids)
    found = (await db.execute(select(runs).where(runs.c.session_id.in_(wanted)))).all()
    rows = (
        await db.execute(
            select(
                pages.c.session_id,
                pages.c.user_id,
                pages.c.user_name,
                pages.c.channel,
                pages.c.purpose,
                pages.c.tier,
                pages.c.round,
                pages.c.status,
                pages.c.detail,
                pages.c.created_at,
                pages.c.sent_at,
            )
            .where(pages.c.session_id.in_(wanted))
            .order_by(pages.c.id)
        )
    ).all()
    accepts = (
        await db.execute(
            select(SessionAccept, User.full_name)
            .join(User, User.id == SessionAccept.user_id)
            .where(SessionAccept.session_id.in_(wanted))
            .order_by(SessionAccept.accepted_at)
        )
    ).all()
    rows_of: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        rows_of[r.session_id].append(r)
    accepts_of: dict[str, list[tuple[SessionAccept, str]]] = defaultdict(list)
    for a, name in accepts:
        accepts_of[a.session_id].append((a, name))
    return {
        run.session_id: _summary(run, rows_of[run.session_id], accepts_of[run.session_id])
        for run in found
    }


def _alerted(rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    return [
        {"name": r.user_name, "channel": r.channel, "status": r.status, "detail": r.detail}
        for r in rows
    ]


def _summary(
    run: Row[Any], rows: Sequence[Row[Any]], accepts: Sequence[tuple[SessionAccept, str]]
) -> dict[str, Any]:
    alerts = [r for r in rows if r.purpose == Purpose.ALERT]
    rows = [r for r in rows if r.purpose != Purpose.ALERT]
    return {
        "state": run.state,
        "repaged": run.repaged,
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
                "purpose": r.purpose,  # page, or stat (a contrast reaction: every tier at once)
                "tier": r.tier,
                "round": r.round,
                "status": r.status,
                "detail": r.detail,
                "at": iso_ms(r.sent_at or r.created_at),
            }
            for r in rows
        ],
        # standing: still a promise to join; joined, released, superseded, session_ended: not
        "accepts": [
            {
                "user_id": a.user_id,
                "name": name,
                "via": a.via,
                "at": iso_ms(a.accepted_at),
                "status": a.end_reason or "standing",
            }
            for a, name in accepts
        ],
        # told that paging ran out (the technologist's "supervisors alerted")
        "supervisors_alerted": _alerted([r for r in alerts if r.tier != REACTION_ALERT_TIER]),
        # told that a contrast reaction paged every tier STAT
        "supervisors_told_of_reaction": _alerted(
            [r for r in alerts if r.tier == REACTION_ALERT_TIER]
        ),
    }
