"""A worker's start as `standby serve` logs it, and what the tests say when a start goes wrong."""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

import httpx
import pytest

from tests.live import ServiceFailed, free_port, serve_process, wait_healthy

PHASE = r"start: (\w+) took \d+\.\d\d s"


def _env(database_url: str, port: int) -> dict[str, str]:
    return {
        "STANDBY_ENVIRONMENT": "test",
        "STANDBY_SECRET_KEY": secrets.token_urlsafe(48),
        "STANDBY_DATABASE_URL": database_url,
        "STANDBY_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }


def test_serve_logs_each_start_phase_and_the_total(database_url: str, tmp_path: Path) -> None:
    """`standby serve` logs each start phase as it ends, then one ready line adding them up with CPU and load."""
    port, log = free_port(), tmp_path / "serve.log"
    with serve_process(_env(database_url, port), port, log) as process:
        wait_healthy(f"http://127.0.0.1:{port}", process, log.read_text)
        output = log.read_text()
    assert re.findall(PHASE, output) == ["process", "app", "bus", "services"]
    ready = re.search(r"standby ready \(in-process bus\) in (\d+\.\d\d) s \((.*?)\): (.*)", output)
    assert ready, output
    assert re.fullmatch(r"cpu \d+\.\d\d s, load average \d+\.\d on \d+ cores", ready[2])
    phases = re.findall(r"(\w+) (\d+\.\d\d) s", ready[3])
    assert [name for name, _ in phases] == ["process", "app", "bus", "services"]
    assert float(ready[1]) == pytest.approx(sum(float(s) for _, s in phases), abs=0.03)


def _wait_for_any_answer(url: str, log: Path) -> None:
    """Until /healthz answers anything (the server is serving): bounded, not timed."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/healthz", timeout=5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"the server never answered:\n{log.read_text()}")


def test_a_start_that_never_gets_healthy_is_reported_with_what_the_server_did(
    tmp_path: Path,
) -> None:
    """A server whose database is unreachable fails the wait with its last /healthz answer, CPU and start phases."""
    port, log = free_port(), tmp_path / "serve.log"
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/standby"
    url = f"http://127.0.0.1:{port}"
    with serve_process(_env(nowhere, port), port, log) as process:
        _wait_for_any_answer(url, log)
        with pytest.raises(ServiceFailed) as failed:
            wait_healthy(url, process, log.read_text, timeout=1)
    message = str(failed.value)
    assert "did not become healthy in" in message
    assert re.search(r"the server used \d+\.\d s of CPU", message)
    assert 'last /healthz answer: 503 {"status":"down","database":"unavailable"' in message
    assert re.findall(PHASE, message) == ["process", "app", "bus", "services"]
