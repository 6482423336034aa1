"""Alembic environment: runs migrations over the async engine for either database."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from paging import store as paging_store
from signaling.storage.database import make_engine
from signaling.storage.models import Base

# The service's tables and the pager's (declared in paging/, which may not import signaling).
target_metadata = [Base.metadata, paging_store.metadata]


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = make_engine(context.config.attributes["database_url"])
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_run_async())
    else:  # pragma: no cover - only when someone calls alembic inside a loop
        raise RuntimeError(
            "run migrations through signaling.storage.database.migrate_async, not inside a loop"
        )


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run `standby migrate`")
run_migrations_online()
