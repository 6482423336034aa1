"""Latency stats of a scope's sessions under several groupings at once.

PostgreSQL's are grouped from the packed facts kept per facility and day (``fact_groups``: one
``GROUPING SETS`` statement with ``percentile_cont`` took more than 10 s over a year of fifty
facilities); SQLite's sessions are read and grouped here. Both give the same numbers: the same
rows, the same interpolation, exact seconds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from operator import attrgetter

from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports import fact_groups, latency_stats, marks
from signaling.reports.breakdowns import Key
from signaling.reports.fact_groups import Grouping, Groups
from signaling.reports.latency_stats import LatencyStats
from signaling.reports.percentiles import is_postgres
from signaling.reports.scope import Scope
from signaling.reports.session_facts import Fact, read_facts


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
