"""The session's coverage (issue 4 item 3): verified two-way live seconds and every gap with its
causes and duration, replayed from the record's ``link`` events and stored when the session ends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from signaling.sessions.coverage import causes_of, summarize
from tests.live import LiveServer, api
from tests.signaling.live.test_link import until_link
from tests.signaling.sessions.test_media_loss import joined_call, report

T0 = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_causes_name_the_sender() -> None:
    assert causes_of("technologist: live; radiologist: lost (nothing_arrives)") == (
        "radiologist:nothing_arrives",
    )
    assert causes_of("technologist: degraded (high_loss, audio_silent); radiologist: frozen") == (
        "technologist:high_loss",
        "technologist:audio_silent",
        "radiologist:frozen",
    )


def test_coverage_counts_live_time_and_each_gap_from_the_first_verified_moment() -> None:
    events = [
        (at(0), "technologist: lost (nothing_arrives); radiologist: lost (nothing_arrives)"),
        (at(3), "verified two-way live"),
        (at(63), "technologist: live; radiologist: frozen (no_frames)"),
        (at(68), "verified two-way live"),
        (at(100), "technologist: lost (no_reports); radiologist: live"),
    ]
    coverage = summarize(events, at(110), monitored=True)
    assert coverage["measured"] is True
    assert coverage["evidence"] == "server and client"
    assert coverage["verified_live_s"] == 92.0  # 3..63 and 68..100
    assert coverage["gap_s"] == 15.0
    assert [(g["seconds"], g["causes"]) for g in coverage["gaps"]] == [
        (5.0, ["radiologist:no_frames"]),
        (10.0, ["technologist:no_reports"]),
    ]
    assert coverage["gaps"][0]["start"].startswith("2026-11-22T15:01:03")


def test_a_session_never_verified_is_unmeasured_not_zero() -> None:
    events = [(at(0), "technologist: lost (nothing_arrives); radiologist: live")]
    assert summarize(events, at(30), monitored=False) == {
        "measured": False,
        "evidence": "client only",
    }
    assert summarize([], at(30), monitored=True)["measured"] is False


async def test_the_ended_session_stores_its_coverage(server: LiveServer) -> None:
    """A joined call, verified, a 2.4 s loss of the radiologist's media, verified again, ended:
    the stored coverage has the live seconds and one gap caused by the radiologist's media."""
    async with joined_call(server) as (session_id, tech, t, r):
        for n in range(1, 4):
            await report(t, r, n)
            await asyncio.sleep(0.3)
        await until_link(t, lambda m: m["verified"])
        for n in range(4, 12):
            await report(t, r, n, radiologist_arrives=False)
            await asyncio.sleep(0.3)
        await until_link(t, lambda m: not m["verified"])
        for n in range(12, 16):
            await report(t, r, n)
            await asyncio.sleep(0.3)
        await until_link(t, lambda m: m["verified"])
        async with api(server, tech) as client:
            running = (await client.get(f"/api/sessions/{session_id}/coverage")).json()
            assert running["coverage"]["measured"] is True
            ended = await client.post(
                f"/api/sessions/{session_id}/end", json={"outcome": "completed"}
            )
            assert ended.status_code == 200, ended.text
    stored = ended.json()["session"]["coverage"]
    assert stored["measured"] is True
    assert stored["gap_count"] == 1
    assert stored["gaps"][0]["causes"] == ["radiologist:nothing_arrives"]
    assert 0 < stored["gaps"][0]["seconds"] < 5
    assert stored["verified_live_s"] > 0
    async with api(server, tech) as client:
        again = (await client.get(f"/api/sessions/{session_id}/coverage")).json()["coverage"]
    assert again == stored


async def test_coverage_needs_a_login_and_a_visible_session(server: LiveServer) -> None:
    async with api(server) as client:
        anonymous = await client.get("/api/sessions/00000000-0000-4000-8000-000000000000/coverage")
    assert anonymous.status_code == 401
