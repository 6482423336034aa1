"""The marks (``signaling.reports.marks``) of a generated history, written with its rows so a load
does not rewrite millions of pages after the copy (an UPDATE of a year's 9 million sent pages took
more than 20 minutes; it writes a new version of every row).

The session's ``found_tier`` and ``accepted_via`` and each sent page's ``first_to_person`` are the
session's own. Whether a page ``interrupts`` depends on the person's pages of other sessions in the
minute before it: the sessions come in order of request, so the pages already written are known,
and a page written later but sent earlier (a slow tier of an earlier request) is not. Those few are
put right by ``marks.mark_all`` after the load, which recomputes every mark and writes only the
ones that differ."""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from paging.engine import Purpose
from signaling.reports.history.paging_state import Page
from signaling.reports.interruptions import ONCE_WITHIN

WITHIN_MS = int(ONCE_WITHIN.total_seconds() * 1000)
KEEP_MS = 6 * 3600 * 1000  # a person's page times kept this long behind their latest


def _ms(seconds: float) -> int:
    """As ``times.at`` stores it: truncated to the millisecond."""
    return int(seconds * 1000.0)


class PageMarker:
    """Marks each session's pages as the sessions come, remembering each person's recent sent
    pages (the ones written before)."""

    def __init__(self) -> None:
        self._recent: dict[int, list[int]] = {}

    def page_marks(self, pages: Sequence[Page]) -> list[tuple[bool | None, bool | None]]:
        """``(interrupts, first_to_person)`` for each of a session's pages in row order (None for
        the pages that were not sent); their sent times are remembered for what follows."""
        sent = [
            (_ms(p.sent), i, p.user.id)
            for i, p in enumerate(pages)
            if p.purpose == Purpose.PAGE and p.status == "sent" and p.sent is not None
        ]
        marks: list[tuple[bool | None, bool | None]] = [(None, None)] * len(pages)
        firsts: set[int] = set()
        ours: dict[int, list[int]] = {}
        for t, i, user in sorted(sent):  # the session's own order: time, then row
            before = self._recent.get(user, [])
            k = bisect_right(before, t)
            mine = ours.setdefault(user, [])
            within = (k > 0 and before[k - 1] > t - WITHIN_MS) or (
                bool(mine) and mine[-1] > t - WITHIN_MS
            )
            marks[i] = (not within, user not in firsts)
            firsts.add(user)
            mine.append(t)
        for user, times in ours.items():
            kept = self._recent.setdefault(user, [])
            for t in times:
                insort(kept, t)
            cut = bisect_right(kept, kept[-1] - KEEP_MS)
            if cut:
                del kept[:cut]
        return marks


def session_marks(
    session: dict[str, Any],
    pages: Sequence[Page],
    accepts: Sequence[tuple[Any, ...]],
    ended: datetime | None,
) -> dict[str, Any]:
    """The session's own marks (``found_tier``, ``accepted_via``, ``marked_at``: its end) as
    ``marks.session_ended`` writes them."""
    if session.get("state") != "ended":
        return {"found_tier": None, "accepted_via": None, "marked_at": None}
    rad = session.get("radiologist_id")
    tier = via = None
    if session.get("joined_at") is not None and rad is not None:
        tiers = [
            p.tier
            for p in pages
            if p.user.id == rad
            and p.purpose == Purpose.PAGE
            and p.status == "sent"
            and p.sent is not None
        ]
        tier = min(tiers) if tiers else None
        via = next((a[2] for a in accepts if a[1] == rad), None)
    return {"found_tier": tier, "accepted_via": via, "marked_at": ended}
