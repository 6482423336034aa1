"""The supervisors' live board: every session still open at their facilities, longest waiting
first, each with what the pager has done for it (who is paged, who accepted, whether paging ran
out). Read in a handful of queries however many sessions are open."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.clock import iso_ms
from signaling.pager.summary import paging_summaries
from signaling.sessions import supervision
from signaling.sessions.state import SessionState
from signaling.storage.models import SupervisionSession

MAX_ON_BOARD = 200


@dataclass(frozen=True)
class Board:
    """``sessions`` as ``supervision.session_json`` (no accession number) with ``paging`` (the
    pager summary, or None); ``open`` how many are open in all (more than shown past the cap)."""

    at: datetime
    sessions: tuple[dict[str, Any], ...]
    open: int


async def open_board(
    db: AsyncSession, facility_ids: Collection[int], now: datetime, limit: int = MAX_ON_BOARD
) -> Board:
    """Sessions not ended at ``facility_ids``, oldest request first (the longest wait on top),
    at most ``limit``."""
    if not facility_ids:
        return Board(now, (), 0)
    where = (
        SupervisionSession.facility_id.in_(list(facility_ids)),
        SupervisionSession.state != SessionState.ENDED.value,
    )
    total = int(
        await db.scalar(select(func.count()).select_from(SupervisionSession).where(*where)) or 0
    )
    found = (
        await db.scalars(
            select(SupervisionSession)
            .where(*where)
            .order_by(SupervisionSession.requested_at, SupervisionSession.id)
            .limit(limit)
        )
    ).all()
    summaries = await paging_summaries(db, [s.id for s in found])
    return Board(
        at=now,
        sessions=tuple(
            supervision.session_json(s, with_accession=False) | {"paging": summaries.get(s.id)}
            for s in found
        ),
        open=total,
    )


def board_json(board: Board) -> dict[str, Any]:
    return {"at": iso_ms(board.at), "open": board.open, "sessions": list(board.sessions)}
