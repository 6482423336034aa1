"""The /ws endpoint: bad, oversized and unauthorised input gets a named error and loses nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from websockets.exceptions import ConnectionClosed

from signaling.live.close_codes import CloseCode
from tests.live import LiveServer, connect, login
from tests.signaling.helpers import get_session, join_request, open_session, room_id


async def test_no_login_gets_an_error_and_close_4401(server: LiveServer) -> None:
    """A socket without a login is told why and closed with 4401."""
    async with connect(server, None) as ws:
        error = await ws.next()
        assert error == {"type": "error", "code": "unauthenticated", "message": "log in first"}
        with pytest.raises(ConnectionClosed) as closed:
            await ws.next()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CloseCode.UNAUTHENTICATED


async def test_forged_cookie_is_unauthenticated(server: LiveServer) -> None:
    """A made-up session token is no login."""
    async with connect(server, "not-a-real-token") as ws:
        assert (await ws.next())["code"] == "unauthenticated"


async def test_foreign_origin_is_closed_4403(server: LiveServer) -> None:
    """A page from another site cannot ride a radiologist's cookie into the socket."""
    token = await login(server, "drdiaz")
    async with connect(server, token, origin="https://evil.example") as ws:
        assert (await ws.next())["code"] == "forbidden_origin"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.next()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CloseCode.FORBIDDEN_ORIGIN


async def test_own_origin_is_accepted(server: LiveServer) -> None:
    """The service's own pages may open the socket."""
    token = await login(server, "tech")
    async with connect(server, token, origin=server.url) as ws:
        assert (await ws.next())["type"] == "hello"


@pytest.mark.parametrize(
    ("frame", "code", "words"),
    [
        ("this is not json", "invalid_json", "not JSON"),
        ("[1, 2]", "invalid_message", "expected a JSON object"),
        ('{"no_type": 1}', "invalid_message", "type"),
        ('{"type": "launch_missiles"}', "unknown_type", "launch_missiles"),
        ('{"type": "join"}', "invalid_message", "session_id"),
        ('{"type": "join", "session_id": "../../etc"}', "invalid_message", "session_id"),
        ('{"type": "media_state", "video": "maybe", "audio": true}', "invalid_message", "video"),
        ('{"type": "ice_state", "state": "groovy"}', "invalid_message", "state"),
        ('{"type": "ping", "extra": 1}', "invalid_message", "extra"),
        ('{"type": "offer", "sdp": "v=0"}', "not_joined", "join a session"),
        ("[" * 30_000 + "]" * 30_000, "invalid_json", "nested too deep"),
        ('{"type": "ping", "n": ' + "9" * 5000 + "}", "invalid_json", "digits"),
        ('{"type": "stats", "frames_decoded": 1e400}', "invalid_message", "frames_decoded"),
        (
            '{"type": "stats", "frames_decoded": 1, "fps": NaN, "audio_packets": 1,'
            ' "audio_level": 0}',
            "invalid_message",
            "fps",
        ),
    ],
)
async def test_malformed_frames_get_named_errors_and_the_socket_stays(
    server: LiveServer, frame: str, code: str, words: str
) -> None:
    """Each kind of bad frame is named in the error; the socket keeps working afterwards."""
    token = await login(server, "tech")
    async with connect(server, token) as ws:
        await ws.expect("hello")
        await ws.send(frame)
        error = await ws.expect("error")
        assert error["code"] == code
        assert words in error["message"]
        await ws.send({"type": "ping"})
        assert (await ws.next())["type"] == "pong"


async def test_frame_over_64_kib_is_refused_and_the_socket_stays(server: LiveServer) -> None:
    """A 65 KiB frame is answered with too_large naming the limit; the call goes on."""
    token = await login(server, "tech")
    async with connect(server, token) as ws:
        await ws.expect("hello")
        await ws.send(json.dumps({"type": "offer", "sdp": "x" * (65 * 1024)}))
        error = await ws.expect("error")
        assert error["code"] == "too_large"
        assert "65536" in error["message"]
        await ws.send({"type": "ping"})
        assert (await ws.next())["type"] == "pong"


