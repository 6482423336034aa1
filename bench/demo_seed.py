"""How long the demo's first start takes to seed its months of history (`standby demo`, item 11 of
issue 11: "fast"), on the demo's own SQLite file and on PostgreSQL, each run into a fresh database
holding the demo directory. Printed per kind: sessions and rows written, then median / p90 / max
seconds over the runs, beside the bare migration of the same empty database (the floor any first
start pays). A measurement, not a test.

    .venv/bin/python bench/demo_seed.py --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.reports_data import create_database, drop_database  # noqa: E402
from signaling.directory.file import DirectoryFile, load_directory, parse_directory  # noqa: E402
from signaling.reports.history.demo import seed_history  # noqa: E402
from signaling.storage.database import make_engine, make_session_factory, migrate  # noqa: E402

NOW = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)


async def _one(url: str, directory: DirectoryFile) -> tuple[float, float, int, int]:
    started = time.perf_counter()
    await asyncio.to_thread(migrate, url)
    migrated = time.perf_counter() - started
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        async with factory() as db, db.begin():
            await load_directory(db, directory)
        started = time.perf_counter()
        async with factory() as db, db.begin():
            generated = await seed_history(db, NOW)
        seeded = time.perf_counter() - started
    finally:
        await engine.dispose()
    assert generated is not None  # a fresh database has no history yet
    return migrated, seeded, generated.sessions, generated.total_rows


async def _run(kind: str, directory: DirectoryFile, where: Path, i: int) -> tuple[float, ...]:
    if kind == "sqlite":
        return await _one(f"sqlite+aiosqlite:///{where / f'demo-{i}.db'}", directory)
    name, url = await create_database()
    try:
        return await _one(url, directory)
    finally:
        await drop_database(name)


def _figures(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):6.2f} / {p90:6.2f} / {ordered[-1]:6.2f}"


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kind", action="append", choices=["sqlite", "postgresql"], default=[])
    args = parser.parse_args()
    directory = parse_directory(files("signaling").joinpath("demo_directory.yaml").read_text())
    print("seconds as median / p90 / max over", args.runs, "runs")
    print(f"{'database':<11} {'sessions':>8} {'rows':>8}  {'migrate (floor)':>24}  {'seed':>24}")
    for kind in args.kind or ["sqlite", "postgresql"]:
        migrated, seeded = [], []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(args.runs):
                m, s, sessions, rows = await _run(kind, directory, Path(tmp), i)
                migrated.append(m)
                seeded.append(s)
        print(
            f"{kind:<11} {sessions:>8} {rows:>8}  {_figures(migrated):>24}  {_figures(seeded):>24}"
        )


if __name__ == "__main__":
    asyncio.run(main())
