"""The response-time report's facts packed per facility and UTC day (``report_facts``): one
30-byte record per ended, marked session (requested_at and join latency in microseconds, room,
radiologist, tier and channel that found them, outcome), so a year of a large service is read in
thousands of rows, not scanned and grouped a million sessions at a time. Back-filled here on
PostgreSQL from every ended, marked session; SQLite's reports read the sessions and keep none.
And a partial index of the sessions still open, which every report counts; the indexes of the
sent pages and of the accepts by session cover what the reports read of a few sessions.

The back-fill is a frozen copy of ``signaling.reports.latency_facts`` as of this revision (storage
may not import the reports).

Revision ID: 0012_report_facts
Revises: 0011_report_marks
Create Date: 2026-12-06 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_report_facts"
down_revision = "0011_report_marks"
branch_labels = None
depends_on = None


def _us(expression: str) -> str:
    return f"(extract(epoch FROM {expression}) * 1000000)::bigint"


OPEN = "state <> 'ended'"
SENT_PAGES = "purpose = 'page' AND status = 'sent'"
PAGES_BY_SESSION = [
    "user_id",
    "tier",
    "sent_at",
    "id",
    "created_at",
    "interrupts",
    "first_to_person",
]
ACCEPTS_BY_SESSION = ["user_id", "via", "accepted_at", "end_reason", "paged_at"]
BACKFILL = f"""
INSERT INTO report_facts (facility_id, day, sessions, facts)
SELECT facility_id, (requested_at AT TIME ZONE 'UTC')::date, count(*),
       string_agg(
           int8send({_us("requested_at")})
           || int8send(coalesce({_us("joined_at - requested_at")}, -1))
           || int4send(room_id)
           || int4send(coalesce(radiologist_id, -1))
           || int2send(coalesce(found_tier, -1)::smallint)
           || int2send((CASE accepted_via WHEN 'web' THEN 0 WHEN 'sms' THEN 1
                        WHEN 'voice' THEN 2 ELSE -1 END)::smallint)
           || int2send((CASE outcome WHEN 'completed' THEN 0 WHEN 'cancelled' THEN 1
                        ELSE -1 END)::smallint),
           ''::bytea
       )
FROM supervision_sessions
WHERE state = 'ended' AND marked_at IS NOT NULL
GROUP BY 1, 2
"""  # noqa: S608  (constants only)


def upgrade() -> None:
    op.create_table(
        "report_facts",
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("facts", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_report_facts_facility_id_facilities"),
        ),
        sa.PrimaryKeyConstraint("facility_id", "day", name=op.f("pk_report_facts")),
    )
    # Sessions still open, which every report counts and leaves out (a count over a year's
    # sessions took as long as the response-time report's own work).
    op.create_index(
        "ix_supervision_sessions_open",
        "supervision_sessions",
        ["facility_id", "requested_at"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    # A few sessions' pages and accepts read by session from an index alone (a facility's
    # year: by time, the whole service's pages of the year were read to find its sessions').
    _session_indexes(PAGES_BY_SESSION, ACCEPTS_BY_SESSION)
    if op.get_bind().dialect.name == "postgresql":
        # Read whole and often, appended a record at a time: stored out of line uncompressed
        # (pglz would cost every read for little: the records are mostly distinct integers).
        op.execute("ALTER TABLE report_facts ALTER COLUMN facts SET STORAGE EXTERNAL")
        op.execute(BACKFILL)


def _session_indexes(pages_include: list[str], accepts_include: list[str]) -> None:
    op.drop_index("ix_paging_pages_sent_session", table_name="paging_pages")
    op.create_index(
        "ix_paging_pages_sent_session",
        "paging_pages",
        ["session_id"],
        postgresql_include=pages_include,
        postgresql_where=sa.text(SENT_PAGES),
        sqlite_where=sa.text(SENT_PAGES),
    )
    op.drop_index("ix_session_accepts_session_id", table_name="session_accepts")
    op.create_index(
        "ix_session_accepts_session_id",
        "session_accepts",
        ["session_id"],
        postgresql_include=accepts_include,
    )


def downgrade() -> None:
    _session_indexes(PAGES_BY_SESSION[:5], [])
    op.drop_index("ix_supervision_sessions_open", table_name="supervision_sessions")
    op.drop_table("report_facts")
