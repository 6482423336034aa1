"""Fixtures: every server test runs against SQLite and against PostgreSQL, each in its own database."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis

from signaling.config import Environment, Settings
from signaling.directory.file import load_directory, read_directory
from signaling.storage.database import make_engine, make_session_factory, migrate
from tests.live import LiveServer, free_port, run_server

HERE = Path(__file__).parent
PG_ADMIN_DSN = os.environ.get(
    "STANDBY_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("STANDBY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:8]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never depend on the shell: no STANDBY_* variable leaks in."""
    for name in list(os.environ):
        if name.startswith("STANDBY_") and not name.startswith("STANDBY_TEST_"):
            monkeypatch.delenv(name)


async def _seed(database_url: str) -> None:
    await asyncio.to_thread(migrate, database_url)
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as db, db.begin():
            await load_directory(db, read_directory(HERE / "directory.yaml"))
    finally:
        await engine.dispose()


def pg_url(name: str) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def _pg(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def drop_pg_database(name: str) -> None:
    await _pg(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' "  # noqa: S608
        "AND pid <> pg_backend_pid()"
    )
    await _pg(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_seed(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"standby_test_tpl_{RUN_ID}"
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    try:
        asyncio.run(_seed(pg_url(name)))
        yield name
    finally:
        asyncio.run(drop_pg_database(name))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, seeded database of each kind for this one test."""
    yield from fresh_database(request, tmp_path, request.param)


def fresh_database(request: pytest.FixtureRequest, directory: Path, kind: str) -> Iterator[str]:
    """A fresh, migrated, seeded database of ``kind`` (sqlite, postgresql; a SQLite file goes in
    ``directory``), dropped afterwards."""
    if kind == "sqlite":
        target = directory / "standby.db"
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


def make_settings(database_url: str, port: int, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": Environment.TEST,
        "secret_key": secrets.token_urlsafe(48),
        "database_url": database_url,
        "public_base_url": f"http://127.0.0.1:{port}",
        "ice_servers": [],
        "redis_prefix": f"standby-test-{uuid.uuid4().hex}:",
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """A real uvicorn on a free loopback port, in-process bus, fresh database."""
    port = free_port()
    with run_server(make_settings(database_url, port), port) as live:
        yield live


@pytest.fixture
async def db_session(server: LiveServer) -> AsyncIterator[object]:
    """A database session on the server's database, to check what it stored."""
    engine = make_engine(server.settings.database_url)
    try:
        async with make_session_factory(engine)() as db:
            yield db
    finally:
        await engine.dispose()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own; nothing may be left under it afterwards."""
    prefix = f"standby-test-{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    leftovers = list(client.scan_iter(f"{prefix}*"))
    client.close()
    assert leftovers == [], "tests leave nothing behind in Redis"
