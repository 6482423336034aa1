"""Re-pages on the server: the radiologist's latest live media evidence, and each re-page's record.

Revision ID: 0007_repages
Revises: 0006_webhook_replays
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_repages"
down_revision = "0006_webhook_replays"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("supervision_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("radiologist_live_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "session_repages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("repaged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("radiologist_id", sa.Integer(), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["supervision_sessions.id"],
            name=op.f("fk_session_repages_session_id_supervision_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["radiologist_id"],
            ["users.id"],
            name=op.f("fk_session_repages_radiologist_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_repages")),
    )
    with op.batch_alter_table("session_repages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_repages_session_id"), ["session_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("session_repages")
    with op.batch_alter_table("supervision_sessions", schema=None) as batch_op:
        batch_op.drop_column("radiologist_live_at")
