"""Carrier webhooks act once: one row per SMS reply (MessageSid) or keypress (CallSid, digits).

Revision ID: 0006_webhook_replays
Revises: 0005
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_webhook_replays"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paging_inbound",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.String(length=400), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paging_inbound")),
        sa.UniqueConstraint("key", name=op.f("uq_paging_inbound_key")),
    )


def downgrade() -> None:
    op.drop_table("paging_inbound")
