"""A facility that requires a passed pre-flight check per device and shift: the technologist
cannot open a session, nor a radiologist join one, until they have passed it on that device.
Accepting (a promise, by console, SMS or phone) is never blocked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from media.synthetic import VideoMode
from signaling.checks.preflight import passed_within
from signaling.clock import utc_now
from signaling.storage.models import PreflightCheck
from tests.live import LiveServer, api, login
from tests.signaling.helpers import accept, open_session, room_id
from tests.signaling.preflight_steps import new_device, run_check

REFUSAL = "Run 'Test camera, microphone and network' on this device first"


async def require_preflight_at_north(server: LiveServer, on: bool = True) -> None:
    """An admin switches North's requirement through the directory API (as the file would)."""
    admin = await login(server, "admin")
    async with api(server, admin) as client:
        document = (await client.get("/api/admin/directory")).json()
        north = next(f for f in document["facilities"] if f["code"] == "NORTH")
        response = await client.put(
            "/api/admin/directory", json={"facilities": [north | {"require_preflight": on}]}
        )
    assert response.status_code == 200, response.text


async def try_open(server: LiveServer, token: str, device_id: str | None) -> Any:
    body: dict[str, Any] = {"room_id": await room_id(server, token), "accession_number": "A-1"}
    if device_id is not None:
        body["device_id"] = device_id
    async with api(server, token) as client:
        return await client.post("/api/sessions", json=body)


async def try_join(server: LiveServer, token: str, session_id: str, device_id: str | None) -> Any:
    async with api(server, token) as client:
        if device_id is None:
            return await client.post(f"/api/sessions/{session_id}/join")
        return await client.post(f"/api/sessions/{session_id}/join", json={"device_id": device_id})


async def test_without_the_requirement_nothing_changes(server: LiveServer) -> None:
    """North does not require a check by default: open and join work with no device id at all."""
    tech, rad = await login(server, "tech"), await login(server, "drdiaz")
    response = await try_open(server, tech, None)
    assert response.status_code == 201
    assert (await try_join(server, rad, response.json()["session"]["id"], None)).status_code == 200


async def test_opening_needs_a_passed_check_on_this_device(server: LiveServer) -> None:
    """Refused (428, in words) without a device, with a failed check, with a pass on another
    device; allowed once this device passed."""
    await require_preflight_at_north(server)
    tech = await login(server, "tech")
    desk, other = new_device(), new_device()
    refused = await try_open(server, tech, None)
    assert refused.status_code == 428
    assert refused.json()["error"] == "preflight_required"
    assert refused.json()["detail"].startswith(REFUSAL)
    assert "North Imaging Center" in refused.json()["detail"]
    await run_check(server, tech, desk, video=VideoMode.BLACK)
    assert (await try_open(server, tech, desk)).status_code == 428
    await run_check(server, tech, other)
    assert (await try_open(server, tech, desk)).status_code == 428
    async with api(server, tech) as client:
        assert (await client.get("/api/sessions?mine=true")).json()["sessions"] == []
        listing = (await client.get("/api/preflight/checks")).json()
    assert listing["required_by"] == ["North Imaging Center"]
    await run_check(server, tech, desk)
    opened = await try_open(server, tech, desk)
    assert opened.status_code == 201, opened.text


async def test_joining_needs_a_pass_but_accepting_does_not(server: LiveServer) -> None:
    """The radiologist may accept (a promise) without a check; joining is refused until this
    device passed, and the accept still stands meanwhile."""
    tech, rad = await login(server, "tech"), await login(server, "drdiaz")
    session = await open_session(server, tech)  # opened before North required anything
    await require_preflight_at_north(server)
    accepted = await accept(server, rad, session["id"])
    assert [a["radiologist"]["full_name"] for a in accepted["accepts"]] == ["Dr Ray Diaz"]
    laptop = new_device()
    for device in (None, laptop):
        refused = await try_join(server, rad, session["id"], device)
        assert refused.status_code == 428
        assert refused.json()["detail"].startswith(REFUSAL)
    async with api(server, rad) as client:
        still = (await client.get(f"/api/sessions/{session['id']}")).json()["session"]
    assert still["radiologist"] is None
    assert [a["radiologist"]["full_name"] for a in still["accepts"]] == ["Dr Ray Diaz"]
    await run_check(server, rad, laptop)
    joined = await try_join(server, rad, session["id"], laptop)
    assert joined.status_code == 200, joined.text
    assert joined.json()["session"]["radiologist"]["full_name"] == "Dr Ray Diaz"


async def test_lifting_the_requirement_opens_again(server: LiveServer) -> None:
    """Switching the requirement off in the directory lifts it at once."""
    await require_preflight_at_north(server)
    tech = await login(server, "tech")
    assert (await try_open(server, tech, None)).status_code == 428
    await require_preflight_at_north(server, on=False)
    assert (await try_open(server, tech, None)).status_code == 201


async def test_a_pass_counts_for_the_shift_only(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """A pass counts for STANDBY_PREFLIGHT_VALID_H (12 h): 11 h old opens, 13 h old is refused;
    and with time as a parameter, the window closes exactly 12 h after the pass."""
    await require_preflight_at_north(server)
    tech = await login(server, "tech")
    async with api(server, tech) as client:
        user_id = (await client.get("/api/me")).json()["user"]["id"]
    now = utc_now()
    fresh, stale = new_device(), new_device()
    for device, age in ((fresh, 11), (stale, 13)):
        db_session.add(
            PreflightCheck(
                user_id=user_id,
                device_id=device,
                device_label="",
                checked_at=now - timedelta(hours=age),
                passed=True,
                result={"state": "complete"},
            )
        )
    await db_session.commit()
    assert (await try_open(server, tech, stale)).status_code == 428
    assert (await try_open(server, tech, fresh)).status_code == 201
    shift = timedelta(hours=12)
    passed_at = now - timedelta(hours=11)
    later = passed_at + shift - timedelta(milliseconds=1)
    assert await passed_within(db_session, user_id, fresh, later, shift) is not None
    assert await passed_within(db_session, user_id, fresh, passed_at + shift, shift) is None
    assert await passed_within(db_session, user_id, fresh, passed_at + shift, 2 * shift)
    assert await passed_within(db_session, user_id, None, now, shift) is None


async def test_the_directory_carries_the_switch_losslessly(server: LiveServer) -> None:
    """require_preflight is in the export, survives an unedited round trip and a policy edit."""
    await require_preflight_at_north(server)
    admin = await login(server, "admin")
    async with api(server, admin) as client:
        first = (await client.get("/api/admin/directory")).json()
        flags = {f["code"]: f["require_preflight"] for f in first["facilities"]}
        assert flags["NORTH"] is True
        assert flags["LAKE"] is False
        assert (await client.put("/api/admin/directory", json=first)).status_code == 200
        assert (await client.get("/api/admin/directory")).json() == first
        policy = (await client.get("/api/admin/facilities/NORTH/escalation")).json()["escalation"]
        edited = await client.put("/api/admin/facilities/NORTH/escalation", json=policy)
        assert edited.status_code == 200, edited.text
        after = (await client.get("/api/admin/directory")).json()
    assert next(f for f in after["facilities"] if f["code"] == "NORTH")["require_preflight"]
