"""Coverage forecast benchmark: the `forecast` report over 50 facilities x 336 hours.

    .venv/bin/python bench/forecast.py                         # SQLite in a temporary directory
    .venv/bin/python bench/forecast.py --database postgresql   # a scratch database on 127.0.0.1

Builds a directory of ``--facilities`` facilities in seven states and six time zones (one without
daylight saving), 3 radiologists per facility licensed in its state (one in ten of those licenses
expiring inside the fortnight) and privileged at it and a neighbour, a primary schedule per facility
(12-hour shifts; every fifth facility covered 07:00-22:00 only, so its nights are holes), a backup
schedule per group of five facilities (weekly shifts, with an override), each facility's policy
naming its primary, its group's backup and the pool. Then times ``forecast.report`` over all of
them (``--runs`` times, after one warm-up run) and prints min / median / max in milliseconds with
the size of what it returned, and the CPU time of this process alone (on a shared machine the
wall-clock figures include waiting for a core). A measurement, not a test: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import yaml
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from signaling.directory.file import load_directory, parse_directory  # noqa: E402
from signaling.reports import forecast  # noqa: E402
from signaling.reports.scope import Period, Scope  # noqa: E402
from signaling.storage.database import make_engine, make_session_factory, migrate  # noqa: E402
from signaling.storage.models import Facility  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PLACES = [
    ("TX", "America/Chicago"),
    ("NY", "America/New_York"),
    ("CA", "America/Los_Angeles"),
    ("FL", "America/New_York"),
    ("IL", "America/Chicago"),
    ("CO", "America/Denver"),
    ("AZ", "America/Phoenix"),
]
NOW = datetime(2026, 10, 26, 15, 20, tzinfo=UTC)  # the fortnight holds the 1 November change


def directory(count: int) -> dict[str, Any]:
    facilities, users, schedules = [], [], []
    expiring = NOW.date() + timedelta(days=6)
    for i in range(count):
        state, zone = PLACES[i % len(PLACES)]
        code, group = f"F{i:02d}", f"G{i // 5}"
        neighbour = f"F{(i + 1) % count:02d}"
        people = [f"dr{i:02d}{k}" for k in range(3)]
        for k, username in enumerate(people):
            expires = expiring if (i * 3 + k) % 10 == 0 else date(2030, 12, 31)
            users.append(
                {
                    "username": username,
                    "full_name": f"Dr {username.title()}",
                    "roles": ["radiologist"],
                    "licenses": [
                        {"state": s, "number": f"{s}-{username}", "expires": expires}
                        for s in {state, PLACES[(i + 1) % len(PLACES)][0]}
                    ],
                    "privileges": [code, neighbour],
                    "max_concurrent": 2,
                }
            )
        rotation: dict[str, Any] = {
            "name": "main",
            "participants": people,
            "start": "2026-01-01T07:00",
            "shift": "12h",
        }
        if i % 5 == 0:
            every = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            rotation["windows"] = [{"days": every, "start": "07:00", "end": "22:00"}]
        schedules.append(
            {
                "code": f"{code}-PRIMARY",
                "timezone": zone,
                "facilities": [code],
                "rotations": [rotation],
            }
        )
        facilities.append(
            {
                "code": code,
                "name": f"Facility {i:02d}",
                "state": state,
                "timezone": zone,
                "escalation": {
                    "tiers": [
                        {
                            "delay_s": 0,
                            "targets": [{"kind": "schedule", "schedule": f"{code}-PRIMARY"}],
                            "channels": ["in_app", "sms"],
                        },
                        {
                            "delay_s": 10,
                            "targets": [{"kind": "schedule", "schedule": f"{group}-BACKUP"}],
                            "channels": ["in_app", "sms"],
                        },
                        {"delay_s": 20, "targets": [{"kind": "pool"}], "channels": ["in_app"]},
                    ]
                },
            }
        )
    for g in range((count + 4) // 5):
        members = [u["username"] for u in users[g * 15 : g * 15 + 15 : 5]]
        schedules.append(
            {
                "code": f"G{g}-BACKUP",
                "timezone": "America/Chicago",
                "rotations": [
                    {
                        "name": "weekly",
                        "participants": members,
                        "start": "2026-01-05T08:00",
                        "shift": "7d",
                    }
                ],
                "overrides": [
                    {
                        "user": members[-1],
                        "replaces": members[0],
                        "start": "2026-10-30T18:00-05:00",
                        "end": "2026-11-02T08:00-06:00",
                    }
                ],
            }
        )
    return {"facilities": facilities, "users": users, "schedules": schedules}


async def measure(url: str, facilities: int, runs: int) -> None:
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        async with factory() as db, db.begin():
            text = yaml.safe_dump(directory(facilities))
            await load_directory(db, parse_directory(text, "bench"))
        async with factory() as db:
            ids = frozenset(await db.scalars(select(Facility.id)))
            scope = Scope(ids, Period(NOW - timedelta(days=7), NOW))
            await forecast.report(db, scope, NOW)
            timings, cpu = [], []
            for _ in range(runs):
                began, began_cpu = time.perf_counter(), time.process_time()
                report = await forecast.report(db, scope, NOW)
                timings.append((time.perf_counter() - began) * 1000)
                cpu.append((time.process_time() - began_cpu) * 1000)
    finally:
        await engine.dispose()
    sizes = ", ".join(f"{t.key} {len(t.rows)}" for t in report.tables)
    cards = ", ".join(f"{c.key} {c.value}" for c in report.cards)
    print(f"{engine.dialect.name}: {len(ids)} facilities, rows: {sizes}; cards: {cards}")
    print(
        f"forecast.report: min {min(timings):.0f} ms, median {statistics.median(timings):.0f} ms,"
        f" max {max(timings):.0f} ms over {runs} runs (this process's CPU: median"
        f" {statistics.median(cpu):.0f} ms)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--facilities", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.database == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            await measure(f"sqlite+aiosqlite:///{tmp}/bench.db", args.facilities, args.runs)
        return
    name = f"standby_bench_forecast_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await measure(
            f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", args.facilities, args.runs
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
