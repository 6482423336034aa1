"""Percentiles per group (a period and a channel, a severity), the same way on both databases:
PostgreSQL's ``percentile_cont ... GROUP BY`` in the database, and on SQLite the values read sorted
by group and interpolated as ``percentiles.percentile_cont`` does."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports.percentiles import is_postgres, percentile_cont


async def percentiles_by(
    db: AsyncSession, rows: Select[*tuple[Any, ...]], qs: Sequence[float]
) -> dict[tuple[Any, ...], list[float | None]]:
    """For each group of ``rows`` (a ``select(key, ..., value)`` with its FROM and WHERE: every
    column but the last is the group's key), the ``qs`` percentiles of the last; rows whose value is
    NULL are ignored, and a group with none is absent. ``q = 1.0`` is the largest value."""
    sub = rows.subquery()
    *keys, value = sub.c
    if is_postgres(db):
        result = await db.execute(
            select(*keys, *(func.percentile_cont(q).within_group(value) for q in qs))
            .where(value.is_not(None))
            .group_by(*keys)
        )
        width = len(keys)
        return {
            tuple(row[:width]): [None if v is None else float(v) for v in row[width:]]
            for row in result
        }
    values: dict[tuple[Any, ...], list[float]] = {}
    for *k, v in await db.execute(
        select(*keys, value).where(value.is_not(None)).order_by(*keys, value)
    ):
        values.setdefault(tuple(k), []).append(float(v))
    return {k: [percentile_cont(vs, q) for q in qs] for k, vs in values.items()}


Shape = Callable[[Select[*tuple[Any, ...]]], Select[*tuple[Any, ...]]]


@dataclass(frozen=True)
class Groups:
    """What ``grouped`` found: per group its aggregates and percentiles; per group of the leading
    keys (the roll-up) the percentiles over all its groups."""

    aggregates: dict[tuple[Any, ...], tuple[Any, ...]]
    percentiles: dict[tuple[Any, ...], list[float | None]]
    rolled_up: dict[tuple[Any, ...], list[float | None]]


async def grouped(
    db: AsyncSession,
    shape: Shape,
    keys: Sequence[Any],  # columns or expressions
    aggregates: Sequence[ColumnElement[Any]],
    value: ColumnElement[Any],
    qs: Sequence[float],
    rollup: int | None = None,
) -> Groups:
    """Per group of ``keys``, the ``aggregates`` and the ``qs`` percentiles of ``value`` (NULL
    values ignored), over ``shape(select(...))`` (which adds the FROM, joins and WHERE); with
    ``rollup``, also the percentiles per group of the first ``rollup`` keys. One statement on
    PostgreSQL (GROUPING SETS for the roll-up; key values are never NULL); on SQLite the
    aggregates in one and the values read sorted."""
    width = len(keys)
    if is_postgres(db):
        pct = [func.percentile_cont(q).within_group(value) for q in qs]
        sets = [tuple_(*keys)]
        if rollup is not None:
            sets.append(tuple_(*keys[:rollup]))
        marker = func.grouping(*keys[rollup:]) if rollup is not None else literal(0)
        rows = await db.execute(
            shape(select(*keys, marker, *aggregates, *pct)).group_by(func.grouping_sets(*sets))
        )
        found = Groups({}, {}, {})
        for row in rows:
            key, rolled = tuple(row[:width]), row[width]
            values = [None if v is None else float(v) for v in row[width + 1 + len(aggregates) :]]
            if rolled:
                found.rolled_up[key[:rollup]] = values
            else:
                found.aggregates[key] = tuple(row[width + 1 : width + 1 + len(aggregates)])
                found.percentiles[key] = values
        return found
    rows = await db.execute(shape(select(*keys, *aggregates)).group_by(*keys))
    aggregated = {tuple(row[:width]): tuple(row[width:]) for row in rows}
    per_group = await percentiles_by(db, shape(select(*keys, value)), qs)
    rolled_up = (
        await percentiles_by(db, shape(select(*keys[:rollup], value)), qs)
        if rollup is not None
        else {}
    )
    return Groups(aggregated, per_group, rolled_up)
