"""Paging benchmark: dispatch lag and tier firing error through the real service and a fake carrier.

    .venv/bin/python bench/paging.py --sessions 1000                      # SQLite, one worker
    .venv/bin/python bench/paging.py --sessions 1000 --database postgresql --workers 2

Starts `standby serve` (PostgreSQL needs the machine's server and, with several workers, Redis), points
its Twilio client at the fake Twilio of tests/fakes (a real local HTTP server), opens N sessions at a
steady rate at a facility whose policy pages one person by SMS at T+0, another at T+1 s and the pool at
T+2 s, then reads the record back:

- dispatch lag = when the fake carrier received the T+0 SMS - the session's requested_at
- tier firing error = when the engine fired a tier (timer done_at) - when it was due; tier 0 fires
  inside the transaction that opens the session, so the timer-driven tiers are also shown alone

Printed as p50 / p99 / max in milliseconds. A measurement, not a test: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paging.store import pages, timers  # noqa: E402
from signaling.storage.database import make_engine, make_session_factory  # noqa: E402
from signaling.storage.models import SupervisionSession  # noqa: E402
from tests.fakes.twilio_server import FakeTwilio, run_fake_twilio  # noqa: E402
from tests.live import free_port, stop_process, wait_healthy  # noqa: E402

PASSWORD = "bench-password-1"
DIRECTORY = f"""
facilities:
  - code: BENCH
    name: Bench Imaging
    state: TX
    timezone: America/Chicago
    rooms: [{{code: CT1, name: CT 1, modality: CT}}]
    escalation:
      repeat: 0
      repeat_after_s: 2
      tiers:
        - {{delay_s: 0, targets: [{{kind: users, users: [drone]}}], channels: [sms]}}
        - {{delay_s: 1, targets: [{{kind: users, users: [drtwo]}}], channels: [sms]}}
        - {{delay_s: 2, targets: [{{kind: pool}}], channels: [in_app]}}
users:
  - {{username: tech, full_name: Bench Tech, roles: [technologist], facilities: [BENCH], password: {PASSWORD}}}
  - username: drone
    full_name: Dr One
    roles: [radiologist]
    licenses: [{{state: TX, number: "1", expires: 2099-01-01}}]
    privileges: [BENCH]
    mobile: "+15550001001"
  - username: drtwo
    full_name: Dr Two
    roles: [radiologist]
    licenses: [{{state: TX, number: "2", expires: 2099-01-01}}]
    privileges: [BENCH]
    mobile: "+15550001002"
"""


def percentiles(values: list[float]) -> str:
    if not values:
        return "no samples"
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]

    return (
        f"p50={rank(50):8.1f}  p99={rank(99):8.1f}  max={ordered[-1]:8.1f}  "
        f"mean={statistics.fmean(ordered):8.1f}  n={len(ordered)}  (ms)"
    )


@contextlib.contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        return
    name = f"standby_bench_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(
            admin(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"  # noqa: S608
            )
        )
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}"'))


@contextlib.contextmanager
def service(env: dict[str, str], port: int, workers: int) -> Iterator[None]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "signaling",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=os.environ | env,
        stdout=subprocess.DEVNULL,
        stderr=open(os.environ.get("BENCH_SERVER_LOG", os.devnull), "w"),  # noqa: SIM115
        cwd=ROOT,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, timeout=60)
        yield
    finally:
        stop_process(process, timeout=30)


async def open_sessions(base: str, count: int, rate: float) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        login = await client.post("/api/login", json={"username": "tech", "password": PASSWORD})
        login.raise_for_status()
        token = login.cookies.get("standby_session")
        headers = {"cookie": f"standby_session={token}"}
        room = (await client.get("/api/rooms", headers=headers)).json()["rooms"][0]["id"]
        started = time.monotonic()
        tasks = []
        for i in range(count):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            body = {"room_id": room, "accession_number": f"B{i}"}
            tasks.append(
                asyncio.create_task(client.post("/api/sessions", json=body, headers=headers))
            )
        for response in await asyncio.gather(*tasks):
            response.raise_for_status()


async def read_back(
    database_url: str, fake: FakeTwilio
) -> tuple[list[float], list[float], list[float]]:
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as db:
            requested = dict(
                (
                    await db.execute(select(SupervisionSession.id, SupervisionSession.requested_at))
                ).all()
            )
            page_session = dict(
                (
                    await db.execute(
                        select(pages.c.id, pages.c.session_id).where(pages.c.tier == 0)
                    )
                ).all()
            )
            fired = (
                await db.execute(
                    select(timers.c.due_at, timers.c.done_at, timers.c.tier).where(
                        timers.c.kind == "tier", timers.c.outcome == "fired"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    lag = []
    for request in fake.requests:
        if not request.path.endswith("/Messages.json"):
            continue
        callback = dict(request.form).get("StatusCallback", "")
        page_id = int(callback.rsplit("/", 1)[-1]) if callback else -1
        session_id = page_session.get(page_id)
        if session_id is not None:
            lag.append((request.at - requested[session_id]).total_seconds() * 1000)
    error = [(done - due).total_seconds() * 1000 for due, done, _ in fired]
    # Tier 0 fires inside the transaction that opens the session (error 0 by construction); the
    # later tiers are the ones the engine's timers fire.
    timed = [(done - due).total_seconds() * 1000 for due, done, tier in fired if tier > 0]
    return lag, error, timed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="sessions opened per second")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        database(args.database, Path(tmp)) as url,
        run_fake_twilio() as fake,
    ):
        directory = Path(tmp) / "directory.yaml"
        directory.write_text(DIRECTORY)
        port = free_port()
        env = {
            "STANDBY_ENVIRONMENT": "development",
            "STANDBY_SECRET_KEY": secrets.token_urlsafe(48),
            "STANDBY_DATABASE_URL": url,
            "STANDBY_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "STANDBY_LOG_LEVEL": "WARNING",
            # one technologist opens every session in one room: paging load, not a real room
            "STANDBY_ROOM_OPEN_SESSIONS_MAX": "0",
            "STANDBY_TECHNOLOGIST_OPEN_SESSIONS_MAX": "0",
            **fake.env(),
        }
        if args.workers > 1:
            env["STANDBY_REDIS_URL"] = "redis://127.0.0.1:6379/0"
            env["STANDBY_REDIS_PREFIX"] = f"standby-bench-{uuid.uuid4().hex}:"
        subprocess.run(
            [sys.executable, "-m", "signaling", "load-directory", str(directory)],
            env=os.environ | env,
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        with service(env, port, args.workers):
            began = time.monotonic()
            asyncio.run(open_sessions(f"http://127.0.0.1:{port}", args.sessions, args.rate))
            time.sleep(4)  # the last sessions' T+1 s and T+2 s tiers, and exhaustion at T+4 s
            elapsed = time.monotonic() - began
        lag, error, timed = asyncio.run(read_back(url, fake))
    print(
        f"\n{args.sessions} sessions at {args.rate:g}/s on {args.database}, {args.workers} worker(s), "
        f"{elapsed:.0f} s"
    )
    print(f"  dispatch lag (start -> carrier accepted SMS)  {percentiles(lag)}")
    print(f"  tier firing error (fired - due)               {percentiles(error)}")
    print(f"    timer-driven tiers only (T+1 s, T+2 s)      {percentiles(timed)}")


if __name__ == "__main__":
    main()
