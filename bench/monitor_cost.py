"""Server CPU cost of media monitoring: N monitored sessions in one process.

Each monitored session is what one page sends the server's ``media.monitor.MediaMonitor``: a
320x240 camera at about 1 frame a second (VP8) and a microphone (Opus, 20 ms packets). The senders
run in a child process (``media.synthetic`` tracks on aiortc peers), so that the figure is the
monitoring side's alone: this process runs only the N monitors (aiortc receiving, decoding,
analysis in a shared two-thread pool). Once every monitor reports video and audio ``ok``, the
process CPU time (all threads, ``time.process_time``) over a wall-clock window gives the cost.

    .venv/bin/python bench/monitor_cost.py                         # N = 1, 5, 10, 20; 3 runs each
    .venv/bin/python bench/monitor_cost.py --sessions 1 20 --runs 5 --seconds 20

This prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402

from media.candidates import allowed_peers  # noqa: E402
from media.monitor import Evidence, Kind, MediaMonitor  # noqa: E402
from media.synthetic import SyntheticAudioTrack, SyntheticVideoTrack  # noqa: E402

log = logging.getLogger("bench.monitor_cost")


# --- the senders (child process) -------------------------------------------------------------


async def _senders(conn: Connection) -> None:
    """Serve commands from the parent: ("offer", n, kinds, fps, w, h) -> offers; ("answers", [...])
    -> applied; ("cpu",) -> this process's CPU seconds; ("close",) -> all closed; ("quit",)."""
    pcs: list[RTCPeerConnection] = []
    while True:
        command: tuple[Any, ...] = await asyncio.to_thread(conn.recv)
        if command[0] == "offer":
            _, n, kinds, fps, width, height = command
            offers = []
            for i in range(n):
                pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                if "audio" in kinds:
                    pc.addTrack(SyntheticAudioTrack())
                if "video" in kinds:
                    video = SyntheticVideoTrack(width=width, height=height, fps=fps, label=f"s{i}")
                    pc.addTrack(video)
                await pc.setLocalDescription(await pc.createOffer())
                pcs.append(pc)
                offers.append(pc.localDescription.sdp)
            conn.send(offers)
        elif command[0] == "answers":
            for pc, answer in zip(pcs, command[1], strict=True):
                await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            conn.send("ok")
        elif command[0] == "cpu":
            conn.send(time.process_time())
        elif command[0] == "close":
            await asyncio.gather(*(pc.close() for pc in pcs))
            pcs.clear()
            conn.send("ok")
        else:
            conn.send("bye")
            return


def sender_process(conn: Connection) -> None:
    asyncio.run(_senders(conn))


# --- the monitors (this process) -------------------------------------------------------------


@dataclass
class Run:
    sessions: int
    cpu_fraction: float  # CPU seconds per wall second of the whole monitoring process
    sender_cpu_fraction: float
    evidence: Counter[str]
    loop_lag: float  # the worst lateness of a 50 ms timer on this process's event loop, seconds

    @property
    def per_session(self) -> float:
        return self.cpu_fraction / self.sessions


async def ask(conn: Connection, *command: Any) -> Any:
    conn.send(command)
    return await asyncio.to_thread(conn.recv)


async def one_run(conn: Connection, args: argparse.Namespace, n: int) -> Run:
    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="analysis")
    evidence: list[Evidence] = []
    monitors = [
        MediaMonitor(ice_servers=[], on_evidence=evidence.append, executor=executor, label=f"m{i}")
        for i in range(n)
    ]
    try:
        offers = await ask(conn, "offer", n, args.kinds, args.fps, args.width, args.height)
        allowed = await allowed_peers(
            "127.0.0.1", [], relay_only=False
        )  # the sender is on this host
        answers = [await m.accept_offer(o, allowed) for m, o in zip(monitors, offers, strict=True)]
        await ask(conn, "answers", answers)
        for monitor in monitors:
            for kind in args.kinds:
                await monitor.wait_for_verdict(kind, "ok", timeout=30)
        await asyncio.sleep(args.warmup)

        seen = len(evidence)
        cpu, sender_cpu, wall = time.process_time(), await ask(conn, "cpu"), time.perf_counter()
        lag = await loop_lag(args.seconds)
        cpu = time.process_time() - cpu
        sender_cpu = await ask(conn, "cpu") - sender_cpu
        wall = time.perf_counter() - wall
        verdicts = Counter(f"{e.kind}:{e.verdict}" for e in evidence[seen:])
        return Run(n, cpu / wall, sender_cpu / wall, verdicts, lag)
    finally:
        for monitor in monitors:
            await monitor.close()
        await ask(conn, "close")
        executor.shutdown()


async def loop_lag(seconds: float, period: float = 0.05) -> float:
    """Sleep ``seconds`` in ``period`` steps; the worst lateness of a step (a starved process
    delivers frames late, which the monitor's watchdog may take for a loss)."""
    worst, end = 0.0, time.perf_counter() + seconds
    while (now := time.perf_counter()) < end:
        await asyncio.sleep(period)
        worst = max(worst, time.perf_counter() - now - period)
    return worst


def percent(value: float) -> str:
    return f"{value * 100:6.2f} %"


async def main(args: argparse.Namespace) -> None:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=sender_process, args=(child,), daemon=True)
    process.start()
    try:
        medians: dict[int, float] = {}
        media = " + ".join(
            f"{args.fps} fps {args.width}x{args.height} VP8" if kind == "video" else "Opus 20 ms"
            for kind in args.kinds
        )
        print(
            f"monitored sessions: {media}; "
            f"{args.runs} run(s) of {args.seconds} s each after {args.warmup} s warm-up"
        )
        print("  N | process CPU (one core = 100 %) | per session | senders (other process)")
        for n in args.sessions:
            runs = [await one_run(parent, args, n) for _ in range(args.runs)]
            total = statistics.median(r.cpu_fraction for r in runs)
            each = statistics.median(r.per_session for r in runs)
            senders = statistics.median(r.sender_cpu_fraction for r in runs)
            medians[n] = each
            spread = ", ".join(percent(r.cpu_fraction).strip() for r in runs)
            print(
                f"{n:3d} | {percent(total)} (runs: {spread}) | {percent(each)} | {percent(senders)}"
            )
            verdicts = sum((r.evidence for r in runs), Counter[str]())
            not_ok = {k: v for k, v in verdicts.items() if not k.endswith(":ok")}
            lag = max(r.loop_lag for r in runs)
            if not_ok or lag > 0.2:
                print(f"    evidence other than ok: {not_ok}; worst event-loop lag {lag:.2f} s")
        largest = max(medians)
        per_core = 1 / medians[largest] if medians[largest] > 0 else float("inf")
        print(
            f"one core holds about {per_core:.0f} monitored sessions "
            f"(from N={largest}: {percent(medians[largest]).strip()} of a core each)"
        )
    finally:
        await ask(parent, "quit")
        process.join(10)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 5, 10, 20])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="after every monitor is ok")
    parser.add_argument("--kinds", nargs="+", choices=list(Kind), default=list(Kind))
    parser.add_argument("--fps", type=float, default=1.0)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    logging.basicConfig(level=logging.INFO if arguments.verbose else logging.WARNING)
    asyncio.run(main(arguments))
