"""Helpers for media tests: a supervision call opened by "tech" and accepted by "drdiaz"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from media.participant import RADIOLOGIST, TECHNOLOGIST, Participant
from tests.live import LiveServer, api, login


@dataclass
class Call:
    server: LiveServer
    tech_token: str
    rad_token: str
    session_id: str

    def participant(self, role: str, name: str | None = None) -> Participant:
        """A synthetic participant for this call's technologist or radiologist (no ICE servers)."""
        token = self.tech_token if role == TECHNOLOGIST else self.rad_token
        return Participant(
            self.server.ws_url, f"standby_session={token}", role, ice_servers=[], name=name
        )

    async def get(self, path: str = "", token: str | None = None) -> dict[str, Any]:
        async with api(self.server, token or self.tech_token) as client:
            response = await client.get(f"/api/sessions/{self.session_id}{path}")
            response.raise_for_status()
            return response.json()  # type: ignore[no-any-return]


async def open_call(server: LiveServer, *, accept: bool = True) -> Call:
    """tech asks for supervision in a NORTH room; drdiaz accepts and joins (unless ``accept`` is False)."""
    tech, rad = await login(server, "tech"), await login(server, "drdiaz")
    async with api(server, tech) as client:
        rooms = (await client.get("/api/rooms")).json()["rooms"]
        room = next(r for r in rooms if r["facility"]["name"] == "North Imaging Center")
        opened = await client.post(
            "/api/sessions", json={"room_id": room["id"], "accession_number": "ACC-1001"}
        )
        assert opened.status_code == 201, opened.text
        session_id = opened.json()["session"]["id"]
    if accept:
        async with api(server, rad) as client:
            accepted = await client.post(f"/api/sessions/{session_id}/join")
            assert accepted.status_code == 200, accepted.text
    return Call(server, tech, rad, session_id)


def parse_ms(value: str) -> datetime:
    """A wire timestamp (``2026-11-22T11:00:00.123Z``) to an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def ms_between(start: str, end: str) -> int:
    return round((parse_ms(end) - parse_ms(start)).total_seconds() * 1000)


__all__ = ["RADIOLOGIST", "TECHNOLOGIST", "Call", "ms_between", "open_call", "parse_ms"]
