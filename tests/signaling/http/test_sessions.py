"""The HTTP API: login, roles and scope, malformed and oversized input, accept races, the lobby."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.storage.models import SupervisionSession
from tests.conftest import make_settings
from tests.live import LiveServer, api, connect, free_port, login, run_server
from tests.signaling.helpers import accept, get_session, join_request, open_session, room_id


async def test_login_sets_a_secure_httponly_strict_cookie(server: LiveServer) -> None:
    """The login cookie cannot be read by scripts, sent over plain HTTP, or sent cross-site."""
    async with api(server) as client:
        response = await client.post(
            "/api/login", json={"username": "tech", "password": "correct-horse-1"}
        )
    assert response.status_code == 200
    cookie = response.headers["set-cookie"].lower()
    for attribute in ("httponly", "secure", "samesite=strict", "path=/"):
        assert attribute in cookie
    assert response.json()["user"]["roles"] == ["technologist"]


@pytest.mark.parametrize(
    ("username", "password"),
    [("tech", "wrong-password"), ("nobody", "correct-horse-1"), ("gone", "correct-horse-1")],
)
async def test_bad_logins_are_refused_alike(
    server: LiveServer, username: str, password: str
) -> None:
    """Wrong password, unknown user and disabled account get the same 401, no cookie."""
    async with api(server) as client:
        response = await client.post(
            "/api/login", json={"username": username, "password": password}
        )
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"
    assert "set-cookie" not in response.headers


async def test_repeated_failures_are_throttled(server: LiveServer) -> None:
    """After five failures for a username from one address, even the right password waits there
    (429 with Retry-After); see tests/signaling/accounts/test_login_throttle.py."""
    async with api(server) as client:
        for _ in range(5):
            await client.post("/api/login", json={"username": "drpatel", "password": "guess-guess"})
        response = await client.post(
            "/api/login", json={"username": "drpatel", "password": "correct-horse-1"}
        )
    assert response.status_code == 429
    assert "try again" in response.json()["detail"]
    assert int(response.headers["retry-after"]) > 0


async def test_logout_ends_the_login(server: LiveServer) -> None:
    """After logout the same cookie no longer works, over HTTP or WebSocket."""
    token = await login(server, "tech")
    async with api(server, token) as client:
        assert (await client.get("/api/me")).status_code == 200
        assert (await client.post("/api/logout")).status_code == 204
        assert (await client.get("/api/me")).status_code == 401
    async with connect(server, token) as ws:
        assert (await ws.next())["code"] == "unauthenticated"


@pytest.mark.parametrize(
    "path", ["/api/me", "/api/rooms", "/api/sessions", "/api/requests", "/api/config"]
)
async def test_every_api_route_needs_a_login(server: LiveServer, path: str) -> None:
    """No route answers data without a login."""
    async with api(server) as client:
        response = await client.get(path)
    assert response.status_code == 401


async def test_roles_are_checked(server: LiveServer) -> None:
    """A radiologist cannot open sessions; a technologist cannot accept or list requests."""
    rad = await login(server, "drdiaz")
    tech = await login(server, "tech")
    session = await open_session(server, tech)
    async with api(server, rad) as client:
        response = await client.post("/api/sessions", json={"room_id": 1, "accession_number": "A1"})
        assert response.status_code == 403
    async with api(server, tech) as client:
        assert (await client.post(f"/api/sessions/{session['id']}/accept")).status_code == 403
        assert (await client.post(f"/api/sessions/{session['id']}/join")).status_code == 403
        assert (await client.get("/api/requests")).status_code == 403


async def test_technologist_opens_sessions_only_at_own_facilities(server: LiveServer) -> None:
    """A West Coast technologist cannot open a session in a Texas room; unknown rooms are 404."""
    west = await login(server, "techwest")
    north_room = await room_id(server, await login(server, "tech"))
    async with api(server, west) as client:
        response = await client.post(
            "/api/sessions", json={"room_id": north_room, "accession_number": "A1"}
        )
        assert response.status_code == 403
        assert "facility" in response.json()["detail"]
        response = await client.post(
            "/api/sessions", json={"room_id": 9999, "accession_number": "A1"}
        )
        assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"room_id": 1}, "accession_number"),
        ({"room_id": "one", "accession_number": "A1"}, "room_id"),
        ({"room_id": 1, "accession_number": "A1; DROP TABLE"}, "accession_number"),
        ({"room_id": 1, "accession_number": "A" * 65}, "accession_number"),
        ({"room_id": 1, "accession_number": "A1", "patient_name": "Jane"}, "patient_name"),
    ],
)
async def test_malformed_session_requests_are_named(
    server: LiveServer, body: dict[str, object], words: str
) -> None:
    """Each malformed field is named in a 422, and nothing is stored."""
    tech = await login(server, "tech")
    async with api(server, tech) as client:
        response = await client.post("/api/sessions", json=body)
        assert response.status_code == 422
        assert words in response.json()["detail"]
        assert (await client.get("/api/sessions")).json()["sessions"] == []


async def test_not_json_is_a_422(server: LiveServer) -> None:
    """A body that is not JSON is refused with a named error."""
    tech = await login(server, "tech")
    async with api(server, tech) as client:
        response = await client.post(
            "/api/sessions", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input"


async def test_oversized_bodies_are_413(server: LiveServer) -> None:
    """Bodies over 64 KiB are refused before parsing, declared or streamed."""
    tech = await login(server, "tech")
    big = b'{"room_id": 1, "accession_number": "' + b"A" * 70_000 + b'"}'

    async def stream() -> object:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    async with api(server, tech) as client:
        declared = await client.post(
            "/api/sessions", content=big, headers={"content-type": "application/json"}
        )
        streamed = await client.post(
            "/api/sessions", content=stream(), headers={"content-type": "application/json"}
        )
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert declared.json()["error"] == "too_large"


async def test_cross_site_writes_are_refused(server: LiveServer) -> None:
    """A POST from another origin is refused even with a valid cookie."""
    tech = await login(server, "tech")
    async with api(server, tech) as client:
        response = await client.post(
            "/api/sessions",
            json={"room_id": 1, "accession_number": "A1"},
            headers={"origin": "https://evil.example"},
        )
    assert response.status_code == 403


async def test_security_headers_on_pages_and_api(server: LiveServer) -> None:
    """Pages carry a strict CSP and no-sniff; nothing can frame them."""
    async with httpx.AsyncClient(base_url=server.url) as client:
        page = await client.get("/login")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("number", [2**31, 2**63, 10**100, -(2**63), 0])
async def test_numbers_past_the_databases_range_are_422(server: LiveServer, number: int) -> None:
    """Integers the schema cannot hold, in a body, a path or a query, are named 422s, never 500s."""
    tech = await login(server, "tech")
    async with api(server, tech) as client:
        body = await client.post(
            "/api/sessions", json={"room_id": number, "accession_number": "ACC-1"}
        )
        path = await client.get(f"/api/facilities/{number}/on-call")
        check = await client.post(f"/api/preflight/checks/{number}/finish", json={})
        query = await client.get("/api/sessions", params={"limit": number})
    for response in (body, path, check, query):
        assert response.status_code == 422, (response.request.url, response.text)
        assert response.json()["error"] == "invalid_input"
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_refusals_at_the_edge_carry_the_security_headers(server: LiveServer) -> None:
    """A 413 or a cross-site 403 answered by the edge guard has the same headers as any answer."""
    tech = await login(server, "tech")
    async with api(server, tech) as client:
        large = await client.post(
            "/api/sessions", content=b"x" * 70_000, headers={"content-type": "application/json"}
        )
        foreign = await client.post(
            "/api/sessions", json={}, headers={"origin": "https://evil.example"}
        )
    for response in (large, foreign):
        assert response.status_code in (403, 413)
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"


async def test_answers_about_sessions_are_never_cached(server: LiveServer) -> None:
    """Every /api answer (sessions carry the accession number) says Cache-Control: no-store."""
    tech = await login(server, "tech")
    session = await open_session(server, tech)
    async with api(server, tech) as client:
        answers = [
            await client.get("/api/sessions"),
            await client.get(f"/api/sessions/{session['id']}"),
            await client.get(f"/api/sessions/{session['id']}/events"),
            await client.get(f"/api/sessions/{session['id']}/paging"),
            await client.get("/api/sessions/not-a-session"),
            await client.get("/api/me"),
        ]
    for response in answers:
        assert response.headers["cache-control"] == "no-store", response.request.url


async def test_only_eligible_radiologists_see_and_accept(server: LiveServer) -> None:
    """Expired license, no privileges at the site: the request is invisible and cannot be accepted."""
    session = await open_session(server)
    for name in ("drexpired", "drnopriv"):
        token = await login(server, name)
        async with api(server, token) as client:
            assert (await client.get("/api/requests")).json()["requests"] == []
            assert (await client.get(f"/api/sessions/{session['id']}")).status_code == 404
            assert (await client.post(f"/api/sessions/{session['id']}/accept")).status_code == 404
            assert (await client.post(f"/api/sessions/{session['id']}/join")).status_code == 404
    async with api(server, await login(server, "drpatel")) as client:
        listed = (await client.get("/api/requests")).json()["requests"]
    assert [r["id"] for r in listed] == [session["id"]]
    assert "accession_number" not in listed[0]


async def test_several_accept_and_the_first_to_join_wins(server: LiveServer) -> None:
    """Accepting is not joining: both radiologists accept; of two joins at once exactly one takes
    the session (200) and the other gets 409 naming who joined. Every accept is in the record."""
    session = await open_session(server)
    diaz, patel = await login(server, "drdiaz"), await login(server, "drpatel")
    for token in (diaz, patel):
        accepted = await accept(server, token, session["id"])
        assert accepted["radiologist"] is None
        assert accepted["state"] == "paging"
    listed = await get_session(server, await login(server, "tech"), session["id"])
    assert sorted(a["radiologist"]["full_name"] for a in listed["accepts"]) == [
        "Dr Anya Patel",
        "Dr Ray Diaz",
    ]

    async def try_join(token: str) -> httpx.Response:
        async with api(server, token) as client:
            return await client.post(f"/api/sessions/{session['id']}/join")

    results = await asyncio.gather(try_join(diaz), try_join(patel))
    assert sorted(r.status_code for r in results) == [200, 409]
    winner = next(r for r in results if r.status_code == 200).json()["session"]
    loser = next(r for r in results if r.status_code == 409)
    assert loser.json()["detail"] == f"already joined by {winner['radiologist']['full_name']}"
    assert winner["accepts"] == []  # the winner's accept became the join, the other's superseded
    tech = await login(server, "tech")
    async with api(server, tech) as client:
        events = (await client.get(f"/api/sessions/{session['id']}/events")).json()["events"]
        paging = (await client.get(f"/api/sessions/{session['id']}/paging")).json()["paging"]
    assert [e["kind"] for e in events].count("accepted") == 2
    assert [e["kind"] for e in events].count("joined_request") == 1
    assert sorted(a["status"] for a in paging["accepts"]) == ["joined", "superseded"]
    assert (paging["state"], paging["stop_reason"]) == ("stopped", "joined")


async def test_accepting_twice_is_one_accept(server: LiveServer) -> None:
    """A repeated accept (double click, a retried request) records one accept."""
    session = await open_session(server)
    diaz = await login(server, "drdiaz")
    await accept(server, diaz, session["id"])
    await accept(server, diaz, session["id"])
    async with api(server, await login(server, "tech")) as client:
        events = (await client.get(f"/api/sessions/{session['id']}/events")).json()["events"]
    assert [e["kind"] for e in events].count("accepted") == 1


async def test_lobby_pushes_requests_to_eligible_radiologists_only(server: LiveServer) -> None:
    """A new Lakeside (NY) request reaches Dr Diaz (NY license) live, not Dr Patel (TX only)."""
    tech = await login(server, "tech")
    lake = await room_id(server, tech, "Lakeside Imaging")
    async with (
        connect(server, await login(server, "drdiaz")) as diaz,
        connect(server, await login(server, "drpatel")) as patel,
    ):
        assert (await diaz.expect("requests"))["items"] == []
        await patel.expect("requests")
        session = await open_session(server, tech, room_id=lake)
        opened = await diaz.expect("request_opened")
        assert opened["request"]["id"] == session["id"]
        assert "accession_number" not in opened["request"]
        await join_request(server, await login(server, "drdiaz"), session["id"])
        closed = await diaz.expect("request_closed")
        assert closed == {"type": "request_closed", "session_id": session["id"], "reason": "taken"}
        north = await open_session(server, tech)
        assert (await patel.expect("request_opened"))["request"]["id"] == north["id"]
        # (the pager's in-app ``page`` messages may interleave; the lobby's own order is what counts)
        lobby = [m["type"] for m in patel.seen if m["type"] != "page"]
        assert lobby == ["hello", "requests", "request_opened"]


async def test_cancel_needs_a_reason_and_is_final(server: LiveServer) -> None:
    """Cancelling without a reason is refused; with one it ends the session once and for all."""
    tech = await login(server, "tech")
    session = await open_session(server, tech)
    url = f"/api/sessions/{session['id']}/end"
    async with api(server, tech) as client:
        assert (await client.post(url, json={"outcome": "cancelled"})).status_code == 422
        assert (await client.post(url, json={"outcome": "completed"})).status_code == 409
        done = await client.post(url, json={"outcome": "cancelled", "reason": "patient_declined"})
        assert done.status_code == 200
        again = await client.post(url, json={"outcome": "cancelled", "reason": "other"})
        assert again.status_code == 409
        assert "ended" in again.json()["detail"]
        events = (await client.get(f"/api/sessions/{session['id']}/events")).json()["events"]
    ended = done.json()["session"]
    assert (ended["state"], ended["outcome"], ended["cancel_reason"]) == (
        "ended",
        "cancelled",
        "patient_declined",
    )
    assert [(e["from_state"], e["to_state"]) for e in events if e["kind"] == "transition"] == [
        (None, "requested"),
        ("requested", "paging"),
        ("paging", "ended"),
    ]


async def test_release_hands_the_request_back(server: LiveServer) -> None:
    """A radiologist who joined but cannot stay releases before the call is up: paging starts
    again from the first tier (a re-page in the record, the round counted from it), and another
    radiologist may then join."""
    session = await open_session(server)
    diaz, patel = await login(server, "drdiaz"), await login(server, "drpatel")
    await join_request(server, diaz, session["id"])
    async with api(server, patel) as client:
        # Taken by someone else, the session is no longer Dr Patel's to see at all.
        assert (await client.post(f"/api/sessions/{session['id']}/release")).status_code == 404
    async with api(server, diaz) as client:
        released = await client.post(f"/api/sessions/{session['id']}/release")
    assert released.status_code == 200, released.text
    handed_back = released.json()["session"]
    assert handed_back["radiologist"] is None
    (repage,) = handed_back["repages"]  # in the record, not yet answered by a join
    assert (repage["reason"], repage["radiologist"], repage["join_latency_ms"]) == (
        "handed_back",
        None,
        None,
    )
    assert handed_back["paging_since"] == repage["at"]
    tech = await login(server, "tech")
    async with api(server, tech) as client:
        paging = (await client.get(f"/api/sessions/{session['id']}/paging")).json()["paging"]
    # Paging again, recorded as a release (below), not counted as a re-page after a lost link.
    assert (paging["state"], paging["repaged"]) == ("active", 0)
    taken = await join_request(server, patel, session["id"])
    assert taken["radiologist"]["full_name"] == "Dr Anya Patel"
    async with api(server, tech) as client:
        kinds = [
            e["kind"]
            for e in (await client.get(f"/api/sessions/{session['id']}/events")).json()["events"]
        ]
    assert kinds.count("accepted") == 2
    assert kinds.count("released") == 1


async def test_withdrawing_an_accept(server: LiveServer) -> None:
    """An accept released before joining withdraws only that promise; only a radiologist who
    accepted may release (403 otherwise)."""
    session = await open_session(server)
    diaz, patel = await login(server, "drdiaz"), await login(server, "drpatel")
    await accept(server, diaz, session["id"])
    async with api(server, patel) as client:
        assert (await client.post(f"/api/sessions/{session['id']}/release")).status_code == 403
    async with api(server, diaz) as client:
        released = await client.post(f"/api/sessions/{session['id']}/release")
    assert released.status_code == 200, released.text
    assert released.json()["session"]["accepts"] == []
    async with api(server, await login(server, "tech")) as client:
        paging = (await client.get(f"/api/sessions/{session['id']}/paging")).json()["paging"]
    assert [a["status"] for a in paging["accepts"]] == ["released"]
    assert paging["state"] == "active"


async def test_supervisor_sees_own_facilities_with_accession(server: LiveServer) -> None:
    """A supervisor of North sees North's sessions, not Lakeside's."""
    tech = await login(server, "tech")
    north = await open_session(server, tech)
    await open_session(server, tech, room_id=await room_id(server, tech, "Lakeside Imaging"))
    async with api(server, await login(server, "super")) as client:
        sessions = (await client.get("/api/sessions")).json()["sessions"]
    assert [s["id"] for s in sessions] == [north["id"]]
    assert sessions[0]["accession_number"] == "ACC-1001"


async def test_session_ids_that_are_not_uuids_are_404(server: LiveServer) -> None:
    """Garbage in the path is a plain 404, not a server error."""
    tech = await login(server, "tech")
    async with api(server, tech) as client:
        response = await client.get("/api/sessions/' OR 1=1 --")
    assert response.status_code == 404


async def test_accession_number_never_in_logs(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Opening, accepting and ending a session logs ids, never the accession number."""
    caplog.set_level(logging.INFO)
    tech = await login(server, "tech")
    session = await open_session(server, tech, accession_number="SECRET-ACC-777")
    await join_request(server, await login(server, "drdiaz"), session["id"])
    assert (await get_session(server, tech, session["id"]))["accession_number"] == "SECRET-ACC-777"
    assert "SECRET-ACC-777" not in caplog.text
    assert session["id"] in caplog.text


