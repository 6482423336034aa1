"""The database going away under a running service (PostgreSQL behind a proxy the test cuts): every
route answers 503 with Retry-After, /healthz says what is down, the pager logs one line when the
database goes and one when it is back, and a tier due during the outage fires once when it is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from tests.conftest import make_settings
from tests.live import LiveServer, api, free_port, login, run_server
from tests.outage import CuttableProxy, cuttable_proxy
from tests.signaling.helpers import open_session, room_id

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def proxy() -> Iterator[CuttableProxy]:
    with cuttable_proxy("127.0.0.1", 5432) as proxy:
        yield proxy


@pytest.fixture
def outage_server(database_url: str, proxy: CuttableProxy) -> Iterator[LiveServer]:
    port = free_port()
    through_proxy = database_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")
    assert through_proxy != database_url
    with run_server(make_settings(through_proxy, port), port) as live:
        yield live


async def _reach(server: LiveServer, token: str, session_id: str) -> dict[str, int]:
    """What each kind of route answers now."""
    async with api(server, token) as client:
        return {
            "healthz": (await client.get("/healthz")).status_code,
            "me": (await client.get("/api/me")).status_code,
            "list": (await client.get("/api/sessions")).status_code,
            "get": (await client.get(f"/api/sessions/{session_id}")).status_code,
            "paging": (await client.get(f"/api/sessions/{session_id}/paging")).status_code,
            "open": (
                await client.post(
                    "/api/sessions", json={"room_id": 1, "accession_number": "ACC-OUT-1"}
                )
            ).status_code,
        }


async def test_database_down_is_503_and_paging_catches_up_once_it_is_back(
    outage_server: LiveServer, proxy: CuttableProxy, caplog: pytest.LogCaptureFixture
) -> None:
    """Cut the database 1 s into a GULF request (tier 2 due at T+4 s), mend it at T+6 s: 503s
    with Retry-After meanwhile, one log line each way, and drreef paged exactly once after."""
    caplog.set_level(logging.INFO)
    tech = await login(outage_server, "techgulf")
    room = await room_id(outage_server, tech, "Gulf Coast Imaging")
    session = await open_session(outage_server, tech, room_id=room)
    session_id = str(session["id"])
    assert (await _reach(outage_server, tech, session_id))["healthz"] == 200

    await asyncio.sleep(1)
    proxy.cut()
    await asyncio.sleep(0.5)
    async with api(outage_server, tech) as client:
        health = await client.get("/healthz")
        listing = await client.get("/api/sessions")
    assert health.status_code == 503
    assert health.json() == {"status": "down", "database": "unavailable", "bus": "ok"}
    assert health.headers["retry-after"] == "5"
    assert listing.status_code == 503
    assert listing.headers["retry-after"] == "5"
    assert listing.json()["error"] == "unavailable"
    assert "database" in listing.json()["detail"]
    assert set((await _reach(outage_server, tech, session_id)).values()) == {503}

    await asyncio.sleep(4.5)  # tier 2 (drreef, T+4 s) falls due while the database is away
    proxy.mend()
    reefs: list[dict[str, object]] = []
    for _ in range(100):
        async with api(outage_server, tech) as client:
            response = await client.get(f"/api/sessions/{session_id}/paging")
        if response.status_code == 200:
            reefs = [p for p in response.json()["paging"]["pages"] if p["name"] == "Dr Rae Reef"]
            if reefs:
                break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)  # a second firing, if there were one, would be written by now
    async with api(outage_server, tech) as client:
        pages = (await client.get(f"/api/sessions/{session_id}/paging")).json()["paging"]["pages"]
    reefs = [p for p in pages if p["name"] == "Dr Rae Reef"]
    assert [(p["tier"], p["channel"]) for p in reefs if p["channel"] == "in_app"] == [(1, "in_app")]
    reached = await _reach(outage_server, tech, session_id)
    assert reached.pop("open") == 403  # room 1 is NORTH's: a real answer again, not a 503
    assert set(reached.values()) == {200}

    pager_lines = [r.getMessage() for r in caplog.records if r.name == "paging.engine"]
    assert sum("database is unavailable" in line for line in pager_lines) == 1
    assert sum("database is back" in line for line in pager_lines) == 1
    assert not [r for r in caplog.records if r.exc_info and r.name == "paging.engine"]
