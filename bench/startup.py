"""Startup benchmark: how long `standby --help` takes, and `standby serve` until /healthz answers 200.

    .venv/bin/python bench/startup.py                 # 7 runs of each, on the machine as it is
    .venv/bin/python bench/startup.py --busy 2        # the same with 2 busy loops of its own running

Each figure is wall-clock time from spawning the process, printed as median and p90 (nearest rank)
over the runs, beside the floor measured in the same run: `python -c pass` (the interpreter) and
`python -c 'import fastapi, uvicorn'` (the least a FastAPI service imports). The server is started as
the tests start it (`python -m signaling serve --no-migrate` on loopback, SQLite migrated beforehand
in a temporary directory, in-process bus unless `--redis`), polled every 20 ms, stopped after each
run. The medians of the start phases the service logs (``standby ready ... in``) are printed too.
`--busy N` spawns N processes that spin on the CPU for the whole measurement, to see the figures on
a loaded machine. A measurement, not a test: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from signaling.storage.database import migrate  # noqa: E402
from tests.live import free_port, stop_process  # noqa: E402

PHASES = re.compile(r"standby ready \(.*?\) in [\d.]+ s \(.*?\): (.*)")
PHASE = re.compile(r"([\w ]+?) ([\d.]+) s")


def nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def serve_to_healthy(env: dict[str, str], log: Path) -> float:
    """Seconds from spawning `standby serve` to its first 200 on /healthz."""
    port = free_port()
    command = [sys.executable, "-m", "signaling", "serve", "--host", "127.0.0.1"]
    with log.open("wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*command, "--port", str(port), "--no-migrate"],
            env=os.environ | env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            with httpx.Client(timeout=1) as client:
                while process.poll() is None:
                    with contextlib.suppress(httpx.HTTPError):
                        if client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                            return time.perf_counter() - started
                    time.sleep(0.02)
            raise SystemExit(f"standby serve exited with {process.returncode}:\n{log.read_text()}")
        finally:
            stop_process(process)


def spin() -> None:
    while True:
        pass


@contextlib.contextmanager
def busy(count: int) -> Iterator[None]:
    loops = [multiprocessing.Process(target=spin, daemon=True) for _ in range(count)]
    for loop in loops:
        loop.start()
    try:
        yield
    finally:
        for loop in loops:
            loop.terminate()
            loop.join()


def report(name: str, values: list[float]) -> None:
    median, p90 = statistics.median(values), nearest_rank(values, 0.9)
    print(f"{name:<42} {median:7.2f} {p90:7.2f}   ({len(values)} runs)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--busy", type=int, default=0, help="busy loops to run meanwhile")
    parser.add_argument("--redis", help="STANDBY_REDIS_URL for the server (default: in-process)")
    args = parser.parse_args()

    python = sys.executable
    standby = str(Path(python).with_name("standby"))
    with tempfile.TemporaryDirectory() as folder, busy(args.busy):
        database_url = f"sqlite+aiosqlite:///{folder}/standby.db"
        migrate(database_url)
        env = {
            "STANDBY_ENVIRONMENT": "test",
            "STANDBY_SECRET_KEY": secrets.token_urlsafe(48),
            "STANDBY_DATABASE_URL": database_url,
            "STANDBY_PUBLIC_BASE_URL": "http://127.0.0.1:8000",
            "STANDBY_ICE_SERVERS": "[]",
        }
        if args.redis:
            env |= {"STANDBY_REDIS_URL": args.redis, "STANDBY_REDIS_PREFIX": "standby-bench:"}
        print(
            f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores, busy loops {args.busy}"
        )
        print(f"{'seconds':<42} {'median':>7} {'p90':>7}")
        figures: dict[str, list[float]] = {}
        phases: dict[str, list[float]] = {}
        commands = {
            "python -c pass": [python, "-c", "pass"],
            "python -c 'import fastapi, uvicorn'": [python, "-c", "import fastapi, uvicorn"],
            "standby --help": [standby, "--help"],
        }
        for name, command in commands.items():
            timed(command)  # warm the page cache
            figures[name] = [timed(command) for _ in range(args.runs)]
            report(name, figures[name])
        log = Path(folder) / "serve.log"
        serve_to_healthy(env, log)
        runs = []
        for _ in range(args.runs):
            runs.append(serve_to_healthy(env, log))
            for found in PHASES.findall(log.read_text()):
                for phase, seconds in PHASE.findall(found):
                    phases.setdefault(phase.strip(), []).append(float(seconds))
        report("standby serve -> /healthz 200", runs)
        for phase, values in phases.items():
            report(f"  phase: {phase}", values)


if __name__ == "__main__":
    main()