async def test_console_pages_check_login_and_role(server: LiveServer) -> None:
    """Without a login the consoles redirect to /login; with the other role, home picks the right one."""
    async with api(server) as client:
        for page in ("/tech", "/rad", "/"):
            response = await client.get(page)
            assert response.status_code == 303
            assert response.headers["location"] == "/login"
    async with api(server, await login(server, "drdiaz")) as client:
        assert (await client.get("/tech")).headers["location"] == "/"
        assert (await client.get("/")).headers["location"] == "/rad"
        assert (await client.get("/rad")).status_code == 200


async def test_accepting_a_taken_request_names_who_took_it(server: LiveServer) -> None:
    """Accepting or joining after a colleague joined says who did (409), not 'not found'."""
    session = await open_session(server)
    await join_request(server, await login(server, "drdiaz"), session["id"])
    async with api(server, await login(server, "drpatel")) as client:
        for verb in ("accept", "join"):
            response = await client.post(f"/api/sessions/{session['id']}/{verb}")
            assert response.status_code == 409
            assert response.json()["detail"] == "already joined by Dr Ray Diaz"


async def test_a_cancel_without_a_known_reason_is_a_clear_422_and_stores_nothing(
    server: LiveServer,
) -> None:
    """No reason: 422 listing the reasons; an unknown one: 422 naming ``body.reason``; the request
    stays open through both."""
    tech = await login(server, "tech")
    session = await open_session(server, tech)
    url = f"/api/sessions/{session['id']}/end"
    async with api(server, tech) as client:
        missing = await client.post(url, json={"outcome": "cancelled"})
        unknown = await client.post(url, json={"outcome": "cancelled", "reason": "bored"})
    assert missing.status_code == 422, missing.text
    assert missing.json()["error"] == "invalid_input"
    assert missing.json()["detail"] == (
        "a cancelled session needs a reason: one of no_coverage, patient_declined, clinical, "
        "equipment, exam_cancelled, requested_in_error, other"
    )
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["detail"].startswith("body.reason: Input should be 'no_coverage'")
    after = await get_session(server, tech, session["id"])
    assert (after["state"], after["outcome"], after["cancel_reason"]) == ("paging", None, None)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("no_coverage", "no_coverage"),
        ("no_radiologist", "no_coverage"),  # the old name, still accepted
        ("technical_problem", "equipment"),
        ("clinical", "clinical"),
    ],
)
async def test_cancel_reasons_are_stored_under_todays_names(
    server: LiveServer, db_session: AsyncSession, sent: str, stored: str
) -> None:
    """A cancel with a reason (old names too) ends the session and stores today's name."""
    tech = await login(server, "tech")
    session = await open_session(server, tech)
    async with api(server, tech) as client:
        response = await client.post(
            f"/api/sessions/{session['id']}/end", json={"outcome": "cancelled", "reason": sent}
        )
    assert response.status_code == 200, response.text
    assert response.json()["session"]["cancel_reason"] == stored
    row = await db_session.get(SupervisionSession, session["id"])
    assert row is not None
    assert row.cancel_reason == stored


