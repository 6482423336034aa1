"""Load benchmark: N live sessions through two workers over Redis and PostgreSQL, against a bare relay.

    .venv/bin/python bench/load.py --sessions 100 250 500
    .venv/bin/python bench/load.py --sessions 100 --seconds 20 --candidates 2

Starts two `standby serve` processes on two ports (one PostgreSQL database of the bench's own, one
Redis key prefix of its own, both removed afterwards) with a generated directory: one facility per ten
sessions, each with ten rooms, one technologist and one radiologist whose caseload cap is ten. Every
session is opened through the API by the technologist (worker A) and taken by the radiologist
(worker B), so everything relayed crosses Redis. Each session then has a technologist socket on A and
a radiologist socket on B that join it, exchange an offer and answer, report ICE and media as the pages
do (web/call.js), and send ``stats`` once a second and ``candidate``s carrying a sequence number and the
send time. The sockets read everything the server pushes (``link`` included).

Then the same sockets' traffic goes through a bare `websockets` relay (one process, pairs by URL,
forwards every frame to the other side) in the same run, for the ratio.

Printed per N: relay latency (send -> the other side received a candidate) p50 / p99 / max, candidates
lost, sockets closed by the server, the CPU of each process (from /proc, percent of one core over the
traffic window) and the client's own. A measurement, not a test: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live import free_port, stop_process, wait_healthy  # noqa: E402

PASSWORD = "bench-password-1"
PER_FACILITY = 10  # sessions per facility = rooms = the radiologist's caseload cap
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- setup: directory, database, processes ------------------------------------------------------


def directory_yaml(facilities: int) -> str:
    lines = ["facilities:"]
    for f in range(facilities):
        lines += [
            f"  - {{code: B{f:03d}, name: Bench {f:03d}, state: TX, timezone: America/Chicago,",
            "     escalation: {repeat: 0, repeat_after_s: 60, tiers: [{delay_s: 0,"
            " targets: [{kind: pool}], channels: [in_app]}]},",
            "     rooms: ["
            + ", ".join(
                f"{{code: R{r}, name: Room {r}, modality: CT}}" for r in range(PER_FACILITY)
            )
            + "]}",
        ]
    lines.append("users:")
    for f in range(facilities):
        lines += [
            f"  - {{username: tech{f:03d}, full_name: Tech {f:03d}, roles: [technologist],"
            f" facilities: [B{f:03d}], password: {PASSWORD}}}",
            f"  - {{username: dr{f:03d}, full_name: Dr {f:03d}, roles: [radiologist],"
            f" max_concurrent: {PER_FACILITY}, privileges: [B{f:03d}], password: {PASSWORD},"
            f' licenses: [{{state: TX, number: "TX-{f}", expires: 2099-12-31}}]}}',
        ]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def database() -> Iterator[str]:
    """A PostgreSQL database of this run's own, dropped afterwards."""
    name = f"standby_load_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(f"{POSTGRES}/postgres")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://{POSTGRES.removeprefix('postgresql://')}/{name}"
    finally:
        asyncio.run(
            admin(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"  # noqa: S608
            )
        )
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}"'))


@contextlib.contextmanager
def redis_prefix() -> Iterator[str]:
    prefix = f"standby-load-{uuid.uuid4().hex}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


@contextlib.contextmanager
def process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        child = subprocess.Popen(
            command, env=os.environ | env, stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT
        )
        try:
            yield child
        finally:
            stop_process(child, timeout=30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (its threads included), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


# --- the bare relay ----------------------------------------------------------------------------


async def relay_server(port: int) -> None:
    """Pairs sockets by ``/<pair>/<side>`` and forwards every frame to the other side."""
    peers: dict[tuple[str, str], Any] = {}

    async def handler(ws: Any) -> None:
        _, pair, side = ws.request.path.split("/")
        peers[(pair, side)] = ws
        other = (pair, "b" if side == "a" else "a")
        try:
            async for frame in ws:
                target = peers.get(other)
                if target is not None:
                    with contextlib.suppress(ConnectionClosed):
                        await target.send(frame)
        finally:
            peers.pop((pair, side), None)

    async with websockets.serve(handler, "127.0.0.1", port, max_size=2**20):
        await asyncio.Future()


# --- the clients -------------------------------------------------------------------------------


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    sent: int = 0
    received: int = 0
    links: int = 0
    setup_failed: int = 0  # pairs that could not join (shown, not measured)
    errors: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)

    def count(self, bucket: dict[str, int], key: str) -> None:
        bucket[key] = bucket.get(key, 0) + 1


