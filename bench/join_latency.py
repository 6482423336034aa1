"""Join latency of the real service: Accept -> joined_at, and requested -> joined_at.

Starts ``standby serve`` in a subprocess on a free loopback port with a temporary SQLite database
seeded from tests/directory.yaml, then for each run: "tech" opens a supervision request and joins it
(waiting, as the technologist's page does), "drdiaz" (socket already open, as a console is) accepts
and joins, both exchange audio and video until the server stores ``joined``. The figures come from
the server's own milestones (``accepted_at``, ``joined_at``, ``requested_at``), read back from the API.

    .venv/bin/python bench/join_latency.py --runs 20            # aiortc participants
    .venv/bin/python bench/join_latency.py --runs 20 --chromium # two Chromium pages (web/)

This prints figures; it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from playwright.async_api import Page

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from media.participant import RADIOLOGIST, TECHNOLOGIST, Participant  # noqa: E402
from tests.live import ServiceFailed, free_port, stop_process, wait_healthy  # noqa: E402

log = logging.getLogger("bench.join_latency")
DIRECTORY = ROOT / "tests" / "directory.yaml"
PASSWORD = "correct-horse-1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


# --- the service under test -------------------------------------------------------------------


@dataclass
class Service:
    url: str
    log_path: Path

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/ws"


@contextlib.contextmanager
def running_service(workdir: Path) -> Iterator[Service]:
    """``standby serve`` on a free port with a fresh SQLite database holding tests/directory.yaml."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "STANDBY_ENVIRONMENT": "development",
        "STANDBY_SECRET_KEY": secrets.token_urlsafe(48),
        "STANDBY_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        "STANDBY_PUBLIC_BASE_URL": url,
        "STANDBY_ICE_SERVERS": "[]",
        "STANDBY_LOG_LEVEL": "WARNING",
    }
    env.pop("STANDBY_REDIS_URL", None)
    standby = str(Path(sys.executable).parent / "standby")
    log_path = workdir / "server.log"
    subprocess.run(
        [standby, "load-directory", str(DIRECTORY)],
        env=env,
        check=True,
        capture_output=True,
        cwd=workdir,
    )
    with log_path.open("wb") as server_log:
        process = subprocess.Popen(
            [standby, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"],
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
        try:
            try:
                wait_healthy(url, process, log_path.read_text)
            except ServiceFailed as exc:
                raise SystemExit(str(exc)) from None
            yield Service(url, log_path)
        finally:
            stop_process(process)


# --- one run -----------------------------------------------------------------------------------


@dataclass
class Run:
    accept_to_joined_ms: int
    requested_to_joined_ms: int
    client_ms: dict[str, float] = field(default_factory=dict)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _ms(start: str, end: str) -> int:
    return round((_at(end) - _at(start)).total_seconds() * 1000)


async def _login(client: httpx.AsyncClient, username: str) -> str:
    response = await client.post("/api/login", json={"username": username, "password": PASSWORD})
    response.raise_for_status()
    token = response.cookies.get("standby_session")
    if not token:
        raise SystemExit("login returned no standby_session cookie")
    return token


@dataclass
class Api:
    """One HTTP client per user (the cookie is Secure, so it is sent by header over plain http)."""

    tech: httpx.AsyncClient
    rad: httpx.AsyncClient
    tech_token: str
    rad_token: str
    room_id: int

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, service: Service) -> AsyncIterator[Api]:
        async with httpx.AsyncClient(base_url=service.url, timeout=10) as anonymous:
            tech_token = await _login(anonymous, "tech")
            rad_token = await _login(anonymous, "drdiaz")
        async with (
            httpx.AsyncClient(
                base_url=service.url,
                timeout=10,
                headers={"cookie": f"standby_session={tech_token}"},
            ) as tech,
            httpx.AsyncClient(
                base_url=service.url,
                timeout=10,
                headers={"cookie": f"standby_session={rad_token}"},
            ) as rad,
        ):
            rooms = (await tech.get("/api/rooms")).raise_for_status().json()["rooms"]
            room = next(r for r in rooms if r["facility"]["name"] == "North Imaging Center")
            yield cls(tech, rad, tech_token, rad_token, room["id"])

    async def open_session(self, accession: str) -> str:
        response = await self.tech.post(
            "/api/sessions", json={"room_id": self.room_id, "accession_number": accession}
        )
        response.raise_for_status()
        return str(response.json()["session"]["id"])

    async def accept(self, session_id: str) -> None:
        (await self.rad.post(f"/api/sessions/{session_id}/join")).raise_for_status()

    async def session(self, session_id: str) -> dict[str, Any]:
        response = await self.tech.get(f"/api/sessions/{session_id}")
        return dict(response.raise_for_status().json()["session"])

    async def complete(self, session_id: str) -> None:
        response = await self.tech.post(
            f"/api/sessions/{session_id}/end", json={"outcome": "completed"}
        )
        response.raise_for_status()

    def figures(self, session: dict[str, Any]) -> tuple[int, int]:
        if session["state"] != "joined" or not session["joined_at"]:
            raise RuntimeError(f"session {session['id']} is {session['state']}, not joined")
        return (
            _ms(session["accepted_at"], session["joined_at"]),
            _ms(session["requested_at"], session["joined_at"]),
        )


async def aiortc_run(service: Service, api: Api, index: int, fps: float) -> Run:
    """tech waits in the room; drdiaz's socket is open; Accept; drdiaz joins; both until joined."""
    session_id = await api.open_session(f"BENCH-{index:04d}")
    tech = Participant(
        service.ws_url,
        f"standby_session={api.tech_token}",
        TECHNOLOGIST,
        ice_servers=[],
        video_fps=fps,
    )
    rad = Participant(
        service.ws_url,
        f"standby_session={api.rad_token}",
        RADIOLOGIST,
        ice_servers=[],
        video_fps=fps,
    )
    try:
        await tech.connect()
        await tech.join(session_id)
        await rad.connect()
        t_accept = time.perf_counter()
        await api.accept(session_id)
        t_accepted = time.perf_counter()
        await rad.join(session_id)
        await asyncio.gather(
            tech.wait_for_state("joined", timeout=30), rad.wait_for_state("joined", timeout=30)
        )
        t_joined = time.perf_counter()
        marks = rad.marks | {f"tech_{k}": v for k, v in tech.marks.items()}
    finally:
        await asyncio.gather(tech.close(), rad.close())
    accept_ms, requested_ms = api.figures(await api.session(session_id))
    await api.complete(session_id)
    client = {
        "accept POST": (t_accepted - t_accept) * 1000,
        "accepted -> rad joined": (marks["joined"] - t_accepted) * 1000,
        "rad joined -> answer sent": (marks["answer_sent"] - marks["joined"]) * 1000,
        "answer sent -> rad first video": (marks["first_video"] - marks["answer_sent"]) * 1000,
        "answer sent -> tech first video": (marks["tech_first_video"] - marks["answer_sent"])
        * 1000,
        "last media report -> joined pushed": (
            t_joined - max(marks["media_reported"], marks["tech_media_reported"])
        )
        * 1000,
        "accept POST sent -> joined pushed": (t_joined - t_accept) * 1000,
    }
    return Run(accept_ms, requested_ms, client)


# --- the same through Debian's Chromium and the real pages --------------------------------------


async def _browser_login(page: Page, username: str, console: str) -> None:
    await page.goto("/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in")
    await page.wait_for_url(f"**{console}", timeout=15_000)


async def chromium_run(api: Api, tech: Page, rad: Page, index: int) -> Run:
    """The technologist requests on the page; the radiologist presses Accept on the page."""
    timeout = 30_000
    await tech.wait_for_selector("#request-panel:not([hidden]) #request:enabled", timeout=timeout)
    await tech.select_option("#room", str(api.room_id))
    await tech.fill("#accession", f"BENCH-{index:04d}")
    await tech.click("#request")
    panel = await tech.wait_for_selector("#call-panel[data-session-id]", timeout=timeout)
    session_id = await panel.get_attribute("data-session-id")
    assert session_id
    accept = await rad.wait_for_selector(
        f'li[data-session-id="{session_id}"] [data-testid="accept"]:enabled', timeout=timeout
    )
    t_click = time.perf_counter()
    await accept.click()
    await asyncio.gather(
        tech.wait_for_selector('#state[data-state="joined"]', timeout=timeout),
        rad.wait_for_selector('#state[data-state="joined"]', timeout=timeout),
    )
    t_joined = time.perf_counter()
    accept_ms, requested_ms = api.figures(await api.session(session_id))
    await api.complete(session_id)
    await asyncio.gather(
        tech.wait_for_selector("#request-panel:not([hidden])", timeout=timeout),
        rad.wait_for_selector("#lobby:not([hidden])", timeout=timeout),
    )
    return Run(
        accept_ms, requested_ms, {"Accept click -> both pages joined": (t_joined - t_click) * 1000}
    )


async def chromium_runs(service: Service, runs: int, warmup: int) -> list[Run]:
    """Two browser contexts (technologist, radiologist) on the real pages, one session per run."""
    from playwright.async_api import async_playwright

    results: list[Run] = []
    async with async_playwright() as playwright, Api.open(service) as api:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            pages = []
            for username, console in (("tech", "/tech"), ("drdiaz", "/rad")):
                context = await browser.new_context(base_url=service.url)
                page = await context.new_page()
                await _browser_login(page, username, console)
                pages.append(page)
            tech, rad = pages
            await rad.wait_for_selector("#lobby:not([hidden])", timeout=30_000)
            for index in range(warmup + runs):
                run = await chromium_run(api, tech, rad, index)
                if index >= warmup:
                    results.append(run)
                    _print_run(len(results), run)
        finally:
            await browser.close()
    return results


# --- report ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_line(name: str, values: Sequence[float]) -> str:
    figures = " ".join(
        f"{label}={value:7.1f}"
        for label, value in (
            ("p50", percentile(values, 50)),
            ("p90", percentile(values, 90)),
            ("p99", percentile(values, 99)),
            ("max", max(values)),
            ("min", min(values)),
        )
    )
    return f"  {name:<36} {figures}  ms"


def report(mode: str, results: list[Run]) -> None:
    print(f"\n{mode}: {len(results)} runs (server milestones, ms resolution)")
    print(summary_line("Accept -> joined_at", [r.accept_to_joined_ms for r in results]))
    print(summary_line("requested -> joined_at", [r.requested_to_joined_ms for r in results]))
    if results and results[0].client_ms:
        print("client-side breakdown (perf_counter):")
        for key in results[0].client_ms:
            print(summary_line(key, [r.client_ms[key] for r in results]))


def _print_run(number: int, run: Run) -> None:
    print(
        f"run {number:3d}: Accept -> joined {run.accept_to_joined_ms:4d} ms, "
        f"requested -> joined {run.requested_to_joined_ms:5d} ms",
        flush=True,
    )


async def main_async(args: argparse.Namespace) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="standby-bench-") as tmp,
        running_service(Path(tmp)) as service,
    ):
        print(f"standby serve at {service.url} (SQLite in {tmp})", flush=True)
        if args.chromium:
            report("chromium", await chromium_runs(service, args.runs, args.warmup))
            return
        results: list[Run] = []
        async with Api.open(service) as api:
            for index in range(args.warmup + args.runs):
                run = await aiortc_run(service, api, index, args.fps)
                if index >= args.warmup:
                    results.append(run)
                    _print_run(len(results), run)
        report(f"aiortc ({args.fps:g} fps video)", results)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="measured runs (default 20)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs first (default 1)")
    parser.add_argument("--fps", type=float, default=30.0, help="synthetic video frame rate")
    parser.add_argument("--chromium", action="store_true", help="two Chromium pages, not aiortc")
    parser.add_argument("-v", "--verbose", action="store_true", help="log the participants")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
