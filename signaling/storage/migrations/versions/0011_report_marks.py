"""The pager's marks the reports read instead of every page: on each ended session the lowest tier
that paged the radiologist who joined and the channel they accepted on; on each sent page whether
it interrupted its person (no sent page to them in the minute before, from any session) and
whether it was the first to them for its session. Back-filled here for every ended session.

The back-fill is a frozen copy of ``signaling.reports.marks`` as of this revision (storage may
not import the reports, and a migration must read old rows the same way whatever that code
becomes): in SQL on PostgreSQL, one pass of window functions; on SQLite, whose stored times
cannot be subtracted exactly, the pages read in order and compared here.

Revision ID: 0011_report_marks
Revises: 0010_record_facts
Create Date: 2026-12-02 21:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0011_report_marks"
down_revision = "0010_record_facts"
branch_labels = None
depends_on = None

SENT_PAGES = "purpose = 'page' AND status = 'sent'"
UNMARKED = "state = 'ended' AND marked_at IS NULL"
SESSIONS_INDEX = "ix_supervision_sessions_facility_requested"
SESSION_COLUMNS_0010 = [
    "id",
    "state",
    "room_id",
    "radiologist_id",
    "joined_at",
    "ended_at",
    "outcome",
    "cancel_reason",
    "agent_class",
    "injected_at",
    "injection_verified",
    "documentation_required",
    "documentation_missing",
    "verified_live_s",
    "link_gap_count",
]
ONCE_WITHIN = timedelta(seconds=60)


def upgrade() -> None:
    with op.batch_alter_table("supervision_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("found_tier", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("accepted_via", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("marked_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("paging_pages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("interrupts", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("first_to_person", sa.Boolean(), nullable=True))
    op.create_index(
        "ix_paging_pages_person_sent",
        "paging_pages",
        ["user_id", "sent_at"],
        postgresql_where=sa.text(SENT_PAGES),
        sqlite_where=sa.text(SENT_PAGES),
    )
    _backfill(op.get_bind())
    for name, flag in (
        ("ix_paging_pages_interrupts", "interrupts"),
        ("ix_paging_pages_first_to_person", "first_to_person"),
    ):
        op.create_index(
            name,
            "paging_pages",
            ["created_at"],
            postgresql_include=["session_id", "user_id", "sent_at"],
            postgresql_where=sa.text(f"{SENT_PAGES} AND {flag}"),
            sqlite_where=sa.text(f"{SENT_PAGES} AND {flag}"),
        )
    op.create_index(
        "ix_supervision_sessions_unmarked",
        "supervision_sessions",
        ["ended_at"],
        postgresql_where=sa.text(UNMARKED),
        sqlite_where=sa.text(UNMARKED),
    )
    _recreate([*SESSION_COLUMNS_0010, "found_tier", "accepted_via"])


def _recreate(include: list[str]) -> None:
    with op.batch_alter_table("supervision_sessions", schema=None) as batch_op:
        batch_op.drop_index(SESSIONS_INDEX)
        batch_op.create_index(
            SESSIONS_INDEX,
            ["facility_id", "requested_at"],
            unique=False,
            postgresql_include=include,
        )


# Joins on aggregates (UPDATE ... FROM; SQLite 3.33 and later), not a subquery per session: one
# pass over the pages whatever the number of sessions.
SESSION_MARKS = (
    "UPDATE supervision_sessions SET marked_at = :now WHERE state = 'ended'",
    """
UPDATE supervision_sessions SET found_tier = f.tier
FROM (
    SELECT session_id, user_id, min(tier) AS tier FROM paging_pages
    WHERE purpose = 'page' AND status = 'sent'
    GROUP BY session_id, user_id
) f
WHERE supervision_sessions.state = 'ended' AND supervision_sessions.joined_at IS NOT NULL
  AND f.session_id = supervision_sessions.id AND f.user_id = supervision_sessions.radiologist_id
""",
    """
UPDATE supervision_sessions SET accepted_via = a.via
FROM session_accepts a
WHERE supervision_sessions.state = 'ended' AND supervision_sessions.joined_at IS NOT NULL
  AND a.session_id = supervision_sessions.id AND a.user_id = supervision_sessions.radiologist_id
""",
)
PAGE_MARKS_POSTGRES = """
UPDATE paging_pages p SET interrupts = m.interrupts, first_to_person = m.first_to_person
FROM (
    SELECT id,
           coalesce(sent_at - lag(sent_at) OVER person >= interval '60 seconds', true)
               AS interrupts,
           row_number() OVER (PARTITION BY session_id, user_id ORDER BY sent_at, id) = 1
               AS first_to_person
    FROM paging_pages
    WHERE purpose = 'page' AND status = 'sent'
    WINDOW person AS (PARTITION BY user_id ORDER BY sent_at, id)
) m
WHERE m.id = p.id
"""


def _backfill(bind: sa.engine.Connection) -> None:
    now = datetime.now(UTC)
    stamp = sa.bindparam("now", type_=sa.DateTime(timezone=True))
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("ANALYZE supervision_sessions, paging_pages, session_accepts"))
    stamped, *joins = SESSION_MARKS
    bind.execute(sa.text(stamped).bindparams(stamp), {"now": now})
    for statement in joins:
        bind.execute(sa.text(statement))
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text(PAGE_MARKS_POSTGRES))
        return
    pages = sa.table(
        "paging_pages",
        sa.column("id"),
        sa.column("session_id"),
        sa.column("user_id"),
        sa.column("sent_at"),
        sa.column("purpose"),
        sa.column("status"),
    )
    rows = bind.execute(
        sa.select(pages.c.id, pages.c.session_id, pages.c.user_id, pages.c.sent_at)
        .where(pages.c.purpose == "page", pages.c.status == "sent")
        .order_by(pages.c.user_id, pages.c.sent_at, pages.c.id)
    ).all()
    marks = []
    previous: tuple[int, datetime] | None = None
    seen: set[tuple[str, int]] = set()
    for page_id, session_id, user_id, sent in rows:
        sent_at = _aware(sent)
        interrupts = (
            previous is None or previous[0] != user_id or sent_at - previous[1] >= ONCE_WITHIN
        )
        first = (session_id, user_id) not in seen
        seen.add((session_id, user_id))
        marks.append({"i": page_id, "interrupts": interrupts, "first": first})
        previous = (user_id, sent_at)
    if marks:
        bind.execute(
            sa.text(
                "UPDATE paging_pages SET interrupts = :interrupts, first_to_person = :first "
                "WHERE id = :i"
            ),
            marks,
        )


def _aware(value: datetime | str) -> datetime:
    """A stored time as SQLite gives it back raw (text, UTC)."""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def downgrade() -> None:
    _recreate(SESSION_COLUMNS_0010)
    op.drop_index("ix_supervision_sessions_unmarked", table_name="supervision_sessions")
    for name in (
        "ix_paging_pages_first_to_person",
        "ix_paging_pages_interrupts",
        "ix_paging_pages_person_sent",
    ):
        op.drop_index(name, table_name="paging_pages")
    with op.batch_alter_table("paging_pages", schema=None) as batch_op:
        batch_op.drop_column("first_to_person")
        batch_op.drop_column("interrupts")
    with op.batch_alter_table("supervision_sessions", schema=None) as batch_op:
        batch_op.drop_column("marked_at")
        batch_op.drop_column("accepted_via")
        batch_op.drop_column("found_tier")
