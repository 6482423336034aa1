"""One flooding socket against everyone else: another socket's ping -> pong round trip.

Starts ``standby serve`` (one worker, SQLite in a temporary directory, users from
tests/directory.yaml) once with the per-socket message budget off (``STANDBY_SOCKET_MESSAGES_PER_S=0``)
and once with it on (the default, 20 a second, bursts of 40). In each: the probe ("drdiaz") measures
ping -> pong round trips with nobody else sending, then again while "tech" floods pings as fast as
one client can (reading what comes back, and reconnecting at once whenever the server closes it).

    .venv/bin/python bench/flood.py --samples 400

This prints figures; it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live import ServiceFailed, free_port, stop_process, wait_healthy  # noqa: E402

DIRECTORY = ROOT / "tests" / "directory.yaml"
PASSWORD = "correct-horse-1"
PING = json.dumps({"type": "ping"})


@contextlib.contextmanager
def running_service(workdir: Path, budget_per_s: float) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "STANDBY_ENVIRONMENT": "development",
        "STANDBY_SECRET_KEY": secrets.token_urlsafe(48),
        "STANDBY_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        "STANDBY_PUBLIC_BASE_URL": url,
        "STANDBY_ICE_SERVERS": "[]",
        "STANDBY_LOG_LEVEL": "WARNING",
        "STANDBY_SOCKET_MESSAGES_PER_S": str(budget_per_s),
    }
    env.pop("STANDBY_REDIS_URL", None)
    standby = str(Path(sys.executable).parent / "standby")
    db = workdir / "bench.db"
    if not db.exists():
        subprocess.run(
            [standby, "load-directory", str(DIRECTORY)], env=env, check=True, capture_output=True
        )
    log_path = workdir / "server.log"
    with log_path.open("wb") as server_log:
        process = subprocess.Popen(
            [standby, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"],
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_healthy(url, process, log_path.read_text, timeout=120)
            except ServiceFailed as exc:
                raise SystemExit(str(exc)) from None
            yield url
        finally:
            stop_process(process)


async def login(url: str, username: str) -> str:
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/api/login", json={"username": username, "password": PASSWORD}
        )
        response.raise_for_status()
        token = response.cookies.get("standby_session")
        assert token
        return token


def ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/ws"


async def probe(url: str, token: str, samples: int) -> list[float]:
    """Round trips (ms) of ``samples`` pings, one at a time, 60 ms apart (within the budget of
    20 a second that an ordinary page keeps to)."""
    headers = {"cookie": f"standby_session={token}"}
    found: list[float] = []
    async with websockets.connect(ws_url(url), additional_headers=headers) as ws:
        await ws.recv()  # hello
        while len(found) < samples:
            started = time.perf_counter()
            await ws.send(PING)
            while json.loads(await ws.recv())["type"] != "pong":
                pass
            found.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.06)
    return found


@dataclass
class Flood:
    sent: int = 0
    refused: int = 0
    closed: int = 0


async def flood(url: str, token: str, tally: Flood, stop: asyncio.Event) -> None:
    """Ping as fast as possible; on a close, connect again at once."""
    headers = {"cookie": f"standby_session={token}"}

    async def drain(ws: websockets.ClientConnection) -> None:
        async for raw in ws:
            if '"rate_limited"' in str(raw):
                tally.refused += 1

    while not stop.is_set():
        try:
            async with websockets.connect(ws_url(url), additional_headers=headers) as ws:
                reader = asyncio.create_task(drain(ws))
                try:
                    while not stop.is_set():
                        await ws.send(PING)
                        tally.sent += 1
                        if tally.sent % 50 == 0:
                            await asyncio.sleep(0)  # let the reader run
                finally:
                    reader.cancel()
        except websockets.ConnectionClosed:
            tally.closed += 1


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def line(name: str, values: Sequence[float]) -> str:
    return (
        f"  {name:<22} p50 {percentile(values, 50):7.2f}  p99 {percentile(values, 99):7.2f}  "
        f"max {max(values):7.2f} ms  ({len(values)} pings)"
    )


async def one_mode(workdir: Path, label: str, budget_per_s: float, samples: int) -> None:
    with running_service(workdir, budget_per_s) as url:
        prober, flooder = await login(url, "drdiaz"), await login(url, "tech")
        await probe(url, prober, 50)  # warm-up
        quiet = await probe(url, prober, samples)
        stop, tally = asyncio.Event(), Flood()
        flooding = asyncio.create_task(flood(url, flooder, tally, stop))
        await asyncio.sleep(0.5)
        started = time.monotonic()
        loud = await probe(url, prober, samples)
        seconds = time.monotonic() - started
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(flooding, 5)
    print(f"\nbudget {label}:")
    print(line("no flood", quiet))
    print(line("one socket flooding", loud))
    print(
        f"  flooder: {tally.sent / seconds:,.0f} messages/s sent, {tally.refused:,} refused "
        f"rate_limited, closed {tally.closed} times"
    )


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="standby-flood-") as tmp:
        await one_mode(Path(tmp), "off (STANDBY_SOCKET_MESSAGES_PER_S=0)", 0, args.samples)
        await one_mode(Path(tmp), "on (20/s, bursts of 40)", 20, args.samples)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=400, help="pings per measurement")
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
