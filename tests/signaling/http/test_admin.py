"""The directory edited by admins over the API, and the "who is on call now" view of a facility.

The admin routes take and give the directory file's own document (tests/directory.yaml is what every
test starts from); the on-call view answers from the pager's own eligibility checks.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.directory.file import DirectoryFile
from signaling.storage.models import Room, SupervisionSession, User
from tests.conftest import make_settings
from tests.live import LiveServer, api, connect, free_port, login, run_server
from tests.signaling.helpers import open_session, room_id

DIRECTORY_FILE = Path(__file__).parents[2] / "directory.yaml"
BIG = b'{"users": [{"username": "' + b"a" * 70_000 + b'"}]}'

A_USER = {
    "username": "drnew",
    "full_name": "Dr Nia New",
    "credentials": "MD",
    "roles": ["radiologist"],
    "licenses": [{"state": "TX", "number": "TX-9", "expires": "2099-12-31"}],
    "privileges": ["NORTH"],
    "mobile": "+15550000009",
    "max_concurrent": 2,
    "password": "correct-horse-1",
}
A_SCHEDULE = {
    "code": "NORTH-PRIMARY",
    "timezone": "America/Chicago",
    "facilities": ["NORTH"],
    "rotations": [
        {
            "name": "days",
            "participants": ["drdiaz", "drpatel"],
            "start": "2026-01-01T08:00",
            "shift": "12h",
        }
    ],
}
A_POLICY = {
    "repeat": 0,
    "repeat_after_s": 5,
    "tiers": [
        {
            "delay_s": 0,
            "targets": [{"kind": "users", "users": ["drpatel"]}],
            "channels": ["in_app"],
        },
        {"delay_s": 5, "targets": [{"kind": "pool"}], "channels": ["in_app", "sms"]},
    ],
}
# Every admin route with a body that would succeed: (method, path, body).
ADMIN_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/admin/directory", None),
    ("PUT", "/api/admin/directory", {"users": [A_USER]}),
    ("GET", "/api/admin/users/drdiaz", None),
    ("PUT", "/api/admin/users/drnew", A_USER),
    ("GET", "/api/admin/schedules/EAST-PRIMARY", None),
    ("PUT", "/api/admin/schedules/NORTH-PRIMARY", A_SCHEDULE),
    ("GET", "/api/admin/facilities/EAST/escalation", None),
    ("PUT", "/api/admin/facilities/NORTH/escalation", A_POLICY),
]
ON_CALL = ("GET", "/api/facilities/{north}/on-call", None)
ROUTE_IDS = [f"{method} {path}" for method, path, _ in [*ADMIN_ROUTES, ON_CALL]]
WRITES = [route for route in ADMIN_ROUTES if route[0] == "PUT"]


async def directory(server: LiveServer, admin: str | None = None) -> dict[str, Any]:
    async with api(server, admin or await login(server, "admin")) as client:
        response = await client.get("/api/admin/directory")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def north_id(server: LiveServer) -> int:
    async with api(server, await login(server, "tech")) as client:
        rooms = (await client.get("/api/rooms")).json()["rooms"]
    return next(r["facility"]["id"] for r in rooms if r["facility"]["name"].startswith("North"))


async def call(
    server: LiveServer, token: str | None, route: tuple[str, str, Any], **kwargs: Any
) -> httpx.Response:
    method, path, body = route
    if "{north}" in path:
        path = path.format(north=await north_id(server))
    if body is not None and "content" not in kwargs:
        kwargs["json"] = body
    async with api(server, token) as client:
        return await client.request(method, path, **kwargs)


async def on_call(server: LiveServer, token: str, facility_id: int) -> dict[str, Any]:
    async with api(server, token) as client:
        response = await client.get(f"/api/facilities/{facility_id}/on-call")
    assert response.status_code == 200, response.text
    return response.json()["on_call"]  # type: ignore[no-any-return]


def normalised(document: dict[str, Any]) -> dict[str, Any]:
    """A directory document with order, passwords and the ``paging`` shorthand taken out."""
    parsed = DirectoryFile.model_validate(document)
    facilities = []
    for spec in sorted(parsed.facilities, key=lambda f: f.code):
        policy = spec.policy()
        entry = spec.model_dump(mode="json", exclude={"paging"})
        entry["escalation"] = policy.model_dump(mode="json") if policy else None
        entry["rooms"].sort(key=lambda r: r["code"])
        facilities.append(entry)
    users = []
    for user in sorted(parsed.users, key=lambda u: u.username):
        entry = user.model_dump(mode="json", exclude={"password"})
        for key in ("roles", "facilities", "privileges"):
            entry[key] = sorted(set(entry[key]))
        entry["licenses"].sort(key=lambda lic: lic["state"])
        users.append(entry)
    schedules = [s.model_dump(mode="json") for s in sorted(parsed.schedules, key=lambda s: s.code)]
    return {"facilities": facilities, "users": users, "schedules": schedules}


# --- unauthorised, oversized, cross-site: every route -----------------------------------------


@pytest.mark.parametrize("route", [*ADMIN_ROUTES, ON_CALL], ids=ROUTE_IDS)
async def test_every_new_route_refuses_unauthorised_oversized_and_cross_site_requests(
    server: LiveServer, route: tuple[str, str, Any]
) -> None:
    """No login: 401. A role the route is not for: 403 (admin routes: technologist, radiologist,
    supervisor; the on-call view: radiologist). A body over 64 KiB: 413, even from an admin. A write
    from another origin with an admin's cookie: 403. None of them changes anything."""
    admin = await login(server, "admin")
    before = await directory(server, admin)

    response = await call(server, None, route)
    assert (response.status_code, response.json()["error"]) == (401, "unauthenticated")

    others = ("drdiaz",) if route is ON_CALL else ("tech", "drdiaz", "super")
    for username in others:
        response = await call(server, await login(server, username), route)
        assert (response.status_code, response.json()["error"]) == (403, "forbidden"), username

    big = {"content": BIG, "headers": {"content-type": "application/json"}}
    response = await call(server, admin, route, **big)
    assert (response.status_code, response.json()["error"]) == (413, "too_large")

    if route[0] == "PUT":
        response = await call(server, admin, route, headers={"origin": "https://evil.example"})
        assert (response.status_code, response.json()["error"]) == (403, "forbidden_origin")
    assert await directory(server, admin) == before


