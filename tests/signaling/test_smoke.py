"""The smallest round trip through a real server, on both databases."""

from __future__ import annotations

from tests.live import LiveServer, api, login


async def test_technologist_sees_rooms_of_own_facilities_only(server: LiveServer) -> None:
    """A technologist is offered the rooms of the facilities they work at, nothing else."""
    token = await login(server, "tech")
    async with api(server, token) as client:
        rooms = (await client.get("/api/rooms")).json()["rooms"]
    assert {r["facility"]["name"] for r in rooms} == {"North Imaging Center", "Lakeside Imaging"}