async def test_frame_over_transport_limit_closes_1009(server: LiveServer) -> None:
    """Past 1 MiB the transport itself closes with 1009 (message too big)."""
    token = await login(server, "tech")
    async with connect(server, token) as ws:
        await ws.expect("hello")
        await ws.send("x" * (2 * 1024 * 1024 - 100))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.next()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CloseCode.MESSAGE_TOO_BIG


async def test_binary_frames_are_refused(server: LiveServer) -> None:
    """Binary frames are named as unsupported."""
    token = await login(server, "tech")
    async with connect(server, token) as ws:
        await ws.expect("hello")
        await ws.send(b"\x00\x01")
        assert (await ws.expect("error"))["code"] == "binary_not_supported"


async def test_joining_a_session_you_may_not_see_is_forbidden_and_changes_nothing(
    server: LiveServer,
) -> None:
    """A technologist of another facility and an ineligible radiologist cannot join; the record stays."""
    tech = await login(server, "tech")
    session = await open_session(server, tech)
    for outsider in ("techwest", "drexpired", "drnopriv", "super"):
        async with connect(server, await login(server, outsider)) as ws:
            await ws.expect("hello")
            await ws.send({"type": "join", "session_id": session["id"]})
            error = await ws.expect("error")
            assert error["code"] == "forbidden", outsider
    unknown = "00000000-0000-4000-8000-000000000000"
    async with connect(server, tech) as ws:
        await ws.send({"type": "join", "session_id": unknown})
        assert (await ws.expect("error"))["code"] == "forbidden"
    after = await get_session(server, tech, session["id"])
    assert after == session


async def test_radiologist_must_accept_before_joining(server: LiveServer) -> None:
    """An eligible radiologist who has not accepted is told to accept first."""
    session = await open_session(server)
    async with connect(server, await login(server, "drdiaz")) as ws:
        await ws.send({"type": "join", "session_id": session["id"]})
        assert (await ws.expect("error"))["code"] == "not_accepted"


async def test_relay_reaches_only_the_other_participant(server: LiveServer) -> None:
    """Offers, answers and candidates go to the peer of that session, tagged with who sent them."""
    tech = await login(server, "tech")
    rad = await login(server, "drdiaz")
    session = await open_session(server, tech)
    other = await open_session(server, tech, room_id=await room_id(server, tech, index=1))
    await join_request(server, rad, session["id"])
    async with (
        connect(server, tech) as t,
        connect(server, rad) as r,
        connect(server, tech) as bystander,
    ):
        await bystander.send({"type": "join", "session_id": other["id"]})
        await bystander.expect("joined")
        await t.send({"type": "join", "session_id": session["id"]})
        joined = await t.expect("joined")
        assert joined["role"] == "technologist"
        assert joined["session"]["accession_number"] == "ACC-1001"
        await r.send({"type": "join", "session_id": session["id"]})
        assert (await r.expect("joined"))["role"] == "radiologist"
        assert (await t.expect("peer_joined"))["role"] == "radiologist"
        assert (await r.expect("peer_joined"))["role"] == "technologist"
        await t.send({"type": "offer", "sdp": "v=0 offer"})
        offer = await r.expect("offer")
        assert offer == {"type": "offer", "sdp": "v=0 offer", "from": "technologist"}
        await r.send(
            {"type": "candidate", "candidate": "candidate:1", "sdp_mid": "0", "sdp_mline_index": 0}
        )
        candidate = await t.expect("candidate")
        assert candidate["candidate"] == "candidate:1"
        assert candidate["from"] == "radiologist"
        await bystander.send({"type": "ping"})
        await bystander.expect("pong")
        # The bystander hears its own session (e.g. the pager's ``paging`` updates), but no frame
        # relayed between the participants of another session.
        relayed = [
            m["type"] for m in bystander.seen if m["type"] in ("offer", "answer", "candidate")
        ]
        assert relayed == []