def stats_frame(n: int) -> str:
    return json.dumps(
        {
            "type": "stats",
            "frames_decoded": 30 * n,
            "fps": 30.0,
            "audio_packets": 50 * n,
            "audio_level": 0.05,
            "rtt_ms": 2.0,
            "loss": 0.0,
            "jitter_ms": 1.0,
            "bitrate_kbps": 800.0,
            "candidate": "host",
        }
    )


def candidate_frame(seq: int) -> str:
    stamp = time.perf_counter_ns()
    return json.dumps(
        {
            "type": "candidate",
            "candidate": f"candidate:{seq} 1 udp 2122260223 127.0.0.1 9 typ host bench {stamp}",
            "sdp_mid": "0",
            "sdp_mline_index": 0,
        }
    )


class Side:
    """One page's socket: sends what a page sends, reads everything, times relayed candidates."""

    def __init__(self, ws: ClientConnection, tally: Tally, measuring: Callable[[], bool]) -> None:
        self.ws, self.tally, self.measuring = ws, tally, measuring
        self.waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.seen: set[int] = set()
        self.sent_seqs = 0
        self.closing = False
        self.reader = asyncio.create_task(self._read())

    def expect(self, kind: str) -> Awaitable[dict[str, Any]]:
        waiter = asyncio.get_running_loop().create_future()
        self.waiters[kind] = waiter
        return asyncio.wait_for(waiter, 60)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                now = time.perf_counter_ns()
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "candidate":
                    parts = message["candidate"].split()
                    seq = int(parts[0].split(":")[1])
                    if seq not in self.seen:
                        self.seen.add(seq)
                        self.tally.received += 1
                        if self.measuring():
                            self.tally.latencies_ms.append((now - int(parts[-1])) / 1e6)
                elif kind == "link":
                    self.tally.links += 1
                elif kind == "error":
                    self.tally.count(self.tally.errors, message.get("code", "?"))
                waiter = self.waiters.pop(kind, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
        except ConnectionClosed:
            pass
        finally:
            code = self.ws.close_code
            if not self.closing:
                self.tally.count(self.tally.closed, str(code))
            for waiter in self.waiters.values():
                if not waiter.done():
                    waiter.set_exception(ConnectionError(f"closed {code}"))

    async def traffic(self, stop: asyncio.Event, candidates_per_s: float) -> None:
        """Stats once a second and candidates at ``candidates_per_s``, from a random phase."""
        await asyncio.sleep(random.random())
        loop = asyncio.get_running_loop()
        start, n, next_candidate = loop.time(), 0, loop.time()
        gap = 1 / candidates_per_s if candidates_per_s > 0 else math.inf
        next_stats = start
        try:
            while not stop.is_set():
                now = loop.time()
                if now >= next_stats:
                    n += 1
                    await self.ws.send(stats_frame(n))
                    next_stats += 1.0
                if now >= next_candidate:
                    self.sent_seqs += 1
                    self.tally.sent += 1
                    await self.ws.send(candidate_frame(self.sent_seqs))
                    next_candidate += gap
                await asyncio.sleep(max(0.0, min(next_stats, next_candidate) - loop.time()))
        except ConnectionClosed:
            pass

    async def close(self) -> None:
        self.closing = True
        with contextlib.suppress(Exception):
            await self.ws.close()
        with contextlib.suppress(Exception):
            await self.reader


@dataclass
class Round:
    tally: Tally
    window_s: float
    cpu: dict[str, float]
    client_cpu: float
    setup_s: float


async def run_traffic(
    pairs: list[tuple[Side, Side]],
    tally: Tally,
    measuring: list[bool],
    seconds: float,
    candidates_per_s: float,
    pids: dict[str, int],
    warmup_s: float,
    setup_s: float,
) -> Round:
    stop = asyncio.Event()
    senders = [
        asyncio.create_task(side.traffic(stop, candidates_per_s)) for pair in pairs for side in pair
    ]
    await asyncio.sleep(warmup_s)
    measuring[0] = True
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    client_before, wall = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    window = time.monotonic() - wall
    cpu = {name: (cpu_seconds(pid) - before[name]) / window * 100 for name, pid in pids.items()}
    client_cpu = (time.process_time() - client_before) / window * 100
    stop.set()
    await asyncio.gather(*senders)
    await asyncio.sleep(3)  # let what is in flight arrive
    measuring[0] = False
    for a, b in pairs:
        await asyncio.gather(a.close(), b.close())
    return Round(tally, window, cpu, client_cpu, setup_s)


async def gathered(limit: int, jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


async def service_round(
    a: str, b: str, sessions: int, args: argparse.Namespace, pids: dict[str, int]
) -> Round:
    began = time.monotonic()
    facilities = math.ceil(sessions / PER_FACILITY)
    tally, measuring = Tally(), [False]
    async with httpx.AsyncClient(timeout=60) as client:

        async def login(base: str, username: str) -> str:
            response = await client.post(
                f"{base}/api/login", json={"username": username, "password": PASSWORD}
            )
            response.raise_for_status()
            return str(response.cookies["standby_session"])

        techs = await gathered(8, [lambda f=f: login(a, f"tech{f:03d}") for f in range(facilities)])
        rads = await gathered(8, [lambda f=f: login(b, f"dr{f:03d}") for f in range(facilities)])
        rooms = []
        for f in range(facilities):
            found = await client.get(f"{a}/api/rooms", cookies={"standby_session": techs[f]})
            rooms.append(sorted(r["id"] for r in found.json()["rooms"]))

        async def open_and_take(i: int) -> str:
            f = i // PER_FACILITY
            opened = await client.post(
                f"{a}/api/sessions",
                json={"room_id": rooms[f][i % PER_FACILITY], "accession_number": f"L{i:05d}"},
                cookies={"standby_session": techs[f]},
            )
            opened.raise_for_status()
            session_id = str(opened.json()["session"]["id"])
            taken = await client.post(
                f"{b}/api/sessions/{session_id}/join", cookies={"standby_session": rads[f]}
            )
            if taken.status_code != 200:
                raise RuntimeError(f"join answered {taken.status_code}: {taken.text[:300]}")
            return session_id

        ids = await gathered(
            args.setup_concurrency, [lambda i=i: open_and_take(i) for i in range(sessions)]
        )

    async def connect_pair(i: int) -> tuple[Side, Side]:
        f = i // PER_FACILITY
        sides = []
        for base, token in ((a, techs[f]), (b, rads[f])):
            ws = await websockets.connect(
                base.replace("http", "ws", 1) + "/ws",
                additional_headers={"cookie": f"standby_session={token}"},
                max_size=2**21,
                open_timeout=60,
            )
            sides.append(Side(ws, tally, lambda: measuring[0]))
        tech, rad = sides
        for side in (tech, rad):
            joined = side.expect("joined")
            await side.ws.send(json.dumps({"type": "join", "session_id": ids[i]}))
            await joined
        answer = tech.expect("answer")
        offer = rad.expect("offer")
        await tech.ws.send(json.dumps({"type": "offer", "sdp": "v=0 bench offer"}))
        await offer
        await rad.ws.send(json.dumps({"type": "answer", "sdp": "v=0 bench answer"}))
        await answer
        for side in (tech, rad):
            for state in ("checking", "connected"):
                await side.ws.send(json.dumps({"type": "ice_state", "state": state}))
            await side.ws.send(json.dumps({"type": "media_state", "video": True, "audio": True}))
        return tech, rad

    async def connect_or_count(i: int) -> tuple[Side, Side] | None:
        try:
            return await connect_pair(i)
        except (ConnectionError, OSError, TimeoutError) as exc:
            tally.setup_failed += 1
            print(f"  session {i}: could not join ({exc!r})", file=sys.stderr)
            return None

    joined = await gathered(
        args.setup_concurrency, [lambda i=i: connect_or_count(i) for i in range(sessions)]
    )
    pairs = [pair for pair in joined if pair is not None]
    setup = time.monotonic() - began
    return await run_traffic(
        pairs, tally, measuring, args.seconds, args.candidates, pids, args.warmup, setup
    )


async def relay_round(port: int, sessions: int, args: argparse.Namespace, pid: int) -> Round:
    began = time.monotonic()
    tally, measuring = Tally(), [False]

    async def connect_pair(i: int) -> tuple[Side, Side]:
        sides = []
        for side in ("a", "b"):
            ws = await websockets.connect(
                f"ws://127.0.0.1:{port}/{i}/{side}", max_size=2**21, open_timeout=60
            )
            sides.append(Side(ws, tally, lambda: measuring[0]))
        return sides[0], sides[1]

    pairs = await gathered(
        args.setup_concurrency, [lambda i=i: connect_pair(i) for i in range(sessions)]
    )
    return await run_traffic(
        pairs,
        tally,
        measuring,
        args.seconds,
        args.candidates,
        {"relay": pid},
        args.warmup,
        time.monotonic() - began,
    )


# --- report ------------------------------------------------------------------------------------


def rank(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def report(name: str, r: Round) -> tuple[float, float]:
    ordered = sorted(r.tally.latencies_ms)
    lost = r.tally.sent - r.tally.received
    if ordered:
        p50, p99 = rank(ordered, 50), rank(ordered, 99)
        figures = f"p50 {p50:7.1f}  p99 {p99:7.1f}  max {ordered[-1]:7.1f} ms  (n={len(ordered)})"
    else:
        p50 = p99 = math.nan
        figures = "no samples"
    cpu = "  ".join(f"{k} {v:5.1f} %" for k, v in r.cpu.items())
    print(f"  {name:<8} relay latency  {figures}")
    print(
        f"  {'':<8} lost {lost} of {r.tally.sent} candidates;  closed by server "
        f"{r.tally.closed or 'none'};  errors {r.tally.errors or 'none'};  link pushes {r.tally.links}"
        + (f";  {r.tally.setup_failed} sessions failed to join" if r.tally.setup_failed else "")
    )
    print(
        f"  {'':<8} CPU (one core = 100 %): {cpu}  total {sum(r.cpu.values()):5.1f} %;  "
        f"client {r.client_cpu:5.1f} %;  setup {r.setup_s:.1f} s"
    )
    return p99, sum(r.cpu.values())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, nargs="+", default=[100, 250, 500])
    parser.add_argument("--seconds", type=float, default=20, help="measured traffic window")
    parser.add_argument("--warmup", type=float, default=3, help="traffic before measuring")
    parser.add_argument(
        "--candidates", type=float, default=1, help="candidates per second per socket"
    )
    parser.add_argument("--setup-concurrency", type=int, default=20)
    parser.add_argument("--relay-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.relay_server:
        asyncio.run(relay_server(args.relay_server))
        return
    facilities = math.ceil(max(args.sessions) / PER_FACILITY)
    with tempfile.TemporaryDirectory() as tmp, database() as url, redis_prefix() as prefix:
        folder = Path(tmp)
        (folder / "directory.yaml").write_text(directory_yaml(facilities))
        ports = free_port(), free_port()
        env = {
            "STANDBY_ENVIRONMENT": "development",
            "STANDBY_SECRET_KEY": secrets.token_urlsafe(48),
            "STANDBY_DATABASE_URL": url,
            "STANDBY_REDIS_URL": REDIS_URL,
            "STANDBY_REDIS_PREFIX": prefix,
            "STANDBY_PUBLIC_BASE_URL": f"http://127.0.0.1:{ports[0]}",
            "STANDBY_LOG_LEVEL": "WARNING",
            # Each facility's one technologist and one radiologist hold all its sessions here,
            # so the per-user limits (meant for people, not a load generator) are lifted.
            "STANDBY_TECHNOLOGIST_OPEN_SESSIONS_MAX": "0",
            "STANDBY_ROOM_OPEN_SESSIONS_MAX": "0",  # rounds reuse the rooms of earlier rounds
            "STANDBY_SOCKETS_PER_LOGIN": "100",
        }
        subprocess.run(
            [sys.executable, "-m", "signaling", "load-directory", str(folder / "directory.yaml")],
            env=os.environ | env,
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        serve = [sys.executable, "-m", "signaling", "serve", "--host", "127.0.0.1", "--no-migrate"]
        logs = Path(os.environ.get("BENCH_SERVER_LOG_DIR", tmp))
        relay_port = free_port()
        with (
            process([*serve, "--port", str(ports[0])], env, logs / "worker-a.log") as first,
            process([*serve, "--port", str(ports[1])], env, logs / "worker-b.log") as second,
            process(
                [sys.executable, __file__, "--relay-server", str(relay_port)],
                {},
                logs / "relay.log",
            ) as relay,
        ):
            a, b = (f"http://127.0.0.1:{port}" for port in ports)
            wait_healthy(a, first, timeout=60)
            wait_healthy(b, second, timeout=60)
            time.sleep(1)  # the relay listens by now
            print(
                f"two workers over Redis and PostgreSQL; {args.seconds:g} s measured after "
                f"{args.warmup:g} s; stats 1/s and {args.candidates:g} candidates/s per socket; "
                f"load average {os.getloadavg()[0]:.1f}"
            )
            for n in args.sessions:
                pids = {"worker A": first.pid, "worker B": second.pid}
                service = asyncio.run(service_round(a, b, n, args, pids))
                bare = asyncio.run(relay_round(relay_port, n, args, relay.pid))
                print(
                    f"\nN = {n} sessions ({2 * n} sockets), load average {os.getloadavg()[0]:.1f}"
                )
                s_p99, s_cpu = report("standby", service)
                r_p99, r_cpu = report("relay", bare)
                print(
                    f"  ratio    p99 {s_p99 / r_p99 if r_p99 else math.nan:.1f}x, "
                    f"CPU {s_cpu / r_cpu if r_cpu else math.nan:.1f}x (standby / bare relay)"
                )
                sys.stdout.flush()


if __name__ == "__main__":
    main()
