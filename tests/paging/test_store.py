"""What counts as "the database is unavailable": worth a 503 and a retry, unlike a refused statement."""

from __future__ import annotations

import pytest
import sqlalchemy
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import create_async_engine

from paging.store import database_unavailable
from tests.live import free_port


async def _error_from(url: str, sql: str = "SELECT 1") -> BaseException:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(sqlalchemy.text(sql))
    except Exception as exc:
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("no error")


async def test_a_refused_connection_is_unavailable() -> None:
    """Nothing listens on the port: the driver's ConnectionRefusedError counts."""
    exc = await _error_from(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x")
    assert isinstance(exc, OSError)
    assert database_unavailable(exc)


async def test_a_statement_the_database_refuses_is_not() -> None:
    """A bad statement is a bug, not an outage (a 500, not a retry)."""
    exc = await _error_from("postgresql+asyncpg://postgres@127.0.0.1:5432/postgres", "SELEC 1")
    assert isinstance(exc, sa_exc.ProgrammingError)
    assert not database_unavailable(exc)


def test_other_errors_are_not() -> None:
    """An OSError from elsewhere (a file, another socket) and plain errors are not the database's."""
    with pytest.raises(FileNotFoundError) as missing:
        open("/nonexistent/standby/file")  # noqa: SIM115
    assert not database_unavailable(missing.value)
    assert not database_unavailable(ValueError("no"))
    assert not database_unavailable(sa_exc.IntegrityError("INSERT", {}, Exception("duplicate")))
    assert database_unavailable(sa_exc.TimeoutError("pool"))
