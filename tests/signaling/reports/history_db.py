"""Fresh databases for the history's tests: migrated, with a directory loaded, one of each kind."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from signaling.directory.file import DirectoryFile, load_directory
from signaling.storage.database import make_engine, make_session_factory, migrate
from tests.conftest import RUN_ID, _pg, drop_pg_database, pg_url


async def _load(url: str, directory: DirectoryFile) -> None:
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as db, db.begin():
            await load_directory(db, directory)
    finally:
        await engine.dispose()


@contextmanager
def fresh_database(kind: str, where: Path, directory: DirectoryFile) -> Iterator[str]:
    """A new database of ``kind`` (sqlite, postgresql) holding ``directory``; dropped after."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{where / f'history-{uuid.uuid4().hex[:8]}.db'}"
        asyncio.run(_load(url, directory))
        yield url
        return
    name = f"standby_test_{RUN_ID}_hist_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    try:
        asyncio.run(_load(pg_url(name), directory))
        yield pg_url(name)
    finally:
        asyncio.run(drop_pg_database(name))
