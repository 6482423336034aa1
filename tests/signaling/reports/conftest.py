"""Fixtures of the report tests: one seeded database of each kind per test module, and a session
on it whose transaction is rolled back after each test (so each test inserts its own sessions)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.storage.database import make_engine
from tests.conftest import RUN_ID, _pg, drop_pg_database, pg_url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database with tests/directory.yaml loaded, of each kind, for one test module."""
    if request.param == "sqlite":
        target = tmp_path_factory.mktemp("reports") / "standby.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"standby_test_{RUN_ID}_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield pg_url(name)
    finally:
        asyncio.run(drop_pg_database(name))


@pytest.fixture
async def db(module_database: str) -> AsyncIterator[AsyncSession]:
    """A session in a transaction that is rolled back afterwards: what a test inserts is seen by
    the reports it runs, and gone for the next test."""
    engine = make_engine(module_database)
    try:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            session = AsyncSession(bind=connection, expire_on_commit=False)
            try:
                yield session
            finally:
                await session.close()
                await transaction.rollback()
    finally:
        await engine.dispose()
