"""Steps the signaling scenario tests share."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tests.live import LiveServer, Socket, api, connect, login


async def room_id(
    server: LiveServer, token: str, facility: str = "North Imaging Center", index: int = 0
) -> int:
    """The ``index``-th room of ``facility`` (a room has one open session at a time)."""
    async with api(server, token) as client:
        rooms = (await client.get("/api/rooms")).json()["rooms"]
    return [r["id"] for r in rooms if r["facility"]["name"] == facility][index]


async def open_session(
    server: LiveServer, tech_token: str | None = None, **body: Any
) -> dict[str, Any]:
    """The technologist asks for supervision in a NORTH (Texas) room; returns the session JSON."""
    token = tech_token or await login(server, "tech")
    if "room_id" not in body:
        body["room_id"] = await room_id(server, token)
    payload = {"accession_number": "ACC-1001"} | body
    async with api(server, token) as client:
        response = await client.post("/api/sessions", json=payload)
    assert response.status_code == 201, response.text
    return response.json()["session"]  # type: ignore[no-any-return]


async def accept(server: LiveServer, token: str, session_id: str) -> dict[str, Any]:
    """A promise to join (holds the next tiers); the session is not the radiologist's yet."""
    async with api(server, token) as client:
        response = await client.post(f"/api/sessions/{session_id}/accept")
    assert response.status_code == 200, response.text
    return response.json()["session"]  # type: ignore[no-any-return]


async def join_request(server: LiveServer, token: str, session_id: str) -> dict[str, Any]:
    """Take the session, as the console's Accept button does: the first to join wins."""
    async with api(server, token) as client:
        response = await client.post(f"/api/sessions/{session_id}/join")
    assert response.status_code == 200, response.text
    return response.json()["session"]  # type: ignore[no-any-return]


async def get_session(server: LiveServer, token: str, session_id: str) -> dict[str, Any]:
    async with api(server, token) as client:
        response = await client.get(f"/api/sessions/{session_id}")
    assert response.status_code == 200, response.text
    return response.json()["session"]  # type: ignore[no-any-return]


def stats(n: int, **changes: Any) -> dict[str, Any]:
    """The n-th report of a healthy incoming stream (30 fps, 50 audio packets a second)."""
    return {
        "type": "stats",
        "frames_decoded": 30 * n,
        "fps": 30.0,
        "audio_packets": 50 * n,
        "audio_level": 0.05,
        "rtt_ms": 12.0,
        "loss": 0.0,
        "jitter_ms": 3.0,
        "bitrate_kbps": 800.0,
        "candidate": "host",
    } | changes


@asynccontextmanager
async def call(server: LiveServer) -> AsyncIterator[tuple[str, Socket, Socket]]:
    tech = await login(server, "tech")
    rad = await login(server, "drdiaz")
    session = await open_session(server, tech)
    await join_request(server, rad, session["id"])
    async with connect(server, tech) as t, connect(server, rad) as r:
        for ws in (t, r):
            await ws.send({"type": "join", "session_id": session["id"]})
            await ws.expect("joined")
        yield session["id"], t, r


async def until_link(ws: Socket, check: Any, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        message = await ws.expect("link", timeout=max(0.1, deadline - time.monotonic()))
        if check(message):
            return message