async def test_second_window_replaces_first_with_4409(server: LiveServer) -> None:
    """Joining the same session from a second socket closes the first with 4409 (newest wins)."""
    tech = await login(server, "tech")
    session = await open_session(server, tech)
    async with connect(server, tech) as first, connect(server, tech) as second:
        await first.send({"type": "join", "session_id": session["id"]})
        await first.expect("joined")
        await second.send({"type": "join", "session_id": session["id"]})
        await second.expect("joined")
        with pytest.raises(ConnectionClosed) as closed:
            await first.expect("never")
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == CloseCode.REPLACED
        await second.send({"type": "ping"})
        assert (await second.expect("pong"))["type"] == "pong"


async def test_flooding_is_rate_limited_with_4429(server: LiveServer) -> None:
    """Flooding far past the default budget (20 a second, bursts of 40) closes the socket with
    4429, after refusing messages with rate_limited."""
    token = await login(server, "tech")
    async with connect(server, token) as ws:
        await ws.expect("hello")
        with contextlib.suppress(ConnectionClosed):
            for _ in range(260):
                await ws.send({"type": "ping"})
        assert (await ws.expect("error", timeout=10))["code"] == "rate_limited"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.expect("never", timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CloseCode.RATE_LIMITED


async def test_media_reports_from_both_sides_make_the_session_joined(server: LiveServer) -> None:
    """joined_at is stored only once both participants report remote video AND audio."""
    tech = await login(server, "tech")
    rad = await login(server, "drdiaz")
    session = await open_session(server, tech)
    await join_request(server, rad, session["id"])
    async with connect(server, tech) as t, connect(server, rad) as r:
        for ws in (t, r):
            await ws.send({"type": "join", "session_id": session["id"]})
            await ws.expect("joined")
        await t.send({"type": "ice_state", "state": "connected"})
        await t.expect("session")
        await t.send({"type": "media_state", "video": True, "audio": False})
        await r.send({"type": "media_state", "video": True, "audio": True})
        await t.send({"type": "ping"})
        await t.expect("pong")
        assert (await get_session(server, tech, session["id"]))["joined_at"] is None
        await t.send({"type": "media_state", "video": True, "audio": True})
        update = await t.expect("session")
        while update["session"]["state"] != "joined":
            update = await t.expect("session")
        stored = await get_session(server, tech, session["id"])
    assert stored["state"] == "joined"
    assert stored["ice_connected_at"] is not None
    assert stored["accepted_at"] <= stored["joined_at"]
    assert stored["join_latency_ms"] is not None
    assert stored["join_latency_ms"] >= 0


async def test_closed_and_replaced_sockets_leave_no_trace_in_the_hub(server: LiveServer) -> None:
    """After replaced and closed sockets are gone, the worker holds no member for them."""
    tech, rad = await login(server, "tech"), await login(server, "drdiaz")
    session = await open_session(server, tech)
    await join_request(server, rad, session["id"])
    async with connect(server, tech) as first, connect(server, rad) as r:
        await first.send({"type": "join", "session_id": session["id"]})
        await first.expect("joined")
        await r.send({"type": "join", "session_id": session["id"]})
        await r.expect("joined")
        async with connect(server, tech) as second:
            await second.send({"type": "join", "session_id": session["id"]})
            await second.expect("joined")
            with pytest.raises(ConnectionClosed):
                await first.expect("never")
            assert server.app_state().services.hub.members() == 2
            assert "peer_left" not in [m["type"] for m in r.seen]
    for _ in range(100):
        if server.app_state().services.hub.members() == 0:
            break
        await asyncio.sleep(0.02)
    assert server.app_state().services.hub.members() == 0