async def test_reasons_stored_under_old_names_are_shown_as_todays(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """Sessions cancelled before the rename (``no_radiologist``, ``technical_problem`` in the
    database, not migrated) read as ``no_coverage`` and ``equipment`` in the session and the list."""
    tech = await login(server, "tech")
    first = await open_session(server, tech)
    second = await open_session(server, tech, room_id=await room_id(server, tech, index=1))
    for session in (first, second):
        async with api(server, tech) as client:
            ended = await client.post(
                f"/api/sessions/{session['id']}/end",
                json={"outcome": "cancelled", "reason": "other"},
            )
        assert ended.status_code == 200, ended.text
    for session, old in ((first, "no_radiologist"), (second, "technical_problem")):
        await db_session.execute(
            update(SupervisionSession)
            .where(SupervisionSession.id == session["id"])
            .values(cancel_reason=old)
        )
    await db_session.commit()
    assert (await get_session(server, tech, first["id"]))["cancel_reason"] == "no_coverage"
    assert (await get_session(server, tech, second["id"]))["cancel_reason"] == "equipment"
    async with api(server, await login(server, "super")) as client:
        listed = (await client.get("/api/sessions")).json()["sessions"]
    reasons = {s["id"]: s["cancel_reason"] for s in listed}
    assert (reasons[first["id"]], reasons[second["id"]]) == ("no_coverage", "equipment")


async def test_my_open_sessions_filter(server: LiveServer) -> None:
    """?mine=true&open=true lists only the caller's sessions that have not ended."""
    tech = await login(server, "tech")
    ended = await open_session(server, tech)
    async with api(server, tech) as client:
        await client.post(
            f"/api/sessions/{ended['id']}/end", json={"outcome": "cancelled", "reason": "other"}
        )
    current = await open_session(server, tech)
    async with api(server, tech) as client:
        mine = (await client.get("/api/sessions?mine=true&open=true")).json()["sessions"]
        everything = (await client.get("/api/sessions")).json()["sessions"]
    assert [s["id"] for s in mine] == [current["id"]]
    assert len(everything) == 2
    async with api(server, await login(server, "drdiaz")) as client:
        assert (await client.get("/api/sessions?mine=true&open=true")).json()["sessions"] == []


async def test_config_gives_ice_servers_and_server_time(server: LiveServer) -> None:
    """The pages get the ICE servers and a millisecond server time for their counters."""
    async with api(server, await login(server, "tech")) as client:
        config = (await client.get("/api/config")).json()
    assert config["ice_servers"] == []
    assert config["benchmarks_s"] == {"best": 30, "risk": 90}
    assert config["server_time"].endswith("Z")
    assert len(config["server_time"]) == len("2026-11-22T11:00:00.123Z")


async def test_page_modules_are_revalidated(server: LiveServer) -> None:
    """Static modules carry no-cache, so a deploy never pairs new HTML with stale JS."""
    async with api(server) as client:
        response = await client.get("/static/common.js")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert "javascript" in response.headers["content-type"]


async def _open(server: LiveServer, token: str, room: int, accession: str) -> httpx.Response:
    async with api(server, token) as client:
        return await client.post(
            "/api/sessions", json={"room_id": room, "accession_number": accession}
        )


async def test_a_room_has_one_open_session_at_a_time(server: LiveServer) -> None:
    """A second request in a room that has one open is a 409 room_busy naming the room and the
    limit, without the accession number; once the first ends the room takes a new one."""
    tech, other = await login(server, "tech"), await login(server, "tech")
    room = await room_id(server, tech)
    first = await open_session(server, tech, room_id=room)
    busy = await _open(server, other, room, "ACC-SECOND-9")
    assert busy.status_code == 409, busy.text
    assert busy.json()["error"] == "room_busy"
    assert "CT Room 1 already has 1 open supervision session (at most 1)" in busy.json()["detail"]
    assert "ACC-SECOND-9" not in busy.text
    async with api(server, tech) as client:
        ended = await client.post(
            f"/api/sessions/{first['id']}/end", json={"outcome": "cancelled", "reason": "other"}
        )
        assert ended.status_code == 200
    assert (await _open(server, other, room, "ACC-SECOND-9")).status_code == 201


async def test_a_technologist_has_at_most_the_configured_open_sessions(database_url: str) -> None:
    """With STANDBY_TECHNOLOGIST_OPEN_SESSIONS_MAX=2, a third open session is a 429
    too_many_open_sessions that says how many are open and the limit."""
    port = free_port()
    settings = make_settings(database_url, port, technologist_open_sessions_max=2)
    with run_server(settings, port) as server:
        tech = await login(server, "tech")
        north = [await room_id(server, tech, index=i) for i in (0, 1)]
        lake = await room_id(server, tech, "Lakeside Imaging")
        for room in north:
            await open_session(server, tech, room_id=room)
        third = await _open(server, tech, lake, "ACC-3")
        assert third.status_code == 429, third.text
        assert third.json() == {
            "error": "too_many_open_sessions",
            "detail": "you already have 2 open supervision sessions (at most 2); "
            "end one before opening another",
        }
