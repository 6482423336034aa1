"""Percentiles the same way on both databases: PostgreSQL's ``percentile_cont`` (linear between
the two nearest values), and the same interpolation in Python where SQLite has no such function."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession


def percentile_cont(sorted_values: Sequence[float], q: float) -> float | None:
    """PostgreSQL's ``percentile_cont(q)`` over already sorted values; None for no values."""
    if not sorted_values:
        return None
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a percentile is between 0 and 1, not {q}")
    position = q * (len(sorted_values) - 1)
    low = math.floor(position)
    high = math.ceil(position)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


def is_postgres(db: AsyncSession) -> bool:
    return db.get_bind().dialect.name == "postgresql"


async def percentiles(
    db: AsyncSession,
    value: ColumnElement[float],
    where: Select[tuple[float]] | None,
    qs: Sequence[float],
) -> list[float | None]:
    """``qs`` percentiles of ``value`` over the rows of ``where`` (a ``select(value)...`` with its
    FROM and WHERE; rows whose value is NULL are ignored). In the database on PostgreSQL; on
    SQLite the values are read sorted and interpolated the same way."""
    base = where if where is not None else select(value)
    if is_postgres(db):
        sub = base.where(value.is_not(None)).subquery()
        column = sub.c[0]
        row = (
            await db.execute(select(*(func.percentile_cont(q).within_group(column) for q in qs)))
        ).one()
        return [None if v is None else float(v) for v in row]
    rows = await db.scalars(base.where(value.is_not(None)).order_by(value))
    values = [float(v) for v in rows]
    return [percentile_cont(values, q) for q in qs]


def seconds_between(
    db: AsyncSession, start: ColumnElement[Any], end: ColumnElement[Any]
) -> ColumnElement[float]:
    """``end - start`` in seconds (NULL if either is), on either database. On PostgreSQL through
    ``date_part`` (a double: ``EXTRACT`` returns numeric since version 14, about 40 % slower over a
    year of sessions). SQLite stores the UTC columns as ``YYYY-MM-DD HH:MM:SS.ffffff`` text:
    ``julianday`` reads it to the millisecond."""
    if is_postgres(db):
        return func.date_part("epoch", end - start, type_=Float)
    return (func.julianday(end) - func.julianday(start)) * 86400.0
