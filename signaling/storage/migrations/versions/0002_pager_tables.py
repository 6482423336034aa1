"""Pager tables: runs with their policy snapshot, durable timers, the outbox of pages.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 12:21:49.388103
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paging_pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("carrier_ref", sa.String(length=64), nullable=True),
        sa.Column("dispatch_lag_ms", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paging_pages")),
        sa.UniqueConstraint("key", name=op.f("uq_paging_pages_key")),
    )
    with op.batch_alter_table("paging_pages", schema=None) as batch_op:
        batch_op.create_index("ix_paging_pages_outbox", ["status", "due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_paging_pages_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "paging_runs",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_reason", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_paging_runs")),
    )
    op.create_table(
        "paging_timers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=True),
        sa.Column("round", sa.Integer(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paging_timers")),
    )
    with op.batch_alter_table("paging_timers", schema=None) as batch_op:
        batch_op.create_index("ix_paging_timers_pending", ["done_at", "due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_paging_timers_session_id"), ["session_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("paging_timers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_paging_timers_session_id"))
        batch_op.drop_index("ix_paging_timers_pending")

    op.drop_table("paging_timers")
    op.drop_table("paging_runs")
    with op.batch_alter_table("paging_pages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_paging_pages_session_id"))
        batch_op.drop_index("ix_paging_pages_outbox")

    op.drop_table("paging_pages")
