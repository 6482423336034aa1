"""Paging through the real service: tiers in seconds, names not numbers, hold on accept, stop on join.

The EAST facility of tests/directory.yaml pages EAST-PRIMARY (Dr Patel) at T+0 on in-app and SMS,
EAST-BACKUP (Dr Diaz) at T+1 s, the eligible pool at T+2 s. No carrier is configured here, so SMS
pages are recorded as skipped with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.live import LiveServer, Socket, api, connect, free_port, login, run_server
from tests.signaling.helpers import accept, join_request, open_session, room_id


async def east_session(server: LiveServer) -> tuple[str, dict[str, Any]]:
    tech = await login(server, "techeast")
    return tech, await open_session(
        server, tech, room_id=await room_id(server, tech, "East Side Imaging")
    )


async def paging_of(server: LiveServer, token: str, session_id: str) -> dict[str, Any]:
    async with api(server, token) as client:
        response = await client.get(f"/api/sessions/{session_id}/paging")
    assert response.status_code == 200, response.text
    return response.json()["paging"]  # type: ignore[no-any-return]


async def until_paging(ws: Socket, check: Any, timeout: float = 8.0) -> dict[str, Any]:
    """The first ``paging`` update that satisfies ``check``."""
    while True:
        update = await ws.expect("paging", timeout=timeout)
        if check(update["paging"]):
            return update["paging"]  # type: ignore[no-any-return]


async def test_request_pages_the_primary_at_once_and_the_technologist_sees_names(
    server: LiveServer,
) -> None:
    """The on-call primary is paged in-app at T+0; the technologist sees the name, never the number."""
    patel = await login(server, "drpatel")
    async with connect(server, patel) as phone:
        await phone.expect("requests")
        tech, session = await east_session(server)
        page = await phone.expect("page")
        assert (page["session_id"], page["tier"]) == (session["id"], 0)
        async with connect(server, tech) as console:
            await console.send({"type": "join", "session_id": session["id"]})
            await console.expect("joined")
            summary = await paging_of(server, tech, session["id"])
    first = [
        (p["name"], p["channel"], p["status"], p["detail"])
        for p in summary["pages"]
        if p["tier"] == 0
    ]
    assert ("Dr Anya Patel", "in_app", "sent", None) in first
    assert ("Dr Anya Patel", "sms", "skipped", "sms is not configured") in first
    assert "+1555" not in str(summary)


async def test_tiers_escalate_in_seconds_and_a_join_stops_paging(server: LiveServer) -> None:
    """Backup at T+1 s, pool at T+2 s with ineligible people skipped and why; the join stops it all
    and the others paged are told it is covered, and by whom."""
    patel, diaz = await login(server, "drpatel"), await login(server, "drdiaz")
    async with connect(server, patel) as patel_phone, connect(server, diaz) as diaz_phone:
        tech, session = await east_session(server)
        async with connect(server, tech) as console:
            await console.send({"type": "join", "session_id": session["id"]})
            await console.expect("joined")
            assert (await diaz_phone.expect("page", timeout=5))["tier"] == 1
            summary = await until_paging(console, lambda p: p["tier"] == 2)
            skipped = {
                (p["name"], p["detail"]) for p in summary["pages"] if p["status"] == "skipped"
            }
            assert ("Dr Old License", "license_expired") in skipped
            await join_request(server, diaz, session["id"])
            await diaz_phone.send({"type": "join", "session_id": session["id"]})
            await diaz_phone.expect("joined")
            for ws in (console, diaz_phone):
                await ws.send({"type": "media_state", "video": True, "audio": True})
            covered = await patel_phone.expect("covered")
            assert covered == {"type": "covered", "session_id": session["id"], "by": "Dr Ray Diaz"}
    final = await paging_of(server, tech, session["id"])
    assert (final["state"], final["stop_reason"]) == ("stopped", "joined")


async def test_accepting_holds_further_tiers(server: LiveServer) -> None:
    """An accept at T+0 holds the T+1 s backup tier: Dr Diaz is not paged while the hold lasts."""
    patel, diaz = await login(server, "drpatel"), await login(server, "drdiaz")
    async with connect(server, diaz) as diaz_phone:
        await diaz_phone.expect("requests")
        tech, session = await east_session(server)
        await accept(server, patel, session["id"])
        summary = await paging_of(server, tech, session["id"])
        assert summary["state"] == "held"
        assert summary["held_until"] is not None
        await diaz_phone.send({"type": "ping"})
        # well past T+1 s (and T+2 s): still only pongs and lobby traffic, no page
        for _ in range(6):
            await diaz_phone.send({"type": "ping"})
            await diaz_phone.expect("pong")
            await asyncio.sleep(0.5)
        assert "page" not in [m["type"] for m in diaz_phone.seen]
        assert [
            p["name"]
            for p in (await paging_of(server, tech, session["id"]))["pages"]
            if p["tier"] > 0
        ] == []


async def test_cancelling_stops_paging(server: LiveServer) -> None:
    """A cancelled request pages nobody further."""
    tech, session = await east_session(server)
    async with api(server, tech) as client:
        ended = await client.post(
            f"/api/sessions/{session['id']}/end",
            json={"outcome": "cancelled", "reason": "patient_declined"},
        )
    assert ended.status_code == 200
    summary = await paging_of(server, tech, session["id"])
    assert (summary["state"], summary["stop_reason"]) == ("stopped", "cancelled")


async def test_paging_view_needs_scope(server: LiveServer) -> None:
    """Another facility's technologist cannot read who was paged."""
    _, session = await east_session(server)
    async with api(server, await login(server, "tech")) as client:
        assert (await client.get(f"/api/sessions/{session['id']}/paging")).status_code == 404


@pytest.fixture
def short_grace_server(database_url: str) -> Iterator[LiveServer]:
    """The service with a 1.5 s grace window (STANDBY_ACCEPT_GRACE_S), to see it lapse."""
    port = free_port()
    with run_server(make_settings(database_url, port, accept_grace_s=1.5), port) as live:
        yield live


async def test_an_accept_without_a_join_lets_escalation_resume(
    short_grace_server: LiveServer,
) -> None:
    """Dr Patel accepts at T+0 and does not join: the backup tier waits for the grace window
    (1.5 s here), then fires; Dr Patel's accept still stands and she may still join, which stops
    paging and tells Dr Diaz, who was paged meanwhile, that it is covered and by whom."""
    server = short_grace_server
    patel, diaz = await login(server, "drpatel"), await login(server, "drdiaz")
    async with connect(server, diaz) as diaz_phone:
        await diaz_phone.expect("requests")
        tech, session = await east_session(server)
        await accept(server, patel, session["id"])
        held = await paging_of(server, tech, session["id"])
        assert held["state"] == "held"
        assert [(a["name"], a["via"], a["status"]) for a in held["accepts"]] == [
            ("Dr Anya Patel", "web", "standing")
        ]
        page = await diaz_phone.expect("page", timeout=8)
        assert page["tier"] == 1
        resumed = await paging_of(server, tech, session["id"])
        assert resumed["state"] == "active"
        fired = {p["tier"]: p["at"] for p in resumed["pages"] if p["name"] == "Dr Ray Diaz"}
        # The backup tier was due at T+1 s but fired only after the hold (accept + 1.5 s).
        assert fired[1] >= held["held_until"]
        await join_request(server, patel, session["id"])
        covered = await diaz_phone.expect("covered")
        assert covered == {"type": "covered", "session_id": session["id"], "by": "Dr Anya Patel"}
    final = await paging_of(server, tech, session["id"])
    assert (final["state"], final["stop_reason"]) == ("stopped", "joined")
