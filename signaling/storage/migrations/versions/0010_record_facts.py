"""The record's facts the reports count: the exam's agent class, the injection's time and whether it
was under verified supervision, the documentation score on each session, and one row per reaction;
back-filled from the record's entries.

The back-fill is a frozen copy of how the record folds its entries as of this revision
(``signaling.record.store``: the last exam saved, amendments applied, the first injection, each
reaction with its later findings and the radiologist's first action): storage may not import the
record, and a migration must read old rows the same way whatever the record's code becomes. The
documentation score is the record's completeness rules over the whole record and the facility's
setup: it is not copied here. Records written before this revision (the record is unreleased) stay
unscored (NULL) until an entry is added; the reactions report counts them as "not scored".

Revision ID: 0010_record_facts
Revises: 0009_reports
Create Date: 2026-12-09 10:00:00
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from paging.sqltypes import UTCDateTime

revision = "0010_record_facts"
down_revision = "0009_reports"
branch_labels = None
depends_on = None

BATCH = 500


def upgrade() -> None:
    with op.batch_alter_table("supervision_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_class", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("injected_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("injection_verified", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("documentation_required", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("documentation_missing", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("verified_live_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("link_gap_count", sa.Integer(), nullable=True))
    op.create_table(
        "record_reactions",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("onset_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reaction_type", sa.String(length=20), nullable=True),
        sa.Column("severity", sa.String(length=10), nullable=True),
        sa.Column("premedicated", sa.Boolean(), nullable=True),
        sa.Column("intervened_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["session_events.id"],
            name=op.f("fk_record_reactions_entry_id_session_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["supervision_sessions.id"],
            name=op.f("fk_record_reactions_session_id_supervision_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_record_reactions")),
    )
    with op.batch_alter_table("record_reactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_reactions_session_id"), ["session_id"], unique=False
        )
    with op.batch_alter_table("session_accepts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paged_at", sa.DateTime(timezone=True), nullable=True))
    # The reports' ranges (EXPLAINed on PostgreSQL over a year of 1,000,000 sessions). 0009's
    # covering indexes of a facility's sessions by request time and of the accepts by time carry
    # the new facts too; the pager's pages and the re-pages are read by time (BRIN: written in time
    # order, the index costs the outbox next to nothing); tiers found empty and paging run out are
    # a few rows of the timers, a partial index.
    _recreate(
        SESSIONS_INDEX, "supervision_sessions", ["facility_id", "requested_at"], SESSION_FACTS
    )
    _recreate(ACCEPTS_INDEX, "session_accepts", ["accepted_at"], ACCEPT_FACTS)
    op.create_index(
        "ix_session_repages_repaged_at", "session_repages", ["repaged_at"], postgresql_using="brin"
    )
    op.create_index(
        "ix_paging_pages_created_at", "paging_pages", ["created_at"], postgresql_using="brin"
    )
    op.create_index(
        "ix_paging_timers_empty_or_exhausted",
        "paging_timers",
        ["due_at"],
        postgresql_include=["session_id", "kind", "tier"],
        postgresql_where=sa.text("outcome IN ('skipped_empty', 'exhausted')"),
        sqlite_where=sa.text("outcome IN ('skipped_empty', 'exhausted')"),
    )
    _backfill(op.get_bind())
    _backfill_paged_at()
    _backfill_coverage(op.get_bind())


SESSIONS_INDEX = "ix_supervision_sessions_facility_requested"
ACCEPTS_INDEX = "ix_session_accepts_accepted_at"
# What 0009's covering indexes carry, and what this revision adds to them.
SESSION_COLUMNS_0009 = [
    "id",
    "state",
    "room_id",
    "radiologist_id",
    "joined_at",
    "ended_at",
    "outcome",
]
SESSION_FACTS = [
    *SESSION_COLUMNS_0009, "cancel_reason", "agent_class", "injected_at", "injection_verified",
    "documentation_required", "documentation_missing", "verified_live_s", "link_gap_count",
]  # fmt: skip
ACCEPT_COLUMNS_0009 = ["session_id", "user_id", "via"]
ACCEPT_FACTS = [*ACCEPT_COLUMNS_0009, "end_reason", "paged_at"]


def _recreate(name: str, table: str, columns: list[str], include: list[str]) -> None:
    """An index of 0009 again, carrying ``include`` (PostgreSQL; SQLite has no INCLUDE)."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_index(name)
        batch_op.create_index(name, columns, unique=False, postgresql_include=include)


