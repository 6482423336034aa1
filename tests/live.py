"""Real servers and real clients for tests: uvicorn on a free loopback port, httpx, websockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
import websockets
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection

from paging.twilio import TwilioSettings
from signaling.app import create_app
from signaling.config import Settings

PASSWORD = "correct-horse-1"
_T = TypeVar("_T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceFailed(RuntimeError):
    """A `standby serve` process exited, or did not answer /healthz in time."""


# A start is CPU-bound (mostly imports): on a loaded machine it takes as many times longer as there
# are runnable processes per core. The wait stretches with the load, up to this many times.
MAX_STRETCH = 6


def _load_per_core() -> float:
    return os.getloadavg()[0] / (os.cpu_count() or 1)


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) the process ``pid`` has used so far, from ``/proc``; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def wait_healthy(
    url: str, process: subprocess.Popen[bytes], output: Callable[[], str] = str, timeout: float = 30
) -> None:
    """Block until ``url``/healthz answers 200; ``output()`` says what the server printed.

    ``timeout`` is the wait on an idle machine. Each second counts for less while the load average
    per core is above 1 (a starved start is slow, not stuck), so on a loaded machine the wait grows
    up to ``MAX_STRETCH`` times. A server that exits, or does not become healthy in that time,
    raises ``ServiceFailed`` saying how long it waited, the load, the server's CPU time, what
    /healthz last answered and the server's output (which logs each start phase as it ends)."""
    started = last = time.monotonic()
    spent = 0.0  # of ``timeout``: wall seconds, each divided by the load per core when above 1
    answer = "nothing yet"
    while spent < timeout and last - started < timeout * MAX_STRETCH:
        if process.poll() is not None:
            raise ServiceFailed(f"standby serve exited with {process.returncode}:\n{output()}")
        try:
            response = httpx.get(f"{url}/healthz", timeout=5)
        except httpx.HTTPError as exc:
            answer = f"{type(exc).__name__} {exc}".strip()
        else:
            if response.status_code == 200:
                return
            answer = f"{response.status_code} {response.text[:300]}"
        time.sleep(0.1)
        now = time.monotonic()
        spent += (now - last) / max(1.0, _load_per_core())
        last = now
    cpu = cpu_seconds(process.pid)
    raise ServiceFailed(
        f"standby serve did not become healthy in {last - started:.1f} s (timeout {timeout:g} s"
        f" on an idle machine; load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()}"
        f" cores; the server used {'?' if cpu is None else f'{cpu:.1f}'} s of CPU);"
        f" last /healthz answer: {answer}; its output:\n{output()}"
    )


@contextlib.contextmanager
def serve_process(
    env: Mapping[str, str], port: int, output: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`standby serve --no-migrate` on loopback ``port`` in a process of its own, with ``env`` over
    this process's environment and everything it prints written to ``output`` (readable while it
    runs). Stopped when the block ends (SIGTERM, then SIGKILL after 15 s) unless it already exited."""
    command = [sys.executable, "-m", "signaling", "serve", "--host", "127.0.0.1"]
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--port", str(port), "--no-migrate"],
            env=os.environ | dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            stop_process(process)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Terminate a `standby serve` process and wait for it; kill it if it will not stop."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class LiveServer:
    settings: Settings
    port: int
    app: FastAPI | None = None
    loop: asyncio.AbstractEventLoop | None = None  # the in-process server's own event loop

    def app_state(self) -> Any:
        """The in-process server's ``app.state`` (for checks of worker internals)."""
        assert self.app is not None, "only in-process servers expose their state"
        return self.app.state

    async def run(self, work: Coroutine[Any, Any, _T]) -> _T:
        """Run ``work`` on the in-process server's event loop, where its services live (a call
        the service makes with no route of its own yet, as the record will), and await it here."""
        assert self.loop is not None, "only in-process servers run work for a test"
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self.loop))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


@contextlib.contextmanager
def run_server(
    settings: Settings, port: int, twilio: TwilioSettings | None = None
) -> Iterator[LiveServer]:
    """A real uvicorn serving ``create_app(settings)`` in a thread with its own event loop."""
    app = create_app(settings, twilio or TwilioSettings(account_sid=""))
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_max_size=1024 * 1024,
        lifespan="on",
        proxy_headers=False,  # as `standby serve`: the app reads X-Forwarded-For itself
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(settings, port, app, server.servers[0].get_loop())
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def cookie_header(token: str) -> dict[str, str]:
    return {"cookie": f"standby_session={token}"}


async def login(server: LiveServer, username: str, password: str = PASSWORD) -> str:
    """Log in and return the session cookie's value (httpx keeps Secure cookies to https only)."""
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(
            "/api/login", json={"username": username, "password": password}
        )
        response.raise_for_status()
        token = response.cookies.get("standby_session")
        assert token
        return token


@contextlib.asynccontextmanager
async def api(server: LiveServer, token: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    headers = cookie_header(token) if token else {}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10) as client:
        yield client


class Socket:
    """A signaling client: send dicts, wait for a message of a given type."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.seen: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        await self.connection.send(
            message if isinstance(message, str | bytes) else json.dumps(message)
        )

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        message = json.loads(await asyncio.wait_for(self.connection.recv(), timeout))
        self.seen.append(message)
        return message  # type: ignore[no-any-return]

    async def expect(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """Skip other messages until one of ``kind`` arrives."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"no {kind!r} message; saw {[m['type'] for m in self.seen]}")
            message = await self.next(left)
            if message["type"] == kind:
                return message

    async def until_closed(self, timeout: float = 15.0) -> tuple[int, str]:
        """Read (keeping what arrives in ``seen``) until the server closes; its code and reason.
        TimeoutError if it stays open that long."""
        try:
            while True:
                await self.next(timeout)
        except websockets.ConnectionClosed as closed:
            received = closed.rcvd
        if received is None:
            raise AssertionError("the socket closed without a close frame")
        return received.code, received.reason


@contextlib.asynccontextmanager
async def connect(server: LiveServer, token: str | None, **headers: str) -> AsyncIterator[Socket]:
    extra = (cookie_header(token) if token else {}) | headers
    async with websockets.connect(server.ws_url, additional_headers=extra, max_size=2**21) as conn:
        yield Socket(conn)
