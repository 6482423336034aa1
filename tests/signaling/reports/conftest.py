"""Fixtures of the report tests: one seeded database of each kind per test module, and a session
on it whose transaction is rolled back after each test (so each test inserts its own sessions)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.storage.database import make_engine
from tests.conftest import fresh_database


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database with tests/directory.yaml loaded, of each kind, for one test module."""
    yield from fresh_database(request, tmp_path_factory.mktemp("reports"), request.param)


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