def downgrade() -> None:
    op.drop_index("ix_paging_timers_empty_or_exhausted", table_name="paging_timers")
    op.drop_index("ix_session_repages_repaged_at", table_name="session_repages")
    op.drop_index("ix_paging_pages_created_at", table_name="paging_pages")
    _recreate(ACCEPTS_INDEX, "session_accepts", ["accepted_at"], ACCEPT_COLUMNS_0009)
    _recreate(
        SESSIONS_INDEX,
        "supervision_sessions",
        ["facility_id", "requested_at"],
        SESSION_COLUMNS_0009,
    )
    with op.batch_alter_table("session_accepts", schema=None) as batch_op:
        batch_op.drop_column("paged_at")
    op.drop_table("record_reactions")
    with op.batch_alter_table("supervision_sessions", schema=None) as batch_op:
        batch_op.drop_column("link_gap_count")
        batch_op.drop_column("verified_live_s")
        batch_op.drop_column("documentation_missing")
        batch_op.drop_column("documentation_required")
        batch_op.drop_column("injection_verified")
        batch_op.drop_column("injected_at")
        batch_op.drop_column("agent_class")


# --- the back-fill (frozen: see the module's docstring) -----------------------------------------

_facilities = sa.table(
    "facilities", sa.column("id", sa.Integer()), sa.column("exam_setup", sa.JSON())
)
_sessions = sa.table(
    "supervision_sessions",
    sa.column("id", sa.String()),
    sa.column("facility_id", sa.Integer()),
    sa.column("agent_class", sa.String()),
    sa.column("injected_at", UTCDateTime()),
    sa.column("injection_verified", sa.Boolean()),
)
_events = sa.table(
    "session_events",
    sa.column("id", sa.Integer()),
    sa.column("session_id", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("at", UTCDateTime()),
    sa.column("body", sa.JSON()),
)
_reactions = sa.table(
    "record_reactions",
    sa.column("entry_id", sa.Integer()),
    sa.column("session_id", sa.String()),
    sa.column("onset_at", UTCDateTime()),
    sa.column("reaction_type", sa.String()),
    sa.column("severity", sa.String()),
    sa.column("premedicated", sa.Boolean()),
    sa.column("intervened_at", UTCDateTime()),
)
RECORD_KINDS = ("exam", "injection", "reaction", "reaction_findings", "intervention", "amendment")
TYPES = ("allergic_like", "physiologic")
SEVERITIES = ("mild", "moderate", "severe")


def _formulary(setup: Any) -> dict[str, str]:
    """Agent code -> class in a facility's stored exam setup."""
    if not isinstance(setup, dict):
        return {}
    return {
        str(a.get("code")): str(a.get("agent_class"))
        for a in setup.get("formulary") or []
        if isinstance(a, dict)
    }


def _fold(
    session_id: str, entries: list[Any], formulary: dict[str, str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The session's facts (agent class, injection) and its reactions' rows."""
    amended: dict[int, dict[str, Any]] = {}
    for e in entries:
        if e.kind == "amendment" and e.body:
            amended.setdefault(int(e.body["target"]), {}).update(e.body.get("changes") or {})

    def body(e: Any) -> dict[str, Any]:
        return dict(e.body or {}) | amended.get(e.id, {})

    exams = [e for e in entries if e.kind == "exam"]
    exam = body(exams[-1]) if exams else {}
    injections = [e for e in entries if e.kind == "injection"]
    facts: dict[str, Any] = {
        "agent_class": formulary.get(str(exam.get("agent")), "other") if exams else None,
        "injected_at": injections[0].at if injections else None,
        "injection_verified": bool((injections[0].body or {}).get("verified"))
        if injections
        else None,
    }
    rows = []
    for opened in (e for e in entries if e.kind == "reaction"):
        start = body(opened)
        current = {"type": start.get("type"), "severity": start.get("severity")}
        intervened_at = None
        for e in entries:
            item = body(e)
            if item.get("reaction") != opened.id:
                continue
            if e.kind == "reaction_findings":
                current |= {k: v for k, v in item.items() if k not in ("reaction", "note")}
            elif e.kind == "intervention" and intervened_at is None:
                intervened_at = e.at
        onset = start.get("onset_at")
        premedicated = current.get("premedicated")
        rows.append(
            {
                "entry_id": opened.id,
                "session_id": session_id,
                "onset_at": datetime.fromisoformat(onset) if isinstance(onset, str) else opened.at,
                "reaction_type": current["type"] if current["type"] in TYPES else None,
                "severity": current["severity"] if current["severity"] in SEVERITIES else None,
                "premedicated": premedicated
                if premedicated is not None
                else exam.get("premedicated"),
                "intervened_at": intervened_at,
            }
        )
    return facts, rows


def _backfill(conn: sa.Connection) -> None:
    """The facts of every session with record entries, ``BATCH`` sessions at a time."""
    formularies = {
        row.id: _formulary(row.exam_setup) for row in conn.execute(sa.select(_facilities))
    }
    # SET from each row's keys (the facts' columns); WHERE from "session".
    update = _sessions.update().where(_sessions.c.id == sa.bindparam("session"))
    with_record = (
        sa.select(_events.c.session_id)
        .where(_events.c.kind.in_(RECORD_KINDS))
        .group_by(_events.c.session_id)
    )
    after = ""
    while True:
        batch = conn.execute(
            sa.select(_sessions.c.id, _sessions.c.facility_id)
            .where(_sessions.c.id > after, _sessions.c.id.in_(with_record))
            .order_by(_sessions.c.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        after = batch[-1].id
        entries: dict[str, list[Any]] = defaultdict(list)
        for e in conn.execute(
            sa.select(_events)
            .where(
                _events.c.session_id.in_([b.id for b in batch]),
                _events.c.kind.in_(RECORD_KINDS),
            )
            .order_by(_events.c.id)
        ):
            entries[e.session_id].append(e)
        updates, reactions = [], []
        for b in batch:
            facts, rows = _fold(b.id, entries[b.id], formularies.get(b.facility_id, {}))
            updates.append({"session": b.id} | facts)
            reactions += rows
        conn.execute(update, updates)
        if reactions:
            conn.execute(_reactions.insert(), reactions)


def _backfill_paged_at() -> None:
    """Each accept's first page on its channel, as the service now keeps it when accepting."""
    op.execute(
        """
        UPDATE session_accepts SET paged_at = (
            SELECT min(p.sent_at) FROM paging_pages p
            WHERE p.session_id = session_accepts.session_id
              AND p.user_id = session_accepts.user_id
              AND p.channel = CASE session_accepts.via WHEN 'web' THEN 'in_app'
                                                        ELSE session_accepts.via END
              AND p.purpose IN ('page', 'stat')
              AND p.sent_at <= session_accepts.accepted_at
        )
        """
    )


def _backfill_coverage(conn: sa.Connection) -> None:
    """The verified seconds and number of gaps of every stored coverage, as columns."""
    if conn.dialect.name == "postgresql":
        live, gaps = "(coverage->>'verified_live_s')::float", "(coverage->>'gap_count')::int"
        measured = "(coverage->>'measured')::boolean"
    else:
        live = "json_extract(coverage, '$.verified_live_s')"
        gaps = "json_extract(coverage, '$.gap_count')"
        measured = "json_extract(coverage, '$.measured')"
    op.execute(
        f"UPDATE supervision_sessions SET verified_live_s = {live}, "  # noqa: S608 (no input)
        f"link_gap_count = coalesce({gaps}, 0) WHERE coverage IS NOT NULL AND {measured}"
    )
