"""Times every report of the catalog (`signaling/reports/catalog.py`) on a year of history in
PostgreSQL, with a bare count of the same sessions as the floor, in the same run.

    .venv/bin/python bench/reports.py --database standby_bench_1a2b3c4d   # kept by reports_data.py --keep
    .venv/bin/python bench/reports.py --sessions 100000                  # generate one first (dropped after)

Scopes: every facility and the busiest one, over the last 30 days and over the whole year (up to
`reports_data.END`, the reports' `now`). Each report runs once unmeasured (warm cache), then
`--runs` times (default 5), each in its own database session (`--report KEY` and `--scope
all-30|all-year|one-30|one-year` choose a subset); printed: median and p95 (nearest
rank: with 5 runs, the slowest) in milliseconds. The floor is
`SELECT count(*) FROM supervision_sessions WHERE facility_id = ANY(...) AND requested_at in the
period`, timed the same way. A measurement, not a test. Aim: every report under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import math
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import reports_data  # noqa: E402

from signaling.reports.scope import Period, Scope  # noqa: E402
from signaling.storage.database import SessionFactory, make_engine, make_session_factory  # noqa: E402
from signaling.storage.models import Facility, SupervisionSession  # noqa: E402

Run = Callable[[], Awaitable[Any]]


def _catalog() -> dict[str, Callable[..., Awaitable[Any]]] | None:
    try:
        module = importlib.import_module("signaling.reports.catalog")
    except ImportError:
        return None
    reports: dict[str, Callable[..., Awaitable[Any]]] = module.catalog()
    return reports


async def _timed(run: Run, runs: int) -> list[float]:
    await run()  # warm-up, not counted
    spent = []
    for _ in range(runs):
        started = time.perf_counter()
        await run()
        spent.append((time.perf_counter() - started) * 1000.0)
    return sorted(spent)


def _figures(spent: list[float]) -> str:
    p95 = spent[max(0, math.ceil(0.95 * len(spent)) - 1)]
    return f"{statistics.median(spent):>9.1f} {p95:>9.1f}"


SCOPES = ("all-30", "all-year", "one-30", "one-year")  # the names --scope takes, in order


async def _scopes(factory: SessionFactory, now: datetime) -> list[tuple[str, str, Scope]]:
    async with factory() as db:
        every = frozenset((await db.scalars(select(Facility.id))).all())
        busiest, code = (
            await db.execute(
                select(SupervisionSession.facility_id, Facility.code)
                .join(Facility, Facility.id == SupervisionSession.facility_id)
                .group_by(SupervisionSession.facility_id, Facility.code)
                .order_by(func.count().desc())
                .limit(1)
            )
        ).one()
    month = Period(now - timedelta(days=30), now)
    year = Period(now - timedelta(days=365), now)
    one = frozenset({busiest})
    return [
        ("all-30", f"all {len(every)}, 30 days", Scope(every, month)),
        ("all-year", f"all {len(every)}, year", Scope(every, year)),
        ("one-30", f"{code}, 30 days", Scope(one, month)),
        ("one-year", f"{code}, year", Scope(one, year)),
    ]


async def bench(url: str, runs: int, only: set[str], scopes: set[str]) -> None:
    now = reports_data.END
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        reports = _catalog()
        if reports is None:
            print("signaling/reports/catalog.py is not there yet: only the floor is timed")
            reports = {}
        if only:
            reports = {k: v for k, v in reports.items() if k in only}
        print(f"{'report':<20} {'scope':<22} {'median ms':>9} {'p95 ms':>9}  rows")
        for name, label, scope in await _scopes(factory, now):
            if scopes and name not in scopes:
                continue

            async def floor(scope: Scope = scope) -> int:
                async with factory() as db:
                    count = await db.scalar(
                        select(func.count())
                        .select_from(SupervisionSession)
                        .where(
                            SupervisionSession.facility_id.in_(scope.facility_ids),
                            SupervisionSession.requested_at >= scope.period.start,
                            SupervisionSession.requested_at < scope.period.end,
                        )
                    )
                    return int(count or 0)

            sessions = await floor()
            print(
                f"{'(floor: count)':<20} {label:<22} {_figures(await _timed(floor, runs))}  {sessions:,}"
            )
            for key, report in reports.items():

                async def one(
                    report: Callable[..., Awaitable[Any]] = report, scope: Scope = scope
                ) -> Any:
                    async with factory() as db:
                        return await report(db, scope, now)

                try:
                    print(f"{key:<20} {label:<22} {_figures(await _timed(one, runs))}", flush=True)
                except Exception as exc:
                    print(f"{key:<20} {label:<22} failed: {exc!r}", flush=True)
        async with engine.connect() as conn:
            size = await conn.scalar(text("SELECT pg_database_size(current_database())"))
        print(f"database size {int(size or 0) / 2**20:,.0f} MiB")
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", help="an existing database (kept by reports_data.py --keep)")
    parser.add_argument(
        "--sessions", type=int, default=1_000_000, help="without --database: generate this many"
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--report", action="append", default=[], help="only these report keys")
    parser.add_argument("--scope", action="append", choices=SCOPES, default=[], help="only these")
    args = parser.parse_args()
    if args.database:
        await bench(
            f"postgresql+asyncpg://postgres@127.0.0.1:5432/{args.database}",
            args.runs,
            set(args.report),
            set(args.scope),
        )
        return
    name, url = await reports_data.create_database()
    try:
        loaded = await reports_data.load(name, url, args.sessions, 365, 1)
        print(reports_data.report(loaded))
        await bench(url, args.runs, set(args.report), set(args.scope))
    finally:
        await reports_data.drop_database(name)


if __name__ == "__main__":
    asyncio.run(main())
