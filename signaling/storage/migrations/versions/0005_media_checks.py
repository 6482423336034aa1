"""Media checks: per-facility monitor and pre-flight switches, pre-flight results, session coverage.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 16:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("facilities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("monitor_media", sa.Boolean(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column("require_preflight", sa.Boolean(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("supervision_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("coverage", sa.JSON(), nullable=True))
    op.create_table(
        "preflight_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("device_label", sa.String(length=200), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_preflight_checks_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preflight_checks")),
    )
    with op.batch_alter_table("preflight_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_preflight_checks_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("preflight_checks")
    with op.batch_alter_table("supervision_sessions", schema=None) as batch_op:
        batch_op.drop_column("coverage")
    with op.batch_alter_table("facilities", schema=None) as batch_op:
        batch_op.drop_column("require_preflight")
        batch_op.drop_column("monitor_media")
