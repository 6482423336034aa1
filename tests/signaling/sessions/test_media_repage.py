"""The radiologist's transport closes mid-exam (issue 4 item 7), with real aiortc peers through the real
server and the fake Twilio: the server's monitor notices within 2 s, and after the re-page window
(2 s here) the paging engine pages again, by SMS, with the gap and the re-page in the record.

The pages' own ``stats`` stay healthy throughout, so what is detected is the server's own evidence:
the radiologist's copy to the monitor stops arriving (its UDP sockets closed under it, no goodbye),
as it does when the radiologist's network dies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from tests.conftest import make_settings
from tests.fakes.twilio_server import FakeTwilio
from tests.live import LiveServer, api, connect, free_port, login, run_server
from tests.signaling.helpers import join_request, open_session, room_id, until_link
from tests.signaling.http.test_monitor import (
    LOSS_BUDGET_S,
    Call,
    _pump,
    all_checked,
    cut_the_network,
    send_copy,
)

PATEL = "+15550000005"
WINDOW_S = 2.0


@pytest.fixture
def server(database_url: str, fake_twilio: FakeTwilio) -> Iterator[LiveServer]:
    port = free_port()
    twilio = fake_twilio.settings()
    settings = make_settings(database_url, port, repage_after_s=WINDOW_S)
    with run_server(settings, port, twilio) as live:
        yield live


async def test_a_closed_transport_is_lost_within_2_s_and_re_pages_by_sms(
    server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """EAST pages Dr Patel by SMS; she joins; both copies reach the monitor and the call is verified
    and server-checked. Her transport closes: her direction is lost on the technologist's page
    within 2 s, and 2 s later the session is paging again and she gets a new SMS."""
    tokens = {
        "technologist": await login(server, "techeast"),
        "radiologist": await login(server, "drpatel"),
    }
    room = await room_id(server, tokens["technologist"], "East Side Imaging")
    session = await open_session(server, tokens["technologist"], room_id=room)
    first_sms = await fake_twilio.expect_sms(PATEL)
    await join_request(server, tokens["radiologist"], session["id"])
    async with (
        connect(server, tokens["technologist"]) as t,
        connect(server, tokens["radiologist"]) as r,
    ):
        for ws in (t, r):
            await ws.send({"type": "join", "session_id": session["id"]})
            await ws.expect("joined")
        for ws in (t, r):
            await ws.send({"type": "media_state", "video": True, "audio": True})
        call = Call(session["id"], tokens, {"technologist": t, "radiologist": r})
        pumps = [asyncio.create_task(_pump(ws)) for ws in (t, r)]
        try:
            await send_copy(server, call, "technologist")
            copy = await send_copy(server, call, "radiologist")
            await until_link(t, lambda m: m["verified"] and all_checked(m), timeout=15)

            cut_the_network(copy)
            cut_at = time.monotonic()
            await until_link(
                t,
                lambda m: m["directions"]["radiologist"]["state"] == "lost",
                timeout=LOSS_BUDGET_S + 3,
            )
            detected_s = time.monotonic() - cut_at
            print(
                f"\nradiologist's transport closed -> lost on the technologist's page: "
                f"{detected_s:.2f} s"
            )
            assert detected_s < LOSS_BUDGET_S

            second_sms = await fake_twilio.expect_sms(PATEL, timeout=WINDOW_S + 8)
            repaged_s = time.monotonic() - cut_at
            print(f"closed -> re-paged by SMS: {repaged_s:.2f} s (window {WINDOW_S} s)")
            assert second_sms.sid != first_sms.sid
            assert "East Side Imaging" in second_sms.body
        finally:
            for task in pumps:
                task.cancel()
            for pc in call.copies:
                await pc.close()
    async with api(server, tokens["technologist"]) as client:
        stored = (await client.get(f"/api/sessions/{session['id']}")).json()["session"]
        events = (await client.get(f"/api/sessions/{session['id']}/events")).json()["events"]
    assert stored["state"] == "paging"
    assert stored["radiologist"] is None
    kinds = [e["kind"] for e in events]
    assert "media_lost" in kinds
    assert any(
        e["kind"] == "link"
        and (e["detail"] or "").startswith("technologist: live; radiologist: lost")
        for e in events
    ), [e["detail"] for e in events if e["kind"] == "link"]
