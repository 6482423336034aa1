"""Client evidence over signaling (issue 4 items 1, 3, 4 so far): both pages report what they receive
once a second; both are told the link's state per direction; a page that stops reporting, or
leaves, shows as lost on the other page within 2 s; the technologist's socket records the changes.

The sockets here are the pages' protocol without the browsers: what they would measure is sent as
``stats`` frames, so each rule is exercised exactly."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.live import LiveServer, api, connect, login
from tests.signaling.helpers import call, stats, until_link


async def test_both_pages_reporting_healthy_media_are_verified_two_way_live(
    server: LiveServer,
) -> None:
    async with call(server) as (session_id, t, r):
        for n in range(1, 4):
            await t.send(stats(n))
            await r.send(stats(n))
            await asyncio.sleep(0.3)
        for ws in (t, r):
            link = await until_link(ws, lambda m: m["verified"])
            assert link["session_id"] == session_id
            assert {k: v["state"] for k, v in link["directions"].items()} == {
                "technologist": "live",
                "radiologist": "live",
            }
            # Client evidence alone decided (no page sent the server its media), and says so.
            assert not link["directions"]["technologist"]["server_checked"]


async def test_a_page_that_stops_reporting_shows_as_lost_on_both_pages_within_2_s(
    server: LiveServer,
) -> None:
    """The radiologist's page goes quiet (its network dropped, the socket is still open): the
    technologist's media is no longer seen arriving there. Both pages are told, and the record
    keeps the change."""
    async with call(server) as (session_id, t, r):
        for n in range(1, 4):
            await t.send(stats(n))
            await r.send(stats(n))
            last_report = time.monotonic()
            await asyncio.sleep(0.3)
        await until_link(t, lambda m: m["verified"])
        await t.send(stats(4))  # only the technologist's page goes on reporting
        lost = await until_link(
            t, lambda m: m["directions"]["technologist"]["state"] == "lost", timeout=4
        )
        detected_s = time.monotonic() - last_report
        assert lost["directions"]["technologist"]["causes"] == ["no_reports"]
        assert not lost["verified"]
        assert detected_s < 2.0, f"shown as lost {detected_s:.2f} s after the last report"
        await until_link(r, lambda m: m["directions"]["technologist"]["state"] == "lost")
    async with api(server, await login(server, "tech")) as client:
        events = (await client.get(f"/api/sessions/{session_id}/events")).json()["events"]
    details = [e["detail"] for e in events if e["kind"] == "link"]
    # NORTH has the server's monitor on, but these pages sent it nothing: the record says so.
    assert "verified two-way live [not checked by the server: technologist, radiologist]" in details
    assert any(d.startswith("technologist: lost (no_reports)") for d in details), details


async def test_a_page_that_leaves_is_lost_at_once(server: LiveServer) -> None:
    async with call(server) as (_, t, r):
        for n in range(1, 3):
            await t.send(stats(n))
            await r.send(stats(n))
            await asyncio.sleep(0.3)
        await until_link(t, lambda m: m["verified"])
        left_at = time.monotonic()
        await r.send({"type": "leave"})
        await until_link(t, lambda m: m["directions"]["technologist"]["state"] == "lost", timeout=2)
        assert time.monotonic() - left_at < 1.0


async def test_video_that_stops_while_audio_flows_is_frozen(server: LiveServer) -> None:
    """The radiologist's page keeps decoding audio but no new frames: the technologist's video froze
    (as the radiologist sees it)."""
    async with call(server) as (_, t, r):
        for n in range(1, 7):
            await t.send(stats(n))
            await r.send(stats(n, frames_decoded=30, fps=0.0) if n > 2 else stats(n))
            await asyncio.sleep(0.5)
        frozen = await until_link(t, lambda m: m["directions"]["technologist"]["state"] == "frozen")
        assert "no_frames" in frozen["directions"]["technologist"]["causes"]
        assert frozen["directions"]["radiologist"]["state"] == "live"


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        (stats(1, frames_decoded=-1), "frames_decoded"),
        (stats(1, fps=1e9), "fps"),
        (stats(1, audio_level=2), "audio_level"),
        (stats(1, candidate="carrier-pigeon"), "candidate"),
        ({"type": "stats", "fps": 30}, "frames_decoded"),
        (stats(1, extra="x"), "extra"),
    ],
)
async def test_malformed_stats_are_refused_and_the_socket_stays(
    server: LiveServer, frame: dict[str, Any], problem: str
) -> None:
    async with call(server) as (_, t, _r):
        await t.send(frame)
        error = await t.expect("error")
        assert error["code"] == "invalid_message"
        assert problem in error["message"]
        await t.send({"type": "ping"})
        await t.expect("pong")


async def test_stats_before_joining_a_session_are_refused(server: LiveServer) -> None:
    async with connect(server, await login(server, "tech")) as ws:
        await ws.send(stats(1))
        assert (await ws.expect("error"))["code"] == "not_joined"
