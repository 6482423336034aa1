"""What the response-time report needs of each ended session, kept packed per facility and UTC day
(``report_facts``, PostgreSQL only) so a year of fifty facilities is 18,000 short rows to read
instead of a million sessions to scan, sort and group in SQL (measured: more than 10 s).

One record per session, 30 bytes, big-endian (as PostgreSQL's ``int8send`` writes them):
requested_at and the join latency in microseconds since the epoch (-1: unmeasured), the room, the
radiologist (-1: none), the tier that found them and the channel of their accept (the marks), and
the outcome (codes below; -1: none). Local times are not stored: they are computed when read, in
the facility's zone as it is then (``fact_groups``), as the SQL path computed them.

A session's record is appended when it is marked (``marks.session_ended``, in the end's
transaction; ``marks.mark_all`` for the sessions it marks), so the facts hold exactly the ended,
marked sessions. ``rebuild`` writes them all again from the sessions (a bulk load, migration 0012).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports.percentiles import is_postgres
from signaling.sessions.state import Outcome
from signaling.sessions.supervision import Via
from signaling.storage.models import ReportFacts, SupervisionSession

VIAS: tuple[str, ...] = (Via.WEB, Via.SMS, Via.VOICE)
OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)
RECORD = struct.Struct(">qqiihhh")
DTYPE = np.dtype(
    [
        ("requested_us", ">i8"),
        ("latency_us", ">i8"),
        ("room_id", ">i4"),
        ("radiologist_id", ">i4"),
        ("tier", ">i2"),
        ("via", ">i2"),
        ("outcome", ">i2"),
    ]
)
assert DTYPE.itemsize == RECORD.size == 30
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _code(values: Sequence[str], value: str | None) -> int:
    return values.index(value) if value in values else -1


def _us(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def pack(s: SupervisionSession) -> bytes:
    """The record of an ended, marked session."""
    latency = -1 if s.joined_at is None else _us(s.joined_at) - _us(s.requested_at)
    return RECORD.pack(
        _us(s.requested_at),
        latency,
        s.room_id,
        -1 if s.radiologist_id is None else s.radiologist_id,
        -1 if s.found_tier is None else s.found_tier,
        _code(VIAS, s.accepted_via),
        _code(OUTCOMES, s.outcome),
    )


APPEND = text(
    """
INSERT INTO report_facts (facility_id, day, sessions, facts)
VALUES (:facility_id, :day, 1, :facts)
ON CONFLICT (facility_id, day) DO UPDATE
SET sessions = report_facts.sessions + 1, facts = report_facts.facts || EXCLUDED.facts
"""
)


async def session_marked(db: AsyncSession, s: SupervisionSession) -> None:
    """Append ``s``'s record (it has ended and been marked), in the caller's transaction."""
    if not is_postgres(db):
        return
    day = s.requested_at.astimezone(UTC).date()
    await db.execute(APPEND, {"facility_id": s.facility_id, "day": day, "facts": pack(s)})


def _case(column: str, values: Sequence[str]) -> str:
    whens = " ".join(f"WHEN '{v}' THEN {i}" for i, v in enumerate(values))
    return f"CASE {column} {whens} ELSE -1 END"


def _us_sql(expression: str) -> str:
    return f"(extract(epoch FROM {expression}) * 1000000)::bigint"


# The records of sessions as SQL (``where``: which), grouped by facility and UTC day; the same
# bytes as ``pack``. Built from this module's constants only.
_RECORDS = f"""
SELECT facility_id, (requested_at AT TIME ZONE 'UTC')::date AS day, count(*) AS sessions,
       string_agg(
           int8send({_us_sql("requested_at")})
           || int8send(coalesce({_us_sql("joined_at - requested_at")}, -1))
           || int4send(room_id)
           || int4send(coalesce(radiologist_id, -1))
           || int2send(coalesce(found_tier, -1)::smallint)
           || int2send(({_case("accepted_via", VIAS)})::smallint)
           || int2send(({_case("outcome", OUTCOMES)})::smallint),
           ''::bytea
       ) AS facts
FROM supervision_sessions
WHERE state = 'ended' AND marked_at IS NOT NULL AND {{where}}
GROUP BY 1, 2
"""  # noqa: S608
_MERGE = """
ON CONFLICT (facility_id, day) DO UPDATE
SET sessions = report_facts.sessions + EXCLUDED.sessions,
    facts = report_facts.facts || EXCLUDED.facts
"""


async def add(db: AsyncSession, session_ids: Sequence[str]) -> None:
    """Append the records of these sessions (``mark_all`` has just marked them)."""
    if not is_postgres(db) or not session_ids:
        return
    statement = "INSERT INTO report_facts (facility_id, day, sessions, facts) "
    statement += _RECORDS.format(where="id = ANY(:ids)") + _MERGE
    await db.execute(text(statement).bindparams(bindparam("ids", list(session_ids))))


async def rebuild(db: AsyncSession) -> None:
    """Write every facility's records again from its sessions (after a bulk load)."""
    if not is_postgres(db):
        return
    await db.execute(text("DELETE FROM report_facts"))
    statement = "INSERT INTO report_facts (facility_id, day, sessions, facts) "
    await db.execute(text(statement + _RECORDS.format(where="true")))
    await db.execute(text("ANALYZE report_facts"))


async def read(
    db: AsyncSession, facility_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, np.ndarray]:
    """Each facility's records of sessions requested in ``[start, end)`` (``DTYPE``, read-only)."""
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    rows = await db.execute(
        select(ReportFacts.facility_id, ReportFacts.facts)
        .where(
            ReportFacts.facility_id.in_(sorted(facility_ids)),
            ReportFacts.day >= first,
            ReportFacts.day <= last,
        )
        .order_by(ReportFacts.facility_id, ReportFacts.day)
    )
    chunks: dict[int, list[bytes]] = {}
    for facility_id, facts in rows:
        chunks.setdefault(facility_id, []).append(facts)
    lo, hi = _us(start), _us(end)
    found = {}
    for facility_id, parts in chunks.items():
        records = np.frombuffer(b"".join(parts), dtype=DTYPE)  # big-endian: fields convert
        kept = records[(records["requested_us"] >= lo) & (records["requested_us"] < hi)]
        if len(kept):
            found[facility_id] = kept
    return found
