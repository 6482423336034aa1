"""The session's coverage: seconds of verified two-way live supervision and every gap, from the record.

The technologist's socket writes each change of the link as a ``link`` event (``signaling.live.socket``):
"verified two-way live", or each direction's state and causes ("technologist: live; radiologist: lost
(nothing_arrives)"). Replaying those events through ``media.link.Coverage`` gives the coverage from
the first verified moment to the end of the session (or to ``now`` while it runs). A session never
verified is *unmeasured*, which the benchmarks count as a failure, not as zero.

When a session ends, its coverage is stored on it (``SupervisionSession.coverage``), with two of
its figures as columns for the reports (``store``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from media.link import Coverage
from signaling.clock import iso_ms
from signaling.storage.models import SessionEvent, SupervisionSession

VERIFIED = "verified two-way live"
CLIENT_ONLY = "client evidence only"
UNCHECKED = "not checked by the server"
MAX_GAPS = 200  # a summary, not a log: the events keep every change
_PART = re.compile(
    r"^(?P<sender>technologist|radiologist): (?P<state>\w+)(?: \((?P<causes>[^)]*)\))?"
)


def causes_of(detail: str) -> tuple[str, ...]:
    """``"technologist: live; radiologist: lost (nothing_arrives)"`` ->
    ``("radiologist:nothing_arrives",)``; a non-live direction without causes counts as its state."""
    found: list[str] = []
    for part in detail.split(";"):
        match = _PART.match(part.strip())
        if match is None or match["state"] == "live":
            continue
        causes = [c.strip() for c in (match["causes"] or match["state"]).split(",") if c.strip()]
        found.extend(f"{match['sender']}:{c}" for c in causes)
    return tuple(dict.fromkeys(found))


def summarize(
    events: list[tuple[datetime, str]], end: datetime, *, monitored: bool
) -> dict[str, Any]:
    """Coverage from ``link`` events (time, detail), oldest first, up to ``end``."""
    first = next((at for at, detail in events if detail.startswith(VERIFIED)), None)
    evidence = "server and client" if monitored else "client only"
    if first is None:
        return {"measured": False, "evidence": evidence}
    origin = first.timestamp()
    coverage = Coverage()
    for at, detail in events:
        if at < first:
            continue
        live = detail.startswith(VERIFIED)
        coverage.observe(at.timestamp() - origin, live, () if live else causes_of(detail))
    coverage.close(max(end.timestamp(), events[-1][0].timestamp()) - origin)

    def moment(seconds: float) -> str | None:
        return iso_ms(datetime.fromtimestamp(origin + seconds, tz=first.tzinfo))

    return {
        "measured": True,
        "evidence": evidence,
        "from": iso_ms(first),
        "to": iso_ms(end),
        "verified_live_s": round(coverage.live_s, 1),
        "gap_s": round(coverage.gap_s, 1),
        "gap_count": len(coverage.gaps),
        "gaps": [
            {
                "start": moment(g.start),
                "seconds": round(g.seconds, 1),
                "causes": list(g.causes),
            }
            for g in coverage.gaps[:MAX_GAPS]
        ],
    }


async def coverage_of(db: AsyncSession, s: SupervisionSession, now: datetime) -> dict[str, Any]:
    """The stored coverage of an ended session, or the coverage so far of a running one."""
    if s.coverage is not None:
        return s.coverage
    rows = await db.execute(
        select(SessionEvent.at, SessionEvent.detail)
        .where(SessionEvent.session_id == s.id, SessionEvent.kind == "link")
        .order_by(SessionEvent.at, SessionEvent.id)
    )
    events = [(at, detail or "") for at, detail in rows.all()]
    # server and client evidence only if the server's check was in force at some point (the
    # record marks what it did not check, or that the facility has the monitor off)
    monitored = s.facility.monitor_media and any(
        CLIENT_ONLY not in d and UNCHECKED not in d for _, d in events
    )
    return summarize(events, s.ended_at or now, monitored=monitored)


def figures(cover: dict[str, Any]) -> dict[str, Any]:
    """A stored coverage's verified seconds and number of gaps, the session's columns of them
    (None when the link was never verified)."""
    measured = bool(cover.get("measured"))
    return {
        "verified_live_s": float(cover["verified_live_s"]) if measured else None,
        "link_gap_count": int(cover.get("gap_count", 0)) if measured else None,
    }


def store(s: SupervisionSession, cover: dict[str, Any]) -> None:
    """Keep an ended session's coverage on it: the summary, and its ``figures`` as columns."""
    s.coverage = cover
    for name, value in figures(cover).items():
        setattr(s, name, value)
