"""The radiologist's media gone during a joined session (issue 4 item 4): a short drop heals with no
page, one past the window (STANDBY_REPAGE_AFTER_S, 1.5 s here) pages again from the first tier, the
technologist is told, the record keeps the gap and the re-page, and the radiologist may come back.

EAST (tests/directory.yaml) pages Dr Patel at T+0 and Dr Diaz at T+1 s. The pages' ``stats`` are
sent by the test, so "the radiologist's media stops reaching the technologist" is exact."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.live import LiveServer, Socket, api, connect, free_port, login, run_server
from tests.signaling.helpers import get_session, join_request, open_session, room_id
from tests.signaling.live.test_link import stats, until_link
from tests.signaling.pager.test_paging import paging_of

WINDOW_S = 1.5


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    port = free_port()
    with run_server(make_settings(database_url, port, repage_after_s=WINDOW_S), port) as live:
        yield live


@asynccontextmanager
async def joined_call(server: LiveServer) -> AsyncIterator[tuple[str, str, Socket, Socket]]:
    """EAST session joined by Dr Patel, both pages in the room, media verified: (id, tech token,
    technologist socket, radiologist socket)."""
    tech, patel = await login(server, "techeast"), await login(server, "drpatel")
    room = await room_id(server, tech, "East Side Imaging")
    session = await open_session(server, tech, room_id=room)
    await join_request(server, patel, session["id"])
    async with connect(server, tech) as t, connect(server, patel) as r:
        for ws in (t, r):
            await ws.send({"type": "join", "session_id": session["id"]})
            await ws.expect("joined")
        for ws in (t, r):
            await ws.send({"type": "media_state", "video": True, "audio": True})
        await until_session(t, lambda s: s["state"] == "joined")
        yield session["id"], tech, t, r


async def until_session(ws: Socket, check: Any, timeout: float = 5.0) -> dict[str, Any]:
    while True:
        message = await ws.expect("session", timeout=timeout)
        if check(message["session"]):
            return message["session"]  # type: ignore[no-any-return]


async def report(t: Socket, r: Socket, n: int, *, radiologist_arrives: bool = True) -> None:
    """One second's reports: the radiologist's page receives healthy media; the technologist's
    page receives the radiologist's media only if ``radiologist_arrives`` (else its counters stop)."""
    await r.send(stats(n))
    await t.send(stats(n) if radiologist_arrives else stats(3))


async def keep_reporting(t: Socket, r: Socket, n: int) -> None:
    """Healthy reports from both pages every 0.3 s until cancelled."""
    while True:
        n += 1
        await report(t, r, n)
        await asyncio.sleep(0.3)


def ms_between(start: str, end: str) -> int:
    return round(
        (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() * 1000
    )


async def events_of(server: LiveServer, token: str, session_id: str) -> list[dict[str, Any]]:
    async with api(server, token) as client:
        response = await client.get(f"/api/sessions/{session_id}/events")
    return response.json()["events"]  # type: ignore[no-any-return]


async def test_a_drop_shorter_than_the_window_heals_without_a_page(server: LiveServer) -> None:
    """The radiologist's media stops for about a second and comes back: no re-page; the record
    has the gap."""
    async with joined_call(server) as (session_id, tech, t, r):
        for n in range(1, 4):
            await report(t, r, n)
            await asyncio.sleep(0.3)
        await until_link(t, lambda m: m["verified"])
        for n in range(4, 12):  # gone for 2.4 s: lost after 2 s, back well within 2 s + 1.5 s
            await report(t, r, n, radiologist_arrives=False)
            await asyncio.sleep(0.3)
        for n in range(12, 16):
            await report(t, r, n)
            await asyncio.sleep(0.3)
        await until_link(t, lambda m: m["verified"])
        assert (await get_session(server, tech, session_id))["state"] == "joined"
    kinds = [e["kind"] for e in await events_of(server, tech, session_id)]
    assert "media_lost" not in kinds


async def test_radiologist_media_gone_past_the_window_pages_again(server: LiveServer) -> None:
    """Dr Patel's video and audio stop reaching the technologist: lost within 2 s, and after the
    1.5 s window the session is paging again from the first tier (Dr Patel, then Dr Diaz, who gets
    the page live). The technologist is told; Dr Patel joining again stops paging, the session's
    join time and latency stay the first ones, and the re-page keeps its own: Dr Patel, counted
    from the re-page, which is when the current paging round started (``paging_since``)."""
    diaz = await login(server, "drdiaz")
    async with connect(server, diaz) as diaz_phone, joined_call(server) as (session_id, tech, t, r):
        await diaz_phone.expect("requests")
        first = await get_session(server, tech, session_id)
        for n in range(1, 4):
            await report(t, r, n)
            await asyncio.sleep(0.3)
        await until_link(t, lambda m: m["verified"])
        paging_again = asyncio.create_task(
            until_session(t, lambda s: s["state"] == "paging", timeout=10)
        )
        for n in range(4, 30):
            await report(t, r, n, radiologist_arrives=False)
            await asyncio.sleep(0.3)
            if paging_again.done():
                break
        told = await paging_again
        assert told["radiologist"] is None
        page = await diaz_phone.expect("page", timeout=8)
        assert page["session_id"] == session_id
        paging = await paging_of(server, tech, session_id)
        assert paging["repaged"] == 1
        assert paging["state"] == "active"

        patel = await login(server, "drpatel")
        back = await join_request(server, patel, session_id)
        assert back["radiologist"]["full_name"] == "Dr Anya Patel"
        covered = await diaz_phone.expect("covered")
        assert covered["by"] == "Dr Anya Patel"
        healthy = asyncio.create_task(keep_reporting(t, r, 30))  # her media is back
        try:
            for ws in (t, r):
                await ws.send({"type": "media_state", "video": True, "audio": True})
            again = await until_session(t, lambda s: s["state"] == "joined")
            events = await events_of(server, tech, session_id)
        finally:
            healthy.cancel()
        assert again["joined_at"] == first["joined_at"]
        assert again["join_latency_ms"] == first["join_latency_ms"]
        (repage,) = again["repages"]
        assert repage["reason"] == "media_lost"
        assert repage["radiologist"]["full_name"] == "Dr Anya Patel"
        assert again["paging_since"] == repage["at"]
        assert repage["join_latency_ms"] == ms_between(repage["at"], repage["joined_at"])
    lost = [e for e in events if e["kind"] == "media_lost"]
    assert len(lost) == 1
    assert "gone for" in lost[0]["detail"]
    details = [e["detail"] for e in events if e["kind"] == "link"]
    assert any(d.startswith("technologist: live; radiologist: lost") for d in details), details