# --- malformed input: every route ----------------------------------------------------------


def _edit_user(**changes: Any) -> dict[str, Any]:
    return A_USER | changes


MALFORMED: list[tuple[str, str, Any, int, str]] = [
    # (method, path, body, status, words the answer must contain)
    ("PUT", "/api/admin/directory", [A_USER], 422, "body"),
    ("PUT", "/api/admin/directory", {"people": []}, 422, "body.people"),
    (
        "PUT",
        "/api/admin/directory",
        {"users": [_edit_user(mobile="555-0100")]},
        422,
        "body.users.0.mobile",
    ),
    (
        "PUT",
        "/api/admin/directory",
        {"users": [_edit_user(max_concurrent=0)]},
        422,
        "body.users.0.max_concurrent",
    ),
    (
        "PUT",
        "/api/admin/directory",
        {
            "facilities": [
                {"code": "SOUTH", "name": "South", "state": "ZZ", "timezone": "America/Chicago"}
            ]
        },
        422,
        "body.facilities.0.state",
    ),
    (
        "PUT",
        "/api/admin/directory",
        {"schedules": [A_SCHEDULE | {"rotations": [A_SCHEDULE["rotations"][0] | {"shift": 24}]}]},
        422,
        "body.schedules.0.rotations.0.shift",
    ),
    (
        "PUT",
        "/api/admin/directory",
        {"users": [_edit_user(privileges=["NOWHERE"])]},
        422,
        "unknown facility codes NOWHERE",
    ),
    ("PUT", "/api/admin/directory", {"users": [A_USER, A_USER]}, 422, "usernames repeat: drnew"),
    ("GET", "/api/admin/users/nobody", None, 404, "no user 'nobody'"),
    ("PUT", "/api/admin/users/drnew", _edit_user(username="drother"), 422, "body.username"),
    (
        "PUT",
        "/api/admin/users/drnew",
        _edit_user(roles=["technologist"]),
        422,
        "licenses and privileges are for radiologists",
    ),
    ("PUT", "/api/admin/users/drnew", _edit_user(roles=["wizard"]), 422, "body.roles.0"),
    (
        "PUT",
        "/api/admin/users/drnew",
        _edit_user(licenses=[{"state": "TX", "number": "1", "expires": "soon"}]),
        422,
        "body.licenses.0.expires",
    ),
    ("GET", "/api/admin/schedules/NOPE", None, 404, "no schedule 'NOPE'"),
    ("PUT", "/api/admin/schedules/NORTH-PRIMARY", A_SCHEDULE | {"code": "OTHER"}, 422, "body.code"),
    (
        "PUT",
        "/api/admin/schedules/NORTH-PRIMARY",
        A_SCHEDULE | {"timezone": "Mars/Olympus"},
        422,
        "body.timezone",
    ),
    (
        "PUT",
        "/api/admin/schedules/NORTH-PRIMARY",
        A_SCHEDULE
        | {"rotations": [A_SCHEDULE["rotations"][0] | {"participants": ["drdiaz", "drghost"]}]},
        422,
        "unknown usernames drghost",
    ),
    (
        "PUT",
        "/api/admin/schedules/NORTH-PRIMARY",
        A_SCHEDULE
        | {
            "overrides": [
                {
                    "user": "drpatel",
                    "start": "2026-12-24T18:00-06:00",
                    "end": "2026-12-24T08:00-06:00",
                }
            ]
        },
        422,
        "expected end after start",
    ),
    ("GET", "/api/admin/facilities/NOWHERE/escalation", None, 404, "no facility 'NOWHERE'"),
    ("PUT", "/api/admin/facilities/NOWHERE/escalation", A_POLICY, 404, "no facility 'NOWHERE'"),
    ("PUT", "/api/admin/facilities/NORTH/escalation", A_POLICY | {"tiers": []}, 422, "body.tiers"),
    (
        "PUT",
        "/api/admin/facilities/NORTH/escalation",
        A_POLICY | {"tiers": list(reversed(A_POLICY["tiers"]))},
        422,
        "tier delays must not decrease",
    ),
    (
        "PUT",
        "/api/admin/facilities/NORTH/escalation",
        {
            "tiers": [
                {
                    "delay_s": 0,
                    "targets": [{"kind": "schedule", "schedule": "NOPE"}],
                    "channels": ["in_app"],
                }
            ]
        },
        422,
        "unknown schedules NOPE",
    ),
    (
        "PUT",
        "/api/admin/facilities/NORTH/escalation",
        {"tiers": [{"delay_s": 0, "targets": [{"kind": "pool"}], "channels": ["fax"]}]},
        422,
        "body.tiers.0.channels.0",
    ),
    ("GET", "/api/facilities/north/on-call", None, 422, "path.facility_id"),
    ("GET", "/api/facilities/99999/on-call", None, 404, "no facility 99999"),
    ("GET", "/api/facilities/99999999999999999999/on-call", None, 422, "path.facility_id"),
    ("GET", "/api/facilities/0/on-call", None, 422, "path.facility_id"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    MALFORMED,
    ids=[f"{m} {p} {w}" for m, p, _, _, w in MALFORMED],
)
async def test_malformed_input_is_named_and_changes_nothing(
    server: LiveServer, method: str, path: str, body: Any, status: int, words: str
) -> None:
    """Each bad field or reference is named in the answer (422, or 404 for what does not exist), and
    the directory is exactly as before."""
    admin = await login(server, "admin")
    before = await directory(server, admin)
    response = await call(server, admin, (method, path, body))
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert await directory(server, admin) == before


@pytest.mark.parametrize("route", WRITES, ids=[f"PUT {path}" for _, path, _ in WRITES])
async def test_writes_that_are_not_json_are_422(
    server: LiveServer, route: tuple[str, str, Any]
) -> None:
    """A body that is not JSON (say, YAML pasted in) is refused with a named error."""
    admin = await login(server, "admin")
    response = await call(
        server,
        admin,
        route,
        content=b"users:\n  - username: drnew\n",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input"


# --- the whole document ----------------------------------------------------------------------


async def test_the_export_is_the_loaded_file_without_passwords(server: LiveServer) -> None:
    """GET gives back everything tests/directory.yaml loaded, in the file's shape, and never a
    password or its hash."""
    admin = await login(server, "admin")
    async with api(server, admin) as client:
        response = await client.get("/api/admin/directory")
    assert response.status_code == 200
    loaded = yaml.safe_load(DIRECTORY_FILE.read_text())
    assert normalised(response.json()) == normalised(loaded)
    assert "password" not in response.text
    assert "argon2" not in response.text
    east = next(f for f in response.json()["facilities"] if f["code"] == "EAST")
    assert [tier["delay_s"] for tier in east["escalation"]["tiers"]] == [0, 1, 2]


async def test_round_trip_is_lossless(server: LiveServer) -> None:
    """Fetch, put back unchanged, fetch again: same document, nothing created, logins still work."""
    admin = await login(server, "admin")
    first = await directory(server, admin)
    async with api(server, admin) as client:
        response = await client.put("/api/admin/directory", json=first)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == {}
    assert response.json()["updated"]["users"] == len(first["users"])
    assert await directory(server, admin) == first
    await login(server, "drdiaz")


async def test_fetch_edit_put_back_changes_what_was_edited(server: LiveServer) -> None:
    """An admin adds a room, gives Dr No Privileges North, and adds a user; the rest stays as it was."""
    admin = await login(server, "admin")
    document = await directory(server, admin)
    north = next(f for f in document["facilities"] if f["code"] == "NORTH")
    north["rooms"].append({"code": "CT2", "name": "CT Room 2", "modality": "CT"})
    nopriv = next(u for u in document["users"] if u["username"] == "drnopriv")
    nopriv["privileges"] = ["LAKE", "NORTH"]
    document["users"].append(A_USER)
    async with api(server, admin) as client:
        response = await client.put("/api/admin/directory", json=document)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == {"rooms": 1, "users": 1}
    assert normalised(await directory(server, admin)) == normalised(document)
    # The edit takes effect: Dr No Privileges now sees North's requests, the new user can log in.
    session = await open_session(server)
    async with api(server, await login(server, "drnopriv")) as client:
        assert [r["id"] for r in (await client.get("/api/requests")).json()["requests"]] == [
            session["id"]
        ]
    await login(server, "drnew")


async def test_one_bad_entry_changes_nothing(server: LiveServer) -> None:
    """A document whose first user is fine and whose second names an unknown facility is refused
    whole: the first user's edit is not kept either."""
    admin = await login(server, "admin")
    before = await directory(server, admin)
    diaz = next(u for u in before["users"] if u["username"] == "drdiaz")
    document = {
        "users": [
            diaz | {"full_name": "Dr Renamed", "max_concurrent": 5},
            _edit_user(privileges=["NORTH", "ATLANTIS"]),
        ]
    }
    async with api(server, admin) as client:
        response = await client.put("/api/admin/directory", json=document)
    assert response.status_code == 422
    assert "user drnew: unknown facility codes ATLANTIS" in response.json()["detail"]
    assert await directory(server, admin) == before


# --- one item at a time ----------------------------------------------------------------------


async def test_put_user_creates_then_updates_and_keeps_the_password(server: LiveServer) -> None:
    """PUT creates (201) with the given password, then updates (200) without resetting it; GET
    shows the entry as the file would write it."""
    admin = await login(server, "admin")
    async with api(server, admin) as client:
        created = await client.put("/api/admin/users/drnew", json=A_USER)
        assert created.status_code == 201, created.text
        changed = A_USER | {"max_concurrent": 3, "password": "another-password-2"}
        updated = await client.put("/api/admin/users/drnew", json=changed)
        assert updated.status_code == 200, updated.text
        fetched = await client.get("/api/admin/users/drnew")
    expected = {k: v for k, v in A_USER.items() if k != "password"} | {
        "max_concurrent": 3,
        "active": True,
        "facilities": [],
        "timezone": None,
    }
    assert fetched.json()["user"] == expected
    assert updated.json()["user"] == expected
    await login(server, "drnew", "correct-horse-1")


async def test_disabling_a_user_ends_their_logins(server: LiveServer) -> None:
    """Setting active: false ends Dr Patel's open login; enabling again does not revive it."""
    admin, patel = await login(server, "admin"), await login(server, "drpatel")
    async with api(server, admin) as client:
        entry = (await client.get("/api/admin/users/drpatel")).json()["user"]
        off = await client.put("/api/admin/users/drpatel", json=entry | {"active": False})
        assert off.status_code == 200, off.text
        assert (await client.put("/api/admin/users/drpatel", json=entry)).status_code == 200
    async with api(server, patel) as client:
        assert (await client.get("/api/me")).status_code == 401
    await login(server, "drpatel")


async def test_the_last_admin_cannot_be_removed(server: LiveServer) -> None:
    """Taking the role admin from the only admin is refused (409) and changes nothing."""
    admin = await login(server, "admin")
    async with api(server, admin) as client:
        entry = (await client.get("/api/admin/users/admin")).json()["user"]
        response = await client.put(
            "/api/admin/users/admin", json=entry | {"roles": ["supervisor"]}
        )
        assert response.status_code == 409
        assert "no active user with the role admin" in response.json()["detail"]
        assert (await client.get("/api/admin/users/admin")).json()["user"] == entry


async def test_put_schedule_changes_who_is_on_call(server: LiveServer) -> None:
    """Handing EAST-PRIMARY to Dr Diaz shows at once in the on-call view; GET returns the schedule."""
    admin = await login(server, "admin")
    east = await room_facility_id(server, "East Side Imaging")
    schedule = {
        "code": "EAST-PRIMARY",
        "timezone": "America/Chicago",
        "facilities": ["EAST"],
        "rotations": [
            {
                "name": "weekly",
                "participants": ["drdiaz"],
                "start": "2026-01-01T00:00",
                "shift": "7d",
            }
        ],
    }
    async with api(server, admin) as client:
        response = await client.put("/api/admin/schedules/EAST-PRIMARY", json=schedule)
        assert response.status_code == 200, response.text
        assert response.json()["updated"] == {"schedules": 1}
        fetched = (await client.get("/api/admin/schedules/EAST-PRIMARY")).json()["schedule"]
    assert fetched["rotations"][0]["participants"] == ["drdiaz"]
    assert fetched["rotations"][0]["shift"] == "P7D"
    view = await on_call(server, admin, east)
    primary = next(s for s in view["schedules"] if s["code"] == "EAST-PRIMARY")
    assert primary["on_call"] == [{"name": "Dr Ray Diaz", "eligible": True, "reason": None}]


async def test_escalation_get_and_put(server: LiveServer) -> None:
    """North pages with the default (whole pool at once) until an admin gives it a policy."""
    admin = await login(server, "admin")
    async with api(server, admin) as client:
        before = (await client.get("/api/admin/facilities/NORTH/escalation")).json()
        put = await client.put("/api/admin/facilities/NORTH/escalation", json=A_POLICY)
        after = (await client.get("/api/admin/facilities/NORTH/escalation")).json()
    assert before["default"] is True
    assert [t["targets"] for t in before["escalation"]["tiers"]] == [
        [{"kind": "pool", "schedule": None, "users": []}]
    ]
    assert put.status_code == 200, put.text
    assert after["default"] is False
    assert [t["delay_s"] for t in after["escalation"]["tiers"]] == [0, 5]
    north = next(f for f in (await directory(server, admin))["facilities"] if f["code"] == "NORTH")
    assert north["escalation"] == after["escalation"]


@pytest.fixture
def two_per_room_server(database_url: str) -> Iterator[LiveServer]:
    """EAST has one room, and this runbook keeps two sessions open in it."""
    port = free_port()
    with run_server(make_settings(database_url, port, room_open_sessions_max=2), port) as live:
        yield live


async def test_editing_a_policy_leaves_paging_under_way_alone(
    two_per_room_server: LiveServer,
) -> None:
    """A session already paging keeps the tiers it started with after an admin edits the policy;
    a session opened after the edit pages with the new one."""
    server = two_per_room_server
    admin, diaz = await login(server, "admin"), await login(server, "drdiaz")
    slow = {
        "repeat": 0,
        "repeat_after_s": 1,
        "tiers": [
            {
                "delay_s": 0,
                "targets": [{"kind": "users", "users": ["drpatel"]}],
                "channels": ["in_app"],
            },
            {
                "delay_s": 4,
                "targets": [{"kind": "users", "users": ["drdiaz"]}],
                "channels": ["in_app"],
            },
        ],
    }
    one_tier = {
        "repeat": 0,
        "tiers": [
            {
                "delay_s": 0,
                "targets": [{"kind": "users", "users": ["drpatel"]}],
                "channels": ["in_app"],
            }
        ],
    }
    async with api(server, admin) as client:
        assert (
            await client.put("/api/admin/facilities/EAST/escalation", json=slow)
        ).status_code == 200
    tech = await login(server, "techeast")
    east_room = await room_id(server, tech, "East Side Imaging")
    async with connect(server, diaz) as diaz_phone:
        await diaz_phone.expect("requests")
        opened = asyncio.get_running_loop().time()
        running = await open_session(server, tech, room_id=east_room)
        async with api(server, admin) as client:
            edit = await client.put("/api/admin/facilities/EAST/escalation", json=one_tier)
        assert edit.status_code == 200, edit.text
        # The edit landed well before the running session's second tier was due (T+4 s).
        assert asyncio.get_running_loop().time() - opened < 3
        page = await diaz_phone.expect("page", timeout=10)
    assert (page["session_id"], page["tier"]) == (running["id"], 1)
    later = await open_session(server, tech, room_id=east_room)
    async with api(server, tech) as client:
        kept = (await client.get(f"/api/sessions/{running['id']}/paging")).json()["paging"]
        new = (await client.get(f"/api/sessions/{later['id']}/paging")).json()["paging"]
    assert kept["tiers"] == 2
    assert new["tiers"] == 1


# --- who is on call now ----------------------------------------------------------------------


async def room_facility_id(server: LiveServer, name: str) -> int:
    """A facility's id, as its technologist's room list gives it."""
    tech = await login(server, "techeast" if name == "East Side Imaging" else "tech")
    async with api(server, tech) as client:
        rooms = (await client.get("/api/rooms")).json()["rooms"]
    return next(r["facility"]["id"] for r in rooms if r["facility"]["name"] == name)


async def test_on_call_shows_who_until_when_and_who_could_be_paged(server: LiveServer) -> None:
    """Dr Diaz and Dr Old License are on North's schedule now; Diaz could be paged, the expired
    license could not (and says so); Dr Patel takes over at the next handoff. Names, never numbers."""
    admin = await login(server, "admin")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    start = hour.replace(tzinfo=None).isoformat(timespec="minutes")
    schedule = {
        "code": "NORTH-PRIMARY",
        "timezone": "UTC",
        "facilities": ["NORTH"],
        "rotations": [
            {"name": "pairs", "participants": ["drdiaz", "drpatel"], "start": start, "shift": "3h"},
            {"name": "standing", "participants": ["drexpired"], "start": start, "shift": "7d"},
        ],
    }
    async with api(server, admin) as client:
        response = await client.put("/api/admin/schedules/NORTH-PRIMARY", json=schedule)
    assert response.status_code == 201, response.text
    north = await north_id(server)
    for viewer in ("tech", "super", "admin"):
        async with api(server, await login(server, viewer)) as client:
            response = await client.get(f"/api/facilities/{north}/on-call")
        assert response.status_code == 200, viewer
        assert "+1555" not in response.text
    view = response.json()["on_call"]
    assert view["facility"]["code"] == "NORTH"
    (primary,) = view["schedules"]
    assert primary["code"] == "NORTH-PRIMARY"
    assert primary["on_call"] == [
        {"name": "Dr Old License", "eligible": False, "reason": "license_expired"},
        {"name": "Dr Ray Diaz", "eligible": True, "reason": None},
    ]
    assert primary["until"] == (hour + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert sorted(primary["next"]) == ["Dr Anya Patel", "Dr Old License"]
    assert view["escalation"] == {
        "default": True,
        "repeat": 1,
        "repeat_after_s": 20.0,
        "tiers": [
            {"delay_s": 0.0, "targets": [{"kind": "pool"}], "channels": ["in_app", "sms", "voice"]}
        ],
    }


async def test_on_call_counts_the_caseload_cap(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """Dr Patel (cap 1) is eligible on East's primary until she is supervising a session; then the
    view says she is at her cap, as the pager would. The policy's tiers are summarised by name.

    (The session she supervises is written straight to the database: how a radiologist comes to
    supervise one is the business of the session tests.)"""
    admin = await login(server, "admin")
    east = await room_facility_id(server, "East Side Imaging")
    view = await on_call(server, admin, east)
    primary = next(s for s in view["schedules"] if s["code"] == "EAST-PRIMARY")
    assert primary["on_call"] == [{"name": "Dr Anya Patel", "eligible": True, "reason": None}]
    assert primary["until"] is None  # one person every week: nobody takes over
    assert view["escalation"]["default"] is False
    assert [t["targets"] for t in view["escalation"]["tiers"]] == [
        [{"kind": "schedule", "schedule": "EAST-PRIMARY"}],
        [{"kind": "schedule", "schedule": "EAST-BACKUP"}],
        [{"kind": "pool"}],
    ]

    ids = dict((await db_session.execute(select(User.username, User.id))).all())
    room = await db_session.scalar(select(Room).where(Room.facility_id == east))
    assert room is not None
    now = datetime.now(UTC)
    db_session.add(
        SupervisionSession(
            id=str(uuid.uuid4()),
            facility_id=east,
            room_id=room.id,
            technologist_id=ids["techeast"],
            radiologist_id=ids["drpatel"],
            accession_number="ACC-CAP",
            state="joined",
            requested_at=now,
            paging_at=now,
            joined_at=now,
        )
    )
    await db_session.commit()
    view = await on_call(server, await login(server, "techeast"), east)
    primary = next(s for s in view["schedules"] if s["code"] == "EAST-PRIMARY")
    assert primary["on_call"] == [
        {"name": "Dr Anya Patel", "eligible": False, "reason": "at caseload cap (1 of 1)"}
    ]


async def test_on_call_is_scoped_to_the_viewers_facilities(server: LiveServer) -> None:
    """Radiologists get 403; a technologist or supervisor of another facility gets the same 404 as
    for a facility that does not exist."""
    north = await north_id(server)
    cases = [("drdiaz", north, 403), ("techwest", north, 404), ("tech", 99999, 404)]
    cases += [("super", await room_facility_id(server, "Lakeside Imaging"), 404)]
    for username, facility_id, status in cases:
        async with api(server, await login(server, username)) as client:
            response = await client.get(f"/api/facilities/{facility_id}/on-call")
        assert response.status_code == status, username
    async with api(server, await login(server, "techwest")) as client:
        missing = await client.get("/api/facilities/99999/on-call")
        other = await client.get(f"/api/facilities/{north}/on-call")
    assert missing.json()["error"] == other.json()["error"] == "not_found"


async def test_the_new_routes_are_in_the_api_description(server: LiveServer) -> None:
    """/openapi.json (behind /api/docs) still builds, and lists the new routes."""
    async with api(server) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/admin/directory" in paths
    assert "/api/admin/users/{username}" in paths
    assert "/api/admin/schedules/{code}" in paths
    assert "/api/admin/facilities/{code}/escalation" in paths
    assert "/api/facilities/{facility_id}/on-call" in paths
