"""Steps the signaling scenario tests share."""

from __future__ import annotations

from typing import Any

from tests.live import LiveServer, api, login


async def room_id(server: LiveServer, token: str, facility: str = "North Imaging Center") -> int:
    async with api(server, token) as client:
        rooms = (await client.get("/api/rooms")).json()["rooms"]
    return next(r["id"] for r in rooms if r["facility"]["name"] == facility)


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
