"""Reports: each person's own time zone, and the indexes the report aggregates read by.

Each report reads one period of some facilities' sessions, the pages sent and the accepts made
while they were open. On PostgreSQL the indexes carry the columns the aggregates need, so those
reads are index-only: sent pages by time (many sessions) or by session (few); see
signaling/reports/scoped.py.

Revision ID: 0009_reports
Revises: 0008_exam_record
Create Date: 2026-12-09 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_reports"
down_revision = "0008_exam_record"
branch_labels = None
depends_on = None

SENT_PAGES = "purpose = 'page' AND status = 'sent'"


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
    with op.batch_alter_table("supervision_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_supervision_sessions_facility_requested",
            ["facility_id", "requested_at"],
            unique=False,
            postgresql_include=[
                "id",
                "state",
                "room_id",
                "radiologist_id",
                "joined_at",
                "ended_at",
                "outcome",
            ],
        )
    with op.batch_alter_table("session_accepts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_session_accepts_accepted_at",
            ["accepted_at"],
            unique=False,
            postgresql_include=["session_id", "user_id", "via"],
        )
    with op.batch_alter_table("paging_pages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_paging_pages_sent",
            ["created_at"],
            unique=False,
            postgresql_include=["id", "session_id", "user_id", "tier", "sent_at"],
            postgresql_where=sa.text(SENT_PAGES),
            sqlite_where=sa.text(SENT_PAGES),
        )
        batch_op.create_index(
            "ix_paging_pages_sent_session",
            ["session_id"],
            unique=False,
            postgresql_include=["user_id", "tier", "sent_at", "id", "created_at"],
            postgresql_where=sa.text(SENT_PAGES),
            sqlite_where=sa.text(SENT_PAGES),
        )


def downgrade() -> None:
    with op.batch_alter_table("paging_pages", schema=None) as batch_op:
        batch_op.drop_index("ix_paging_pages_sent_session")
        batch_op.drop_index("ix_paging_pages_sent")
    with op.batch_alter_table("session_accepts", schema=None) as batch_op:
        batch_op.drop_index("ix_session_accepts_accepted_at")
    with op.batch_alter_table("supervision_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_supervision_sessions_facility_requested")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("timezone")
