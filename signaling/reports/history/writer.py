"""Writing the history in bulk, inside the caller's transaction: on SQLite SQLAlchemy core
``insert()`` with executemany batches; on PostgreSQL ``COPY`` through the driver
(asyncpg's ``copy_records_to_table``), which loads a year of a large service in minutes.

Rows come as tuples in ``COLUMNS`` order (sessions as dicts: a column the schema does not have,
such as one a later migration adds, is not written). Record entries carry their ids (a reaction's
entries name it by id), from a block taken above the table's highest id; on PostgreSQL the table is
locked for the load and its id sequence moved past the block at the end.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import JSON, Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from paging.store import inbound, pages, runs, timers
from signaling.storage.models import (
    RecordChain,
    RecordReaction,
    SessionAccept,
    SessionEvent,
    SessionRepage,
    SupervisionSession,
)

SESSIONS = SupervisionSession.__table__
TABLES: dict[str, Any] = {
    "supervision_sessions": SESSIONS,
    "paging_runs": runs,
    "paging_timers": timers,
    "paging_pages": pages,
    "paging_inbound": inbound,
    "session_accepts": SessionAccept.__table__,
    "session_repages": SessionRepage.__table__,
    "session_events": SessionEvent.__table__,
    "record_reactions": RecordReaction.__table__,
    "record_chains": RecordChain.__table__,
}
COLUMNS: dict[str, tuple[str, ...]] = {
    "paging_runs": (
        "session_id",
        "facility_id",
        "policy",
        "started_at",
        "state",
        "held_until",
        "stopped_at",
        "stop_reason",
        "repaged",
    ),
    "paging_timers": ("session_id", "kind", "tier", "round", "due_at", "done_at", "outcome"),
    "paging_pages": (
        "key",
        "session_id",
        "user_id",
        "user_name",
        "channel",
        "purpose",
        "tier",
        "round",
        "status",
        "detail",
        "address",
        "created_at",
        "due_at",
        "lease_until",
        "attempts",
        "sent_at",
        "carrier_ref",
        "dispatch_lag_ms",
        "error",
        "interrupts",
        "first_to_person",
    ),
    "paging_inbound": ("key", "received_at", "answer"),
    "session_accepts": (
        "session_id",
        "user_id",
        "via",
        "accepted_at",
        "ended_at",
        "end_reason",
        "paged_at",
    ),
    "session_repages": (
        "session_id",
        "repaged_at",
        "reason",
        "detail",
        "radiologist_id",
        "joined_at",
    ),
    "session_events": (
        "id",
        "session_id",
        "kind",
        "from_state",
        "to_state",
        "at",
        "actor_id",
        "detail",
        "body",
        "seq",
        "digest",
    ),
    "record_reactions": (
        "entry_id",
        "session_id",
        "onset_at",
        "reaction_type",
        "severity",
        "premedicated",
        "intervened_at",
    ),
    "record_chains": ("session_id", "length", "head", "sealed_at"),
}


def session_columns() -> tuple[str, ...]:
    """The session table's columns as the schema has them (0010's, once merged, included)."""
    return tuple(c.name for c in SESSIONS.columns)


class Bulk:
    """Writes batches of rows (table -> rows), parents first, inside the caller's transaction."""

    def __init__(self, db: AsyncSession, postgres: bool, next_event_id: int) -> None:
        self.db, self.postgres, self.next_event_id = db, postgres, next_event_id
        self.columns = dict(COLUMNS) | {"supervision_sessions": session_columns()}
        self.counts: dict[str, int] = dict.fromkeys(TABLES, 0)
        self._encoded: dict[int, tuple[Any, str]] = {}

    @classmethod
    async def open(cls, db: AsyncSession) -> Bulk:
        """A writer, with the first free record entry id (PostgreSQL: the table locked)."""
        postgres = db.get_bind().dialect.name == "postgresql"
        if postgres:
            await db.execute(text("LOCK TABLE session_events IN EXCLUSIVE MODE"))
        highest = await db.scalar(select(func.max(SessionEvent.id)))
        return cls(db, postgres, int(highest or 0) + 1)

    async def write(self, batch: dict[str, list[tuple[Any, ...]]]) -> None:
        for name in TABLES:
            rows = batch.get(name)
            if not rows:
                continue
            if self.postgres:
                await self._copy(name, rows)
            else:
                await self._insert(name, rows)
            self.counts[name] += len(rows)

    async def close(self) -> None:
        """Move the entries' id sequence past the ids the history used and gather the tables'
        statistics (PostgreSQL): the planner would otherwise plan what follows (the marks, the
        first reports) for the empty tables it last saw, and take seconds for a demo's months."""
        if self.postgres:
            await self.db.execute(text("ANALYZE " + ", ".join(TABLES)))
            await self.db.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('session_events', 'id'), "
                    "(SELECT coalesce(max(id), 1) FROM session_events))"
                )
            )

    async def _insert(self, name: str, rows: list[tuple[Any, ...]]) -> None:
        """Core ``insert()`` compiled once, executemany in batches, each value through its
        column type's own bind processor (as SQLAlchemy would), without per-row dicts."""
        table: Table = TABLES[name]
        columns = self.columns[name]
        dialect = self.db.get_bind().dialect
        compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
        order = [columns.index(key) for key in compiled.positiontup or ()]
        # A None stays SQL NULL (the JSON type would store JSON null, which the service never does).
        procs = [table.c[columns[i]].type.bind_processor(dialect) for i in order]
        prepared = [
            tuple(
                p(v) if p is not None and v is not None else v
                for p, v in zip(procs, (row[i] for i in order), strict=True)
            )
            for row in rows
        ]
        connection = await self.db.connection()
        for start in range(0, len(prepared), 5000):
            await connection.exec_driver_sql(compiled.string, prepared[start : start + 5000])

    async def _copy(self, name: str, rows: list[tuple[Any, ...]]) -> None:
        table: Table = TABLES[name]
        columns = self.columns[name]
        for i in (i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)):
            rows = [(*r[:i], self._json(r[i]), *r[i + 1 :]) for r in rows]
        connection = await self.db.connection()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table(name, records=rows, columns=list(columns))

    def _json(self, value: Any) -> str | None:
        """JSON text for COPY; the same object (a facility's policy) is encoded once."""
        if value is None:
            return None
        known = self._encoded.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        encoded = json.dumps(value)
        if len(self._encoded) < 1000:
            self._encoded[id(value)] = (value, encoded)
        return encoded
