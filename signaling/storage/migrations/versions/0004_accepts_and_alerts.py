"""Several accepts per request (the first join takes the session); supervisor alerts in the outbox.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 14:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_accepts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["supervision_sessions.id"],
            name=op.f("fk_session_accepts_session_id_supervision_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_session_accepts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_accepts")),
        sa.UniqueConstraint("session_id", "user_id", name=op.f("uq_session_accepts_session_id")),
    )
    with op.batch_alter_table("session_accepts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_accepts_session_id"), ["session_id"], unique=False
        )
    with op.batch_alter_table("paging_pages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=8), nullable=False, server_default="page")
        )
    with op.batch_alter_table("paging_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("repaged", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("paging_runs", schema=None) as batch_op:
        batch_op.drop_column("repaged")
    with op.batch_alter_table("paging_pages", schema=None) as batch_op:
        batch_op.drop_column("purpose")
    op.drop_table("session_accepts")
