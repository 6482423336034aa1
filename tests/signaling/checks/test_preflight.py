"""Pre-flight check against a real server: a real aiortc page sends synthetic camera and
microphone to the server's monitor, reports its network, and gets the verdict in words."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import pytest
from aiortc import RTCIceTransportPolicy, RTCPeerConnection, RTCSessionDescription

from media.participant import ice_configuration
from media.synthetic import AudioMode, SyntheticAudioTrack, SyntheticVideoTrack, VideoMode
from tests.conftest import make_settings
from tests.coturn import start_coturn, stop_coturn, udp_port
from tests.live import LiveServer, api, free_port, login, run_server
from tests.signaling.preflight_steps import new_device, page_offer, run_check
from tests.udp_trap import only_candidates, udp_trap, with_candidates


async def test_a_healthy_camera_and_microphone_pass(server: LiveServer) -> None:
    """A working camera, microphone and loopback network: passed, each said plainly (how long from
    the click to the verdict is printed as measured, not asserted: a speed is a benchmark's)."""
    tech = await login(server, "tech")
    run = await run_check(server, tech, new_device())
    print(f"click to verdict: {run.seconds:.2f} s; {run.check}")
    check = run.check
    assert check["camera"]["text"] == "Camera: working"
    assert check["microphone"]["text"] == "Microphone: working"
    assert check["network"]["text"].startswith("Network: ")
    assert "% loss, direct connection (no relay needed)" in check["network"]["text"]
    assert check["network"]["relay"] is False
    assert check["passed"] is True, check
    assert check["summary"] == "Passed"
    assert check["state"] == "complete"
    assert check["valid_until"] is not None
    assert server.app_state().preflight.running == 0, "the monitor is closed"


async def test_a_black_camera_fails_asking_whether_the_lens_is_covered(server: LiveServer) -> None:
    """Black frames: not passed, and the page is told the lens may be covered."""
    run = await run_check(
        server, await login(server, "drdiaz"), new_device(), video=VideoMode.BLACK
    )
    assert run.check["camera"] == {
        "verdict": "black",
        "text": "Camera: sends black — is the lens covered?",
    }
    assert run.check["microphone"]["verdict"] == "ok"
    assert run.check["passed"] is False
    assert run.check["summary"] == "Not passed: camera"
    assert run.check["valid_until"] is None


async def test_a_silent_microphone_fails(server: LiveServer) -> None:
    """Digital silence: not passed, "Microphone: silent"."""
    run = await run_check(
        server, await login(server, "tech"), new_device(), audio=AudioMode.SILENCE
    )
    assert run.check["camera"]["verdict"] == "ok"
    assert run.check["microphone"] == {
        "verdict": "silent",
        "text": "Microphone: silent — is it muted?",
    }
    assert run.check["passed"] is False


async def test_a_page_without_a_camera_is_told_no_video_arrived(server: LiveServer) -> None:
    """An offer with a microphone only: "no video arrived", not passed."""
    run = await run_check(server, await login(server, "tech"), new_device(), video=None)
    assert run.check["camera"]["verdict"] == "no_video"
    assert run.check["camera"]["text"].startswith("Camera: no video arrived")
    assert run.check["passed"] is False


async def test_a_poor_network_fails_even_with_good_media(server: LiveServer) -> None:
    """A page reporting 650 ms and 8 % loss through a relay: media fine, network not."""
    tech = await login(server, "tech")
    pc, offer = await page_offer()
    try:
        async with api(server, tech) as client:
            started = (
                await client.post(
                    "/api/preflight/checks", json={"sdp": offer, "device_id": new_device()}
                )
            ).json()
            await pc.setRemoteDescription(RTCSessionDescription(sdp=started["sdp"], type="answer"))
            response = await client.post(
                f"/api/preflight/checks/{started['check_id']}/finish",
                json={"rtt_ms": 650, "loss": 0.08, "candidate": "relay"},
            )
    finally:
        await pc.close()
    assert response.status_code == 200, response.text
    check = response.json()["check"]
    assert check["network"]["verdict"] == "poor"
    assert check["network"]["text"].startswith(
        "Network: 650 ms round trip, 8% loss, through the relay server"
    )
    assert check["network"]["relay"] is True
    assert check["passed"] is False
    assert "network" in check["summary"]


async def test_results_are_kept_per_device_and_user(server: LiveServer) -> None:
    """Each person sees their own latest result per device, newest first; never someone else's."""
    tech, rad = await login(server, "tech"), await login(server, "drdiaz")
    desk, phone = new_device(), new_device()
    await run_check(server, tech, desk, video=VideoMode.BLACK, label="desk")
    await run_check(server, tech, desk, label="desk")
    await run_check(server, tech, phone, audio=AudioMode.SILENCE, label="phone")
    await run_check(server, rad, new_device(), label="home")
    async with api(server, tech) as client:
        mine = (await client.get("/api/preflight/checks")).json()
        one = (await client.get("/api/preflight/checks", params={"device_id": desk})).json()
    assert [(c["device_label"], c["passed"]) for c in mine["checks"]] == [
        ("phone", False),
        ("desk", True),
    ]
    assert mine["valid_h"] == 12
    assert mine["required_by"] == []
    assert [(c["device_id"], c["passed"]) for c in one["checks"]] == [(desk, True)]
    async with api(server, rad) as client:
        theirs = (await client.get("/api/preflight/checks")).json()["checks"]
    assert [c["device_label"] for c in theirs] == ["home"]


async def test_the_check_sends_connectivity_checks_only_to_the_page(server: LiveServer) -> None:
    """An offer that also names 127.0.0.2, ranked first: the check passes over the page's own
    address (127.0.0.1) and 127.0.0.2 never gets a packet."""
    async with udp_trap("127.0.0.2") as trap:
        run = await run_check(
            server,
            await login(server, "tech"),
            new_device(),
            edit=lambda sdp: with_candidates(sdp, trap.candidate()),
            late=True,
        )
        assert run.check["passed"] is True, run.check
        assert trap.packets == []


async def test_an_offer_naming_only_other_addresses_changes_nothing(server: LiveServer) -> None:
    """Candidates at 127.0.0.2 and 127.0.0.3 only: 422 no_usable_candidate saying which address
    was expected, nothing sent there, no check stored or started, the device's pass kept."""
    tech, device = await login(server, "tech"), new_device()
    passed = await run_check(server, tech, device)
    async with udp_trap("127.0.0.2") as two, udp_trap("127.0.0.3") as three:
        pc, offer = await page_offer()
        try:
            async with api(server, tech) as client:
                refused = await client.post(
                    "/api/preflight/checks",
                    json={
                        "sdp": only_candidates(offer, two.candidate(), three.candidate()),
                        "device_id": device,
                    },
                )
                latest = (await client.get("/api/preflight/checks")).json()["checks"]
        finally:
            await pc.close()
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"] == "no_usable_candidate"
        assert refused.json()["detail"] == (
            "sdp: expected an ICE candidate at 127.0.0.1 (where this request came from), "
            "got 2 at other addresses; the server sends connectivity checks nowhere else"
        )
        assert two.packets == three.packets == []
    assert [(c["id"], c["passed"]) for c in latest] == [(passed.check["id"], True)]
    assert server.app_state().preflight.running == 0


async def test_a_new_check_replaces_the_running_one(server: LiveServer) -> None:
    """One running check per person: starting again (a reloaded page) abandons the first."""
    tech = await login(server, "tech")
    first_pc, first_offer = await page_offer()
    try:
        async with api(server, tech) as client:
            first = await client.post(
                "/api/preflight/checks", json={"sdp": first_offer, "device_id": new_device()}
            )
            assert first.status_code == 201
            run = await run_check(server, tech, new_device())
            late = await client.post(
                f"/api/preflight/checks/{first.json()['check_id']}/finish", json={}
            )
    finally:
        await first_pc.close()
    assert run.check["passed"] is True
    assert late.status_code == 409
    assert "incomplete" in late.json()["detail"]
    assert server.app_state().preflight.running == 0


async def test_a_worker_runs_at_most_its_cap_and_closes_monitors_of_vanished_pages(
    database_url: str,
) -> None:
    """With a cap of one, a second person's check is refused (503) while the first runs; a page
    that vanishes without connecting still has its monitor closed and its check kept as such."""
    port = free_port()
    with run_server(make_settings(database_url, port, preflight_max_running=1), port) as server:
        tech, rad = await login(server, "tech"), await login(server, "drdiaz")
        pc, offer = await page_offer()
        await pc.close()  # the page vanishes before connecting
        async with api(server, tech) as client:
            started = await client.post(
                "/api/preflight/checks", json={"sdp": offer, "device_id": new_device()}
            )
            assert started.status_code == 201
        other_pc, other_offer = await page_offer()
        await other_pc.close()
        async with api(server, rad) as client:
            busy = await client.post(
                "/api/preflight/checks", json={"sdp": other_offer, "device_id": new_device()}
            )
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "5"
        assert busy.json()["error"] == "busy"
        async with api(server, tech) as client:
            # The report of a page that never connected: the verdict waits for the capture.
            finished = await client.post(
                f"/api/preflight/checks/{started.json()['check_id']}/finish", json={}
            )
        assert finished.status_code == 200, finished.text
        check = finished.json()["check"]
        assert (check["camera"]["verdict"], check["microphone"]["verdict"]) == (
            "no_video",
            "no_audio",
        )
        assert check["network"]["text"] == (
            "Network: round trip not measured, loss not measured, connection type unknown"
        )
        assert check["passed"] is False
        assert server.app_state().preflight.running == 0


# --- malformed, oversized, unauthorised ------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"sdp": "hello", "device_id": "abcdefgh1234"}, "sdp: expected an"),
        ({"device_id": "abcdefgh1234"}, "body.sdp: Field required"),
        ({"sdp": "v=0", "device_id": "short"}, "body.device_id"),
        ({"sdp": "v=0", "device_id": "../../etc/passwd"}, "body.device_id"),
        ({"sdp": "x" * 32_001, "device_id": "abcdefgh1234"}, "body.sdp"),
        ({"sdp": "v=0", "device_id": "abcdefgh1234", "extra": 1}, "body.extra"),
        ({"sdp": "v=0", "device_id": "abcdefgh1234", "device_label": "x" * 201}, "device_label"),
    ],
    ids=["not-sdp", "no-sdp", "short-device", "odd-device", "long-sdp", "extra", "long-label"],
)
async def test_a_malformed_start_is_a_422_naming_the_problem(
    server: LiveServer, body: dict[str, object], expected: str
) -> None:
    """Malformed starts are refused with the field named, and nothing keeps running."""
    async with api(server, await login(server, "tech")) as client:
        response = await client.post("/api/preflight/checks", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_input"
    assert expected in response.json()["detail"]
    assert server.app_state().preflight.running == 0


async def test_oversized_unauthorised_and_foreign_requests_are_refused(server: LiveServer) -> None:
    """No login: 401; an admin: 403; a body over 64 KiB: 413; another person's check: 404;
    bad network figures: 422; reporting twice: 409; an unknown check: 404."""
    async with api(server) as client:
        assert (await client.post("/api/preflight/checks", json={})).status_code == 401
        assert (await client.get("/api/preflight/checks")).status_code == 401
    async with api(server, await login(server, "admin")) as client:
        assert (await client.get("/api/preflight/checks")).status_code == 403
    tech = await login(server, "tech")
    async with api(server, tech) as client:
        big = await client.post(
            "/api/preflight/checks", json={"sdp": "x" * 70_000, "device_id": "abcdefgh1234"}
        )
        assert big.status_code == 413
    run = await run_check(server, tech, new_device())
    finish = f"/api/preflight/checks/{run.check['id']}/finish"
    async with api(server, await login(server, "drdiaz")) as client:
        assert (await client.post(finish, json={})).status_code == 404
    async with api(server, tech) as client:
        for bad in ({"loss": 2}, {"rtt_ms": -1}, {"candidate": "carrier-pigeon"}, {"x": 1}):
            response = await client.post(finish, json=bad)
            assert response.status_code == 422, bad
        again = await client.post(finish, json={})
        assert again.status_code == 409
        assert "complete" in again.json()["detail"]
        assert (await client.post("/api/preflight/checks/99999/finish", json={})).status_code == 404
        assert (await client.post("/api/preflight/checks/0/finish", json={})).status_code == 422
        odd = await client.get("/api/preflight/checks", params={"device_id": "no spaces!"})
        assert odd.status_code == 422


RELAY_IP = "127.0.0.4"  # not the requester's 127.0.0.1: what reaches the relay is told apart


@pytest.fixture
def relay_only_server(database_url: str) -> Iterator[LiveServer]:
    """A relay-only service whose coturn listens and relays on 127.0.0.4."""
    turn_port, secret = udp_port(), secrets.token_urlsafe(24)
    coturn = start_coturn(turn_port, secret, RELAY_IP)
    port = free_port()
    settings = make_settings(
        database_url,
        port,
        turn_urls=[f"turn:{RELAY_IP}:{turn_port}?transport=udp"],
        turn_secret=secret,
        ice_transport_policy="relay",
    )
    try:
        with run_server(settings, port) as live:
            yield live
    finally:
        stop_coturn(coturn)


async def test_relay_only_checks_go_to_the_relay_only(relay_only_server: LiveServer) -> None:
    """Relay-only: a page offering its relayed candidates and one at its own address 127.0.0.1
    (ranked first) passes through the relay; the server's peer knows only the relay's candidates
    and 127.0.0.1 gets nothing."""
    server, tech = relay_only_server, await login(relay_only_server, "tech")
    async with api(server, tech) as client:
        config = (await client.get("/api/config")).json()
    assert config["ice_transport_policy"] == "relay"
    configuration = ice_configuration(config["ice_servers"])
    configuration.iceTransportPolicy = RTCIceTransportPolicy.RELAY
    pc = RTCPeerConnection(configuration)
    pc.addTrack(SyntheticAudioTrack())
    pc.addTrack(SyntheticVideoTrack(fps=10, label="relayed"))
    try:
        async with udp_trap("127.0.0.1") as trap, api(server, tech) as client:
            await pc.setLocalDescription(await pc.createOffer())
            offer = pc.localDescription.sdp
            assert f" {RELAY_IP} " in offer
            started = await client.post(
                "/api/preflight/checks",
                json={"sdp": with_candidates(offer, trap.candidate()), "device_id": new_device()},
            )
            assert started.status_code == 201, started.text
            runner = server.app_state().preflight
            (running,) = runner._running.values()
            transport = running.monitor._pc.getTransceivers()[0].receiver.transport.transport
            remote = {c.host for c in transport._connection._remote_candidates}
            assert remote == {RELAY_IP}
            answer = started.json()["sdp"]
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            await asyncio.sleep(started.json()["capture_s"])
            finished = await client.post(
                f"/api/preflight/checks/{started.json()['check_id']}/finish",
                json={"candidate": "relay"},
            )
            assert finished.status_code == 200, finished.text
            check = finished.json()["check"]
            assert check["camera"]["verdict"] == check["microphone"]["verdict"] == "ok", check
            assert trap.packets == []
    finally:
        await pc.close()
