"""The pager's durable state: one run per paged session, its timers, and the outbox of pages.

Tables are declared here (``paging`` may not import ``signaling``); the service's Alembic environment
migrates this metadata together with its own. Session and user ids are plain columns, not foreign keys,
so the pager stays independent of the service's schema.

- ``paging_runs``: the policy snapshot copied when paging started, and whether paging is active, held
  (someone accepted; grace window) or stopped (joined, cancelled, exhausted).
- ``paging_timers``: when each tier fires (and when paging is exhausted); a row is done once fired.
- ``paging_pages``: one row per person, channel, tier and round: the outbox (``pending`` -> ``sending``
  -> ``sent`` / ``failed``), plus ``skipped`` rows that record who was not paged and why, and
  ``cancelled`` rows for pages that became moot.
- ``paging_inbound``: one row per carrier event acted on (an SMS reply by its ``MessageSid``, a
  keypress by its call and digits), unique, so a replayed webhook finds its row and acts no more.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import exc as sa_exc

from paging.sqltypes import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

runs = Table(
    "paging_runs",
    metadata,
    Column("session_id", String(36), primary_key=True),
    Column("facility_id", Integer, nullable=False),
    Column("policy", JSON, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("state", String(12), nullable=False),  # active, held, stopped
    Column("held_until", UTCDateTime(), nullable=True),
    Column("stopped_at", UTCDateTime(), nullable=True),
    Column("stop_reason", String(40), nullable=True),
    # times paging started again from the first tier (handed back, or the radiologist's media lost)
    Column("repaged", Integer, nullable=False, server_default="0"),
)

timers = Table(
    "paging_timers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", String(36), nullable=False, index=True),
    Column("kind", String(12), nullable=False),  # tier, exhausted
    Column("tier", Integer, nullable=True),
    Column("round", Integer, nullable=True),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("done_at", UTCDateTime(), nullable=True),
    Column("outcome", String(40), nullable=True),  # fired, skipped_empty, cancelled, deferred
    Index("ix_paging_timers_pending", "done_at", "due_at"),
    # Reports: tiers found empty and paging run out, by due time (a few rows of the table).
    Index(
        "ix_paging_timers_empty_or_exhausted",
        "due_at",
        postgresql_include=["session_id", "kind", "tier"],
        postgresql_where=text("outcome IN ('skipped_empty', 'exhausted')"),
        sqlite_where=text("outcome IN ('skipped_empty', 'exhausted')"),
    ),
)

SENT_PAGES = "purpose = 'page' AND status = 'sent'"
pages = Table(
    "paging_pages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(160), nullable=False),  # idempotency key: session/tier/round/user/channel
    Column("session_id", String(36), nullable=False, index=True),
    Column("user_id", Integer, nullable=False),
    Column("user_name", String(200), nullable=False),
    Column("channel", String(10), nullable=False),
    # page: asks a radiologist to supervise; stat: the same, for a contrast reaction; alert: tells
    # a supervisor that paging ran out (tier -1) or that a reaction summoned help (tier -2)
    Column("purpose", String(8), nullable=False, server_default="page"),
    Column("tier", Integer, nullable=False),
    Column("round", Integer, nullable=False),
    Column(
        "status", String(12), nullable=False
    ),  # pending, sending, sent, failed, skipped, cancelled
    Column("detail", String(200), nullable=True),  # why skipped / failed
    Column(
        "address", String(64), nullable=True
    ),  # phone number for sms/voice; never shown to techs
    Column("created_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("carrier_ref", String(64), nullable=True),
    Column("dispatch_lag_ms", Float, nullable=True),
    Column("error", Text, nullable=True),
    # Of a sent page: whether it interrupted its person (no sent page to them in the minute
    # before, from any session) and whether it was the first to them for its session. Written
    # when the session ends (signaling.reports.marks); NULL before.
    Column("interrupts", Boolean, nullable=True),
    Column("first_to_person", Boolean, nullable=True),
    UniqueConstraint("key"),
    Index("ix_paging_pages_outbox", "status", "due_at"),
    # The service's reports read the sent pages of a period's sessions from the index alone: by
    # time for many sessions, by session for few.
    Index(
        "ix_paging_pages_sent",
        "created_at",
        postgresql_include=["id", "session_id", "user_id", "tier", "sent_at"],
        postgresql_where=text(SENT_PAGES),
        sqlite_where=text(SENT_PAGES),
    ),
    Index(
        "ix_paging_pages_sent_session",
        "session_id",
        postgresql_include=[
            "user_id",
            "tier",
            "sent_at",
            "id",
            "created_at",
            "interrupts",
            "first_to_person",
        ],
        postgresql_where=text(SENT_PAGES),
        sqlite_where=text(SENT_PAGES),
    ),
    # A person's sent pages in time order (the minute rule of the marks).
    Index(
        "ix_paging_pages_person_sent",
        "user_id",
        "sent_at",
        postgresql_where=text(SENT_PAGES),
        sqlite_where=text(SENT_PAGES),
    ),
    # The radiologist-load report reads the pages that interrupted and each first page to a
    # person from these alone.
    Index(
        "ix_paging_pages_interrupts",
        "created_at",
        postgresql_include=["session_id", "user_id", "sent_at"],
        postgresql_where=text(f"{SENT_PAGES} AND interrupts"),
        sqlite_where=text(f"{SENT_PAGES} AND interrupts"),
    ),
    Index(
        "ix_paging_pages_first_to_person",
        "created_at",
        postgresql_include=["session_id", "user_id", "sent_at"],
        postgresql_where=text(f"{SENT_PAGES} AND first_to_person"),
        sqlite_where=text(f"{SENT_PAGES} AND first_to_person"),
    ),
    # Reports read a period's pages by creation time (written in time order: BRIN on PostgreSQL).
    Index("ix_paging_pages_created_at", "created_at", postgresql_using="brin"),
)

inbound = Table(
    "paging_inbound",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(80), nullable=False),  # sms:<MessageSid>, voice:<CallSid>:<Digits>
    Column("received_at", UTCDateTime(), nullable=False),
    Column("answer", String(400), nullable=True),  # what the first delivery was told
    UniqueConstraint("key"),
)


# SQLSTATE classes that mean the connection, not the query: 08 connection exception, 57 operator
# intervention (admin shutdown, crash shutdown, cannot connect now), 53 insufficient resources.
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached now (refused, reset, shut down, out of
    connections, timed out), as opposed to a statement it refused (a constraint, a bug): the first
    is worth a 503 and a retry, the second is not."""
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(exc, OSError):  # refused, reset, unreachable: raised as it is by the driver
        return _raised_by_the_database_layer(exc)
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, sa_exc.InterfaceError):
        return True
    cause = exc.orig
    if isinstance(cause, OSError):
        return True
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if isinstance(sqlstate, str):
        return sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES
    # SQLite has no SQLSTATE: a locked or unopenable file is an OperationalError.
    return isinstance(exc, sa_exc.OperationalError)


_DATABASE_LAYER = ("sqlalchemy.", "asyncpg.", "aiosqlite.", "sqlite3")


def _raised_by_the_database_layer(exc: BaseException) -> bool:
    """An ``OSError`` that came up through the database driver, not from a file or another socket."""
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(_DATABASE_LAYER):
            return True
        tb = tb.tb_next
    return False
