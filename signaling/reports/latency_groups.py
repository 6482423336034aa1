"""Latency stats of a scope's sessions under several GROUP BYs at once.

PostgreSQL answers all of them in one statement (``GROUPING SETS`` over the facts, percentiles by
``percentile_cont``), reading the period's sessions once; SQLite's facts are read and grouped here.
Both give the same numbers: the same rows, the same interpolation, exact seconds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from sqlalchemy import Select, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import func

from signaling.reports import fact_groups, latency_stats, marks
from signaling.reports.breakdowns import Key
from signaling.reports.latency_stats import LatencyStats
from signaling.reports.percentiles import is_postgres
from signaling.reports.scope import Scope
from signaling.reports.session_facts import Fact, facts_query, read_facts

Grouping = tuple[str, ...]
Groups = dict[Grouping, dict[Key, LatencyStats]]


async def grouped(db: AsyncSession, scope: Scope, groupings: Sequence[Grouping]) -> Groups:
    """For each grouping (field names of ``Fact``; ``()`` is the total), the stats of each key
    that has sessions. The total is always there, with zero sessions if there are none."""
    await marks.settle(db)
    if is_postgres(db):
        groups = await fact_groups.grouped(db, scope, groupings)
    else:
        groups = _in_python(await read_facts(db, scope), groupings)
    if () in groupings:
        groups.setdefault((), {}).setdefault((), LatencyStats())
    return groups


def _in_python(facts: list[Fact], groupings: Sequence[Grouping]) -> Groups:
    groups: Groups = {}
    for grouping in groupings:
        by_key: dict[Key, list[float | None]] = defaultdict(list)
        key_of = attrgetter(*grouping) if grouping else None
        for fact in facts:
            if key_of is None:
                key: Key = ()
            elif len(grouping) == 1:
                key = (key_of(fact),)
            else:
                key = key_of(fact)
            by_key[key].append(fact.latency)
        groups[grouping] = {k: latency_stats.of_latencies(v) for k, v in by_key.items()}
    return groups


async def grouping_query(
    db: AsyncSession, scope: Scope, groupings: Sequence[Grouping]
) -> tuple[Select[*tuple[Any, ...]], list[str], dict[int, Grouping]]:
    """PostgreSQL: one statement for every grouping: the fields it selects after the GROUPING()
    mask, and which grouping each mask means. (Also what EXPLAIN is run on.)"""
    fields = list(dict.fromkeys(f for g in groupings for f in g))
    facts = (await facts_query(db, scope, totals=not fields)).subquery("facts")
    columns = [facts.c[f] for f in fields]
    aggregates = latency_stats.aggregates(facts.c.latency)
    if not columns:  # the totals alone (a previous period's cards)
        return select(literal(0), *aggregates), [], {0: ()}
    # GROUPING(a, b, ...) has a bit set for each argument NOT grouped by, the last argument the
    # lowest bit: each grouping set is known by its mask.
    width = len(fields)
    masks = {
        sum(1 << (width - 1 - i) for i, f in enumerate(fields) if f not in g): g for g in groupings
    }
    sets = [tuple_(*(facts.c[f] for f in g)) for g in groupings]
    query = select(func.grouping(*columns), *columns, *aggregates).group_by(
        func.grouping_sets(*sets)
    )
    return query, fields, masks


async def _in_database(db: AsyncSession, scope: Scope, groupings: Sequence[Grouping]) -> Groups:
    query, fields, masks = await grouping_query(db, scope, groupings)
    width = len(fields)
    groups: Groups = {g: {} for g in groupings}
    for row in await db.execute(query):
        grouping = masks[int(row[0])]
        values = dict(zip(fields, row[1 : 1 + width], strict=True))
        key = tuple(values[f] for f in grouping)
        stats = latency_stats.from_row(row[1 + width :])
        if stats.sessions or grouping == ():
            groups[grouping][key] = stats
    return groups
