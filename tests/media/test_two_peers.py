"""Two synthetic aiortc participants through the real server: media both ways, then ``joined``."""

from __future__ import annotations

import asyncio

from tests.live import LiveServer
from tests.media.calls import RADIOLOGIST, TECHNOLOGIST, ms_between, open_call, parse_ms

TIMEOUT = 15


async def test_two_peers_exchange_audio_and_video_and_the_session_joins(
    server: LiveServer,
) -> None:
    """Audio and video flow both ways; the server stores joined with its milestones and events."""
    call = await open_call(server)
    async with (
        call.participant(TECHNOLOGIST) as tech,
        call.participant(RADIOLOGIST) as rad,
    ):
        await tech.join(call.session_id)
        await rad.join(call.session_id)
        await asyncio.gather(
            tech.wait_for_media(frames=3, timeout=TIMEOUT),
            rad.wait_for_media(frames=3, timeout=TIMEOUT),
        )
        pushed = await tech.wait_for_state("joined", timeout=TIMEOUT)
        await rad.wait_for_state("joined", timeout=TIMEOUT)
        for side in (tech, rad):
            assert side.frames_received["audio"] > 0
            assert side.frames_received["video"] > 0
            assert side.connections == 1
            assert side.ice_state in ("connected", "completed")

    stored = (await call.get())["session"]
    assert stored["state"] == "joined"
    assert stored["joined_at"] == pushed["joined_at"]
    for milestone in ("requested_at", "paging_at", "accepted_at", "ice_connected_at", "joined_at"):
        assert stored[milestone] is not None, milestone
    assert parse_ms(stored["accepted_at"]) <= parse_ms(stored["ice_connected_at"])
    assert parse_ms(stored["joined_at"]) >= parse_ms(stored["accepted_at"])
    assert stored["join_latency_ms"] == ms_between(stored["requested_at"], stored["joined_at"])

    events = (await call.get("/events"))["events"]
    transitions = [(e["from_state"], e["to_state"]) for e in events if e["kind"] == "transition"]
    assert transitions == [(None, "requested"), ("requested", "paging"), ("paging", "joined")]
    kinds = [e["kind"] for e in events]
    assert kinds.index("accepted") < kinds.index("ice_connected") < len(kinds) - 1
    assert sorted(e["detail"] for e in events if e["kind"] == "media_verified") == [
        RADIOLOGIST,
        TECHNOLOGIST,
    ]


async def test_technologist_reconnect_replaces_the_first_socket_and_media_resumes(
    server: LiveServer,
) -> None:
    """A second technologist socket on the same session closes the first (4409) and media resumes."""
    call = await open_call(server)
    async with (
        call.participant(RADIOLOGIST) as rad,
        call.participant(TECHNOLOGIST, name="tech-1") as first,
    ):
        await first.join(call.session_id)
        await rad.join(call.session_id)
        await first.wait_for_state("joined", timeout=TIMEOUT)

        async with call.participant(TECHNOLOGIST, name="tech-2") as second:
            joined = await second.join(call.session_id)
            assert joined["session"]["state"] == "joined"
            assert await first.wait_closed(timeout=TIMEOUT) == 4409

            await second.wait_for_media(frames=3, timeout=TIMEOUT)
            await rad.wait_for(
                lambda: rad.connections == 2 and min(rad.frames_received.values()) >= 3,
                timeout=TIMEOUT,
                what="media from the second technologist socket",
            )
            assert second.connections == 1
            assert second.ice_state in ("connected", "completed")

    stored = (await call.get())["session"]
    assert stored["state"] == "joined"
