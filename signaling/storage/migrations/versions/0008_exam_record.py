"""The exam and reaction record: facility exam setup, patient digest, chained record entries.

Revision ID: 0008_exam_record
Revises: 0007_repages
Create Date: 2026-12-02 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_exam_record"
down_revision = "0007_repages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("facilities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("exam_setup", sa.JSON(), nullable=True))
    with op.batch_alter_table("supervision_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("patient_digest", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_supervision_sessions_patient_digest"), ["patient_digest"], unique=False
        )
    with op.batch_alter_table("session_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("digest", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_session_events_session_id"), ["session_id", "seq"]
        )
        batch_op.create_index(
            "ix_session_events_unsealed",
            ["session_id"],
            unique=False,
            postgresql_where=sa.text("digest IS NULL"),
            sqlite_where=sa.text("digest IS NULL"),
        )
    op.create_table(
        "record_chains",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["supervision_sessions.id"],
            name=op.f("fk_record_chains_session_id_supervision_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_record_chains")),
    )


def downgrade() -> None:
    op.drop_table("record_chains")
    with op.batch_alter_table("session_events", schema=None) as batch_op:
        batch_op.drop_index("ix_session_events_unsealed")
        batch_op.drop_constraint(batch_op.f("uq_session_events_session_id"), type_="unique")
        batch_op.drop_column("digest")
        batch_op.drop_column("seq")
        batch_op.drop_column("body")
    with op.batch_alter_table("supervision_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervision_sessions_patient_digest"))
        batch_op.drop_column("patient_digest")
    with op.batch_alter_table("facilities", schema=None) as batch_op:
        batch_op.drop_column("exam_setup")
