"""A realistic year for the reports' benchmark: 50 facilities in ten states and four time zones,
their rooms, radiologists, technologists, supervisors and schedules, and at least 1,000,000
supervision sessions with everything a running service leaves (the pager's rows, each session's
sealed record, stored coverage), loaded into a fresh PostgreSQL database by COPY.

    .venv/bin/python bench/reports_data.py                       # 1,000,000 sessions, dropped at the end
    .venv/bin/python bench/reports_data.py --sessions 50000 --keep   # a smaller one, kept for bench/reports.py

The database is `standby_bench_<random>` on the machine's PostgreSQL (STANDBY_TEST_PG_DSN, default
postgresql://postgres@127.0.0.1:5432/postgres). Printed: rows per table, how long each phase took,
the database's size and the largest tables'. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from signaling.directory.file import DirectoryFile, load_directory  # noqa: E402
from signaling.reports.history import Generated, HistorySpec, Slow, generate  # noqa: E402
from signaling.storage.database import make_engine, make_session_factory, migrate  # noqa: E402
from signaling.storage.models import User  # noqa: E402

ADMIN_DSN = os.environ.get("STANDBY_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
END = datetime(2026, 12, 1, tzinfo=UTC)  # the year ends here (reports' `now`)
STATES = (  # state, time zone, region
    ("NY", "America/New_York", "east"),
    ("NJ", "America/New_York", "east"),
    ("FL", "America/New_York", "east"),
    ("GA", "America/New_York", "east"),
    ("IL", "America/Chicago", "central"),
    ("TX", "America/Chicago", "central"),
    ("CO", "America/Denver", "central"),
    ("AZ", "America/Phoenix", "west"),
    ("CA", "America/Los_Angeles", "west"),
    ("WA", "America/Los_Angeles", "west"),
)
TOWNS = ("Riverside", "Lakeview", "Hillcrest", "Oak Park", "Harbor")
FORMULARY = [
    {
        "code": code,
        "agent_class": kind,
        "product": product,
        "generic": generic,
        "concentration": strength,
    }
    for code, kind, product, generic, strength in (
        ("iohexol-300", "iodinated", "Omnipaque 300", "iohexol", "300 mgI/mL"),
        ("iohexol-350", "iodinated", "Omnipaque 350", "iohexol", "350 mgI/mL"),
        ("iopamidol-370", "iodinated", "Isovue 370", "iopamidol", "370 mgI/mL"),
        ("gadobutrol", "gadolinium", "Gadavist", "gadobutrol", "1 mmol/mL"),
        ("gadoterate", "gadolinium", "Dotarem", "gadoterate meglumine", "0.5 mmol/mL"),
    )
]
SLOW = ("rad-tx-2", "rad-fl-3")  # two radiologists who join late
ELSEWHERE = {"rad-ny-4": "Europe/London", "rad-ca-4": "Pacific/Honolulu"}  # their own zones


def directory() -> DirectoryFile:
    """The 50 facilities and their people; every radiologist licensed in their home state and in
    one or two more of their region, privileged where licensed (and, for a few, where they are not
    or no longer: the pager skips them, saying why)."""
    facilities: list[dict[str, Any]] = []
    users: list[dict[str, Any]] = [
        {"username": "admin", "full_name": "Bench Admin", "roles": ["admin"]}
    ]
    schedules: list[dict[str, Any]] = []
    region_states: dict[str, list[str]] = {}
    for state, _, region in STATES:
        region_states.setdefault(region, []).append(state)
    codes_in: dict[str, list[str]] = {}
    for n, (state, zone, _) in enumerate(STATES):
        codes = [f"{state}{i + 1}" for i in range(5)]
        codes_in[state] = codes
        for i, code in enumerate(codes):
            rooms = [{"code": "CT1", "name": "CT 1", "modality": "CT"}]
            rooms += [{"code": "MR1", "name": "MRI 1", "modality": "MR"}]
            if (n + i) % 2 == 0:
                rooms.append({"code": "CT2", "name": "CT 2", "modality": "CT"})
            if (n + i) % 5 == 0:
                rooms.append({"code": "MR2", "name": "MRI 2", "modality": "MR"})
            facilities.append(
                {
                    "code": code,
                    "name": f"{TOWNS[i]} Imaging ({state})",
                    "state": state,
                    "timezone": zone,
                    "rooms": rooms,
                    "monitor_media": (n + i) % 7 != 0,
                    "paging": {"primary": f"P-{state}", "backup": f"B-{state}"},
                    "exam_setup": {
                        "formulary": FORMULARY,
                        "require_verified_injection": i % 2 == 0,
                    },
                }
            )
            users += [
                {
                    "username": f"tech-{code.lower()}-{t}",
                    "full_name": f"Technologist {code}-{t}",
                    "roles": ["technologist"],
                    "facilities": [code],
                }
                for t in range(1, 4)
            ]
        users.append(
            {
                "username": f"super-{state.lower()}",
                "full_name": f"Supervisor {state}",
                "roles": ["supervisor"],
                "facilities": codes,
                "mobile": f"+1555020{n:04d}",
            }
        )
    radiologists: dict[str, list[str]] = {state: [] for state, _, _ in STATES}
    number = 0
    for state, _, region in STATES:
        neighbours = [s for s in region_states[region] if s != state]
        for r in range(1, 5):
            number += 1
            name = f"rad-{state.lower()}-{r}"
            licensed = [state, *neighbours[: r % 2]]  # half are licensed in a neighbour too
            licenses = [
                {"state": s, "number": f"{s}-{number:05d}", "expires": "2031-06-30"}
                for s in licensed
            ]
            privileges = [code for s in licensed for code in codes_in[s]]
            if r == 4:  # an old privilege where the license has lapsed: skipped, "license_expired"
                lapsed = neighbours[-1] if neighbours else state
                if lapsed not in licensed:
                    licenses.append(
                        {
                            "state": lapsed,
                            "number": f"{lapsed}-{number:05d}",
                            "expires": "2025-01-31",
                        }
                    )
                    privileges += codes_in[lapsed]
            for s in licensed:
                radiologists[s].append(name)
            users.append(
                {
                    "username": name,
                    "full_name": f"Dr {state} {r}",
                    "credentials": "MD",
                    "roles": ["radiologist"],
                    "licenses": licenses,
                    "privileges": privileges,
                    "mobile": None if number % 9 == 0 else f"+1555010{number:04d}",
                    "max_concurrent": 2,
                }
            )
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    for state, zone, _ in STATES:
        people = radiologists[state][:4]
        for code, turn in ((f"P-{state}", people), (f"B-{state}", people[1:] + people[:1])):
            rotation: dict[str, Any] = {
                "name": "daily",
                "participants": turn,
                "start": "2025-01-01T08:00",
                "shift": "24h",
            }
            if state == "AZ":  # Arizona's nights (21:00-07:00) are on no schedule: pool only
                rotation["windows"] = [{"days": every_day, "start": "07:00", "end": "21:00"}]
            schedules.append(
                {
                    "code": code,
                    "timezone": zone,
                    "facilities": codes_in[state],
                    "rotations": [rotation],
                }
            )
    return DirectoryFile.model_validate(
        {"facilities": facilities, "users": users, "schedules": schedules}
    )


@dataclass
class Loaded:
    database: str
    url: str
    generated: Generated
    seconds: dict[str, float]
    sizes: list[tuple[str, int]]  # the database, then its largest tables, in bytes


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database() -> tuple[str, str]:
    name = f"standby_bench_{secrets.token_hex(4)}"
    await _admin(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def drop_database(name: str) -> None:
    await _admin(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' "  # noqa: S608
        "AND pid <> pg_backend_pid()"
    )
    await _admin(f'DROP DATABASE IF EXISTS "{name}"')


BIG = (
    "supervision_sessions",
    "paging_runs",
    "paging_timers",
    "paging_pages",
    "paging_inbound",
    "session_accepts",
    "session_repages",
    "session_events",
    "record_chains",
)


async def set_keys_aside(url: str) -> list[str]:
    """Drop the history tables' secondary indexes, unique and foreign keys (as PostgreSQL's
    "Populating a Database" advises for a bulk load); the statements that put each back, exactly
    as the migrations made it, in the order to run them."""
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        constraints = await conn.fetch(
            "SELECT conname, conrelid::regclass::text AS tab, contype, pg_get_constraintdef(oid) AS def "
            "FROM pg_constraint WHERE contype IN ('f', 'u') AND conrelid::regclass::text = ANY($1)",
            list(BIG),
        )
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY($1) "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint) ",
            list(BIG),
        )
        for c in sorted(constraints, key=lambda c: c["contype"] != "f"):  # foreign keys first
            await conn.execute(f'ALTER TABLE {c["tab"]} DROP CONSTRAINT "{c["conname"]}"')
        for i in indexes:
            await conn.execute(f'DROP INDEX "{i["indexname"]}"')
    finally:
        await conn.close()
    back = [i["indexdef"] for i in indexes]
    back += [
        f'ALTER TABLE {c["tab"]} ADD CONSTRAINT "{c["conname"]}" {c["def"]}'
        for c in sorted(constraints, key=lambda c: c["contype"] == "f")  # unique keys first
    ]
    return back


async def put_keys_back(url: str, statements: list[str]) -> None:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await conn.execute("SET maintenance_work_mem = '512MB'")
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def load(name: str, url: str, sessions: int, days: int, seed: int) -> Loaded:
    """Migrate, load the directory, generate ``sessions`` over ``days`` up to ``END``, analyse."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    await asyncio.to_thread(migrate, url)
    seconds["migrate"] = time.perf_counter() - started
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        started = time.perf_counter()
        async with factory() as db, db.begin():
            await load_directory(db, directory())
            if "timezone" in User.__table__.c:  # users.timezone (migration 0009), once merged
                for username, zone in ELSEWHERE.items():
                    await db.execute(
                        update(User).where(User.username == username).values(timezone=zone)
                    )
        seconds["directory"] = time.perf_counter() - started
        spec = HistorySpec(
            start=END - timedelta(days=days),
            end=END,
            seed=seed,
            sessions=sessions,
            accession_prefix="B",
            slow={name: Slow() for name in SLOW},
        )
        aside = await set_keys_aside(url)
        started = time.perf_counter()

        def progress(done: int) -> None:
            rate = done / (time.perf_counter() - started)
            print(f"  {done:>9,} sessions  ({rate:,.0f}/s)", flush=True)

        async with factory() as db, db.begin():
            generated = await generate(db, spec, progress)
            seconds["generate and COPY"] = time.perf_counter() - started
            started = time.perf_counter()
        seconds["commit"] = time.perf_counter() - started
        started = time.perf_counter()
        await put_keys_back(url, aside)
        seconds["indexes and keys"] = time.perf_counter() - started
        started = time.perf_counter()
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
            seconds["vacuum analyze"] = time.perf_counter() - started
            size = await conn.scalar(text("SELECT pg_database_size(current_database())"))
            tables = (
                await conn.execute(
                    text(
                        "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 2 DESC LIMIT 9"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    return Loaded(
        name,
        url,
        generated,
        seconds,
        [("database", int(size or 0)), *((t, int(s)) for t, s in tables)],
    )


def report(loaded: Loaded) -> str:
    g = loaded.generated
    total = sum(loaded.seconds.values())
    lines = [f"database {loaded.database}: {g.sessions:,} sessions, {g.total_rows:,} rows"]
    lines += [f"  {table:<22} {count:>12,} rows" for table, count in g.rows.items()]
    lines += [f"  {phase:<22} {s:>10.1f} s" for phase, s in loaded.seconds.items()]
    lines.append(
        f"  of which the marks' check {g.marks_s:>6.1f} s "
        f"({g.marks_corrected:,} pages' marks put right)"
    )
    copy_s = loaded.seconds["generate and COPY"]
    lines.append(
        f"  {'total':<22} {total:>10.1f} s  ({g.total_rows / copy_s:,.0f} rows/s told and copied)"
    )
    lines += [f"  size {name:<17} {size / 2**20:>10,.0f} MiB" for name, size in loaded.sizes]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--keep", action="store_true", help="keep the database (for bench/reports.py)"
    )
    args = parser.parse_args()
    name, url = await create_database()
    try:
        loaded = await load(name, url, args.sessions, args.days, args.seed)
        print(report(loaded))
    finally:
        if args.keep:
            print(f"kept: {url}")
        else:
            await drop_database(name)


if __name__ == "__main__":
    asyncio.run(main())
