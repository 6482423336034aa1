"""Engine, session factory and migrations for SQLite (development) and PostgreSQL (production)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    from alembic.config import Config

SessionFactory = async_sessionmaker[AsyncSession]


def make_engine(database_url: str) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        # One connection per process, handed out in turn: SQLite has one writer at a time, and
        # writers queueing in SQLite's busy handler (which sleeps and polls) cost seconds under
        # load, while an asyncio queue for the connection costs nothing. Never hold a session
        # while opening another (the second would wait for the first): ``pool_timeout`` turns
        # such a mistake into an error instead of a hang.
        engine = create_async_engine(
            database_url,
            connect_args={"timeout": 30},
            pool_size=1,
            max_overflow=0,
            pool_timeout=20,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives the process dying; only an OS crash or power loss can
            # lose the last commits. Production runs on PostgreSQL.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(database_url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def make_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


# Alembic (and the Mako and Pygments it brings) is imported only to migrate: a worker that serves
# without migrating never needs it, and it was about 0.4 s of a start (`python -X importtime`).


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "signaling.storage:migrations")
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["database_url"] = database_url
    return config


def migrate(database_url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``. Blocking: call from a thread or a CLI, not the event loop."""
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


async def migrate_async(database_url: str, revision: str = "head") -> None:
    await asyncio.to_thread(migrate, database_url, revision)
