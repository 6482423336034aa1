"""Paging directory: mobile numbers and caseload caps, on-call schedules, facility policies.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 12:24:08.119022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "on_call_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_on_call_schedules")),
        sa.UniqueConstraint("code", name=op.f("uq_on_call_schedules_code")),
    )
    op.create_table(
        "facility_policies",
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_facility_policies_facility_id_facilities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("facility_id", name=op.f("pk_facility_policies")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mobile", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("max_concurrent", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("max_concurrent")
        batch_op.drop_column("mobile")

    op.drop_table("facility_policies")
    op.drop_table("on_call_schedules")
