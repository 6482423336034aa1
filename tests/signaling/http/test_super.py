"""The supervisor's console API (``/api/super/...``): the session list with its filters and pages,
the alerts inbox and its acknowledgements, the live board, who may read what, bad input.

One server per database for the module, seeded with sessions at fixed times (2026-03-02, UTC) whose
latencies were chosen for each band, so every expectation is counted by hand:

    NORTH  n1 CT1  +0 h   joined 14.2 s (Dr Diaz)   completed   under 30 s
           n2 MR1  +1 h   joined 45 s (Dr Patel)    completed   30-60 s
           n3 CT1  +2 h   joined 75 s (Dr Diaz)     completed   60-90 s
           n4 CT1  +3 h   joined 120 s (Dr Patel)   completed   over 90 s
           n5 MR1  +4 h   no join                   cancelled   unmeasured; paging ran out (alert)
           n6 CT1  +5 h   no join, still paging                 no band; a reaction STAT (alert)
    LAKE   l1 CT-A +0.5 h joined 10 s (Dr Diaz)     completed
    PORT   p1 CT-P +6 h   no join                   cancelled   paging ran out (alert)

``super`` supervises NORTH, ``superport`` PORT; ``admin`` reads all.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from paging.engine import ALERT_TIER, REACTION_ALERT_TIER, Purpose
from paging.policy import default_policy
from paging.store import pages, runs
from signaling.storage.database import make_engine, make_session_factory
from signaling.storage.models import (
    Facility,
    Room,
    SessionAccept,
    SessionEvent,
    SupervisionSession,
    User,
)
from tests.conftest import RUN_ID, _pg, drop_pg_database, make_settings, pg_url
from tests.live import LiveServer, api, free_port, login, run_server

BASE = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
DAY = {"start": "2026-03-01T00:00:00Z", "end": "2026-03-03T00:00:00Z"}
USERS = ("super", "superport", "admin", "tech", "drdiaz")


@dataclass
class Console:
    server: LiveServer
    ids: dict[str, Any]  # session name -> id; "user:<name>", "room:<code>", "facility:<code>"
    tokens: dict[str, str]
    alerts: dict[str, int]  # session name -> the alert's id (its first row)

    async def get(self, who: str | None, path: str, **params: Any) -> httpx.Response:
        async with api(self.server, self.tokens.get(who or "")) as client:
            return await client.get(path, params=params)

    async def post(self, who: str | None, path: str) -> httpx.Response:
        async with api(self.server, self.tokens.get(who or "")) as client:
            return await client.post(path)

    def names(self, response: httpx.Response) -> list[str]:
        """The seeded names of the sessions listed, in order."""
        assert response.status_code == 200, response.text
        by_id = {v: k for k, v in self.ids.items() if isinstance(v, str)}
        return [by_id.get(s["id"], s["id"]) for s in response.json()["sessions"]]


SESSIONS = [
    # name, facility, room, offset h, latency s or None, radiologist, outcome (None: open)
    ("n1", "NORTH", "CT1", 0, 14.2, "drdiaz", "completed"),
    ("n2", "NORTH", "MR1", 1, 45.0, "drpatel", "completed"),
    ("n3", "NORTH", "CT1", 2, 75.0, "drdiaz", "completed"),
    ("n4", "NORTH", "CT1", 3, 120.0, "drpatel", "completed"),
    ("n5", "NORTH", "MR1", 4, None, None, "cancelled"),
    ("n6", "NORTH", "CT1", 5, None, None, None),
    ("l1", "LAKE", "CT-A", 0.5, 10.0, "drdiaz", "completed"),
    ("p1", "PORT", "CT-P", 6, None, None, "cancelled"),
]


def _alert_row(
    key: str,
    session_id: str,
    user: tuple[int, str],
    channel: str,
    tier: int,
    status: str,
    **kw: Any,
) -> dict[str, Any]:
    at = kw.pop("at")
    row = {
        "key": key,
        "session_id": session_id,
        "user_id": user[0],
        "user_name": user[1],
        "channel": channel,
        "purpose": kw.pop("purpose", Purpose.ALERT),
        "tier": tier,
        "round": kw.pop("round", 1),
        "status": status,
        "created_at": at,
        "due_at": at,
        "attempts": 1,
        "sent_at": at + timedelta(seconds=1) if status == "sent" else None,
        "detail": kw.pop("detail", None),  # (every row names every column: one executemany)
    }
    assert not kw, f"columns the seed does not know: {kw}"
    return row


async def seed(url: str) -> tuple[dict[str, Any], dict[str, int]]:
    engine = make_engine(url)
    ids: dict[str, Any] = {}
    try:
        async with make_session_factory(engine)() as db, db.begin():
            for u in await db.scalars(select(User)):
                ids[f"user:{u.username}"] = u.id
                ids[f"name:{u.username}"] = u.full_name
            for f in await db.scalars(select(Facility)):
                ids[f"facility:{f.code}"] = f.id
            for r in await db.scalars(select(Room)):
                ids[f"room:{r.code}"] = r.id
            tech = {"NORTH": "tech", "LAKE": "tech", "PORT": "techport"}
            for name, facility, room, hours, latency, rad, outcome in SESSIONS:
                requested = BASE + timedelta(hours=hours)
                joined = requested + timedelta(seconds=latency) if latency is not None else None
                session_id = str(uuid.uuid4())
                ids[name] = session_id
                db.add(
                    SupervisionSession(
                        id=session_id,
                        facility_id=ids[f"facility:{facility}"],
                        room_id=ids[f"room:{room}"],
                        technologist_id=ids[f"user:{tech[facility]}"],
                        radiologist_id=ids[f"user:{rad}"] if rad else None,
                        accession_number=f"ACC-{name}",
                        state="ended" if outcome else "paging",
                        outcome=outcome,
                        cancel_reason="no_coverage" if outcome == "cancelled" else None,
                        requested_at=requested,
                        paging_at=requested,
                        accepted_at=joined,
                        joined_at=joined,
                        ended_at=requested + timedelta(minutes=20) if outcome else None,
                    )
                )
            await db.flush()
            sam = (ids["user:super"], "Sam Okafor")
            sue = (ids["user:superport"], "Sue Pier")
            diaz = (ids["user:drdiaz"], "Dr Ray Diaz")
            ran_out = BASE + timedelta(hours=4, seconds=40)
            rows = [
                _alert_row("n5/a1", ids["n5"], sam, "in_app", ALERT_TIER, "sent", at=ran_out),
                _alert_row(
                    "n5/a2",
                    ids["n5"],
                    sam,
                    "sms",
                    ALERT_TIER,
                    "skipped",
                    at=ran_out,
                    detail="no sms for this supervisor",
                ),
                _alert_row(
                    "p1/a1",
                    ids["p1"],
                    sue,
                    "in_app",
                    ALERT_TIER,
                    "failed",
                    at=BASE + timedelta(hours=6, seconds=40),
                    detail="not delivered: no Standby page open",
                ),
                _alert_row(
                    "p1/a2",
                    ids["p1"],
                    sue,
                    "sms",
                    ALERT_TIER,
                    "sent",
                    at=BASE + timedelta(hours=6, seconds=40),
                ),
                _alert_row(
                    "n6/r1",
                    ids["n6"],
                    sam,
                    "in_app",
                    REACTION_ALERT_TIER,
                    "sent",
                    at=BASE + timedelta(hours=5, seconds=70),
                ),
                # what paging did for n6, as the board shows it
                _alert_row(
                    "n6/p1",
                    ids["n6"],
                    diaz,
                    "in_app",
                    0,
                    "sent",
                    at=BASE + timedelta(hours=5),
                    purpose=Purpose.PAGE,
                    round=0,
                ),
            ]
            await db.execute(insert(pages), rows)
            await db.execute(
                insert(runs).values(
                    session_id=ids["n6"],
                    facility_id=ids["facility:NORTH"],
                    policy=default_policy().model_dump(mode="json"),
                    started_at=BASE + timedelta(hours=5),
                    state="active",
                )
            )
            db.add(
                SessionAccept(
                    session_id=ids["n6"],
                    user_id=ids["user:drpatel"],
                    via="sms",
                    accepted_at=BASE + timedelta(hours=5, seconds=20),
                )
            )
            found = await db.execute(select(pages.c.key, pages.c.id))
            by_key = dict(found.all())
            alerts = {"n5": by_key["n5/a1"], "p1": by_key["p1/a1"], "n6": by_key["n6/r1"]}
            ids["page:n6"] = by_key["n6/p1"]
    finally:
        await engine.dispose()
    return ids, alerts


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def console(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    """One seeded server for the module on each database."""
    pg_name = None
    if request.param == "sqlite":
        target = Path(tmp_path_factory.mktemp("console")) / "standby.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        url = f"sqlite+aiosqlite:///{target}"
    else:
        template = request.getfixturevalue("pg_template")
        pg_name = f"standby_test_{RUN_ID}_{uuid.uuid4().hex[:10]}"
        asyncio.run(_pg(f'CREATE DATABASE "{pg_name}" TEMPLATE "{template}"'))
        url = pg_url(pg_name)
    try:
        ids, alerts = asyncio.run(seed(url))
        port = free_port()
        with run_server(make_settings(url, port), port) as live:

            async def tokens() -> dict[str, str]:
                return {u: await login(live, u) for u in USERS}

            yield Console(live, ids, asyncio.run(tokens()), alerts)
    finally:
        if pg_name is not None:
            asyncio.run(drop_pg_database(pg_name))


# --- the session list ---------------------------------------------------------------------------


async def test_a_supervisor_lists_their_facilitys_sessions_newest_first_with_names(
    console: Console,
) -> None:
    """NORTH's six sessions of the day, newest first, people by name, latency judged in words,
    each with its printable record; nothing of LAKE or PORT."""
    response = await console.get("super", "/api/super/sessions", **DAY)
    assert console.names(response) == ["n6", "n5", "n4", "n3", "n2", "n1"]
    body = response.json()
    assert body["total"] == 6
    assert body["next"] is None
    assert (body["start"], body["end"]) == ("2026-03-01T00:00:00.000Z", "2026-03-03T00:00:00.000Z")
    n1 = body["sessions"][-1]
    assert n1 == {
        "id": console.ids["n1"],
        "requested_at": "2026-03-02T15:00:00.000Z",
        "facility": "North Imaging Center",
        "facility_timezone": "America/Chicago",
        "room": "CT Room 1",
        "modality": "CT",
        "technologist": "Tina Torres",
        "radiologist": "Dr Ray Diaz",
        "state": "ended",
        "outcome": "completed",
        "cancel_reason": None,
        "joined_at": "2026-03-02T15:00:14.200Z",
        "ended_at": "2026-03-02T15:20:00.000Z",
        "join_latency_s": 14.2,
        "band": "under_30",
        "latency_words": "14.2 s best in class",
        "record": f"/api/sessions/{console.ids['n1']}/record.html",
    }
    words = {s["band"]: s["latency_words"] for s in body["sessions"]}
    assert words == {
        None: "waiting",
        "unmeasured": "unmeasured: a failure",
        "over_90": "2 min 00 s over 90 s: a risk",
        "60_90": "1 min 15 s within 90 s",
        "30_60": "45.0 s within 60 s",
        "under_30": "14.2 s best in class",
    }
    assert "ACC-" not in response.text  # the list names no exam


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"band": "under_30"}, ["n1"]),
        ({"band": "30_60"}, ["n2"]),
        ({"band": "60_90"}, ["n3"]),
        ({"band": "over_90"}, ["n4"]),
        ({"band": "unmeasured"}, ["n5"]),  # n6 is still waiting: no band yet
        ({"outcome": "cancelled"}, ["n5"]),
        ({"outcome": "completed"}, ["n4", "n3", "n2", "n1"]),
        ({"modality": "MR"}, ["n5", "n2"]),
        ({"modality": "mr"}, ["n5", "n2"]),
        ({"room": "room:CT1"}, ["n6", "n4", "n3", "n1"]),
        ({"radiologist": "user:drpatel"}, ["n4", "n2"]),
        ({"facility": "facility:NORTH", "outcome": "completed", "band": "over_90"}, ["n4"]),
        # half-open: requested at or after 16:00, before 18:00 (n4 at 18:00 is out)
        ({"start": "2026-03-02T16:00:00Z", "end": "2026-03-02T18:00:00Z"}, ["n3", "n2"]),
        ({"start": "2026-03-02T10:00:00-06:00", "end": "2026-03-02T11:00:00-06:00"}, ["n2"]),
        ({"start": "2026-04-01T00:00:00Z", "end": "2026-04-02T00:00:00Z"}, []),
    ],
)
async def test_filters_narrow_the_list(
    console: Console, filters: dict[str, str], expected: list[str]
) -> None:
    """Each filter, alone and together, gives the sessions counted by hand."""
    params = DAY | {k: console.ids.get(v, v) for k, v in filters.items()}
    response = await console.get("super", "/api/super/sessions", **params)
    assert console.names(response) == expected
    assert response.json()["total"] == len(expected)


async def test_pages_follow_one_another_without_gaps_or_repeats(console: Console) -> None:
    """Four a page: the first page's ``next`` gives the last two, then no more."""
    first = await console.get("super", "/api/super/sessions", **DAY, limit=4)
    assert console.names(first) == ["n6", "n5", "n4", "n3"]
    assert first.json()["total"] == 6
    cursor = first.json()["next"]
    assert cursor
    second = await console.get("super", "/api/super/sessions", **DAY, limit=4, after=cursor)
    assert console.names(second) == ["n2", "n1"]
    assert second.json()["next"] is None
    assert second.json()["total"] == 6
    exact = await console.get("super", "/api/super/sessions", **DAY, limit=6)
    assert exact.json()["next"] is None  # a full last page says there is no more


async def test_each_reader_sees_only_their_facilities(console: Console) -> None:
    """PORT's supervisor sees PORT's one session, the admin every one; a supervisor naming
    another's facility is refused, whether or not it exists; nobody else may read the list."""
    assert console.names(await console.get("superport", "/api/super/sessions", **DAY)) == ["p1"]
    everything = await console.get("admin", "/api/super/sessions", **DAY)
    assert console.names(everything) == ["p1", "n6", "n5", "n4", "n3", "n2", "l1", "n1"]
    for facility in (console.ids["facility:LAKE"], 999_999):
        refused = await console.get("super", "/api/super/sessions", **DAY, facility=facility)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "forbidden"
    # another facility's room or radiologist finds nothing of it
    room = await console.get("super", "/api/super/sessions", **DAY, room=console.ids["room:CT-P"])
    assert console.names(room) == []
    for who in ("tech", "drdiaz"):
        response = await console.get(who, "/api/super/sessions", **DAY)
        assert response.status_code == 403
        assert response.json()["detail"] == "reports are for supervisors and admins"
    for path in ("/api/super/sessions", "/api/super/alerts", "/api/super/board"):
        assert (await console.get(None, path)).status_code == 401
        assert (await console.get("tech", path)).status_code == 403
    assert (
        await console.post(None, f"/api/super/alerts/{console.alerts['n5']}/acknowledge")
    ).status_code == 401


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"band": "fast"}, "band"),
        ({"outcome": "open"}, "outcome"),
        ({"start": "2026-03-01T00:00:00"}, "time zone"),
        ({"start": "2026-03-03T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "must end after"),
        ({"start": "2025-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "at most 367 days"),
        ({"start": "yesterday"}, "start"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"after": "not-a-cursor"}, "after"),
        ({"after": "x" * 201}, "after"),
        ({"facility": str(2**31)}, "facility"),
        ({"room": "0"}, "room"),
        ({"modality": "C T"}, "modality"),
        ({"modality": "X" * 11}, "modality"),
        ({"radiologist": "0"}, "radiologist"),
        ({"radiologist": str(10**30)}, "radiologist"),
    ],
)
async def test_bad_input_is_422_saying_what(
    console: Console, params: dict[str, str], detail: str
) -> None:
    """Malformed, out of range or oversized filters: 422 naming the problem, never a 500."""
    response = await console.get("super", "/api/super/sessions", **(DAY | params))
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_input"
    assert detail in response.json()["detail"]


async def test_the_record_link_opens_for_the_facilitys_supervisor_only(console: Console) -> None:
    """Each row's record is the printable record, for NORTH's supervisor; not for PORT's."""
    listed = (await console.get("super", "/api/super/sessions", **DAY)).json()["sessions"]
    link = next(s["record"] for s in listed if s["id"] == console.ids["n1"])
    opened = await console.get("super", link)
    assert opened.status_code == 200
    assert opened.headers["content-type"].startswith("text/html")
    assert "Dr Ray Diaz" in opened.text
    assert (await console.get("superport", link)).status_code == 404


# --- the alerts inbox -----------------------------------------------------------------------------


async def test_the_inbox_lists_each_alert_once_with_how_it_was_delivered(
    console: Console,
) -> None:
    """NORTH's supervisor: the reaction alert (n6) above the paging-ran-out one (n5), each with
    where, when, the session's state now and each delivery; PORT's alert is not there."""
    response = await console.get("super", "/api/super/alerts")
    assert response.status_code == 200, response.text
    listed = response.json()["alerts"]
    assert [(a["id"], a["kind"]) for a in listed] == [
        (console.alerts["n6"], "reaction"),
        (console.alerts["n5"], "exhausted"),
    ]
    n6, n5 = listed
    assert (n6["facility"], n6["room"], n6["modality"]) == (
        "North Imaging Center",
        "CT Room 1",
        "CT",
    )
    assert n6["raised_at"] == "2026-03-02T20:01:10.000Z"
    assert n6["session"] == {
        "state": "paging",
        "outcome": None,
        "cancel_reason": None,
        "radiologist": None,
        "joined_at": None,
    }
    assert n5["session"]["outcome"] == "cancelled"
    assert n5["session"]["cancel_reason"] == "no_coverage"
    assert [(d["person"], d["channel"], d["status"], d["detail"]) for d in n5["deliveries"]] == [
        ("Sam Okafor", "in_app", "sent", None),
        ("Sam Okafor", "sms", "skipped", "no sms for this supervisor"),
    ]
    assert n5["delivered"] is True
    assert n5["record"] == f"/api/sessions/{console.ids['n5']}/record.html"
    port = (await console.get("superport", "/api/super/alerts")).json()["alerts"]
    assert [(a["id"], a["delivered"]) for a in port] == [(console.alerts["p1"], True)]
    everyone = (await console.get("admin", "/api/super/alerts")).json()["alerts"]
    assert [a["id"] for a in everyone] == [console.alerts[n] for n in ("n6", "p1", "n5")]
    # a page at a time, older ones by ``before``
    first = (await console.get("admin", "/api/super/alerts", limit=1)).json()
    assert [a["id"] for a in first["alerts"]] == [console.alerts["n6"]]
    older = await console.get("admin", "/api/super/alerts", limit=5, before=first["before"])
    assert [a["id"] for a in older.json()["alerts"]] == [console.alerts["p1"], console.alerts["n5"]]
    assert older.json()["before"] is None
    for bad in ({"limit": "0"}, {"limit": "201"}, {"before": "0"}, {"before": "x"}):
        assert (await console.get("super", "/api/super/alerts", **bad)).status_code == 422


async def test_an_acknowledgement_says_who_and_when_and_stays_the_first(
    console: Console,
) -> None:
    """Sam Okafor acknowledges NORTH's reaction alert: the inbox says so, the session's log keeps
    it; acknowledging again, or by the admin, changes nothing. PORT's supervisor may not touch it;
    a row that is no alert, or no row, is 404; an id out of range 422."""
    alert_id = console.alerts["n6"]
    path = f"/api/super/alerts/{alert_id}/acknowledge"
    before = datetime.now(UTC) - timedelta(seconds=1)
    first = await console.post("super", path)
    assert first.status_code == 200, first.text
    assert first.json()["acknowledged_now"] is True
    acked = first.json()["alert"]["acknowledged"]
    assert acked["by"] == "Sam Okafor"
    at = datetime.fromisoformat(acked["at"].replace("Z", "+00:00"))
    assert before <= at <= datetime.now(UTC) + timedelta(seconds=1)
    again = await console.post("admin", path)
    assert again.status_code == 200
    assert again.json()["acknowledged_now"] is False
    assert again.json()["alert"]["acknowledged"] == acked
    listed = (await console.get("super", "/api/super/alerts")).json()["alerts"]
    assert {a["id"]: a["acknowledged"] for a in listed} == {
        alert_id: acked,
        console.alerts["n5"]: None,
    }
    engine = make_engine(console.server.settings.database_url)
    try:
        async with make_session_factory(engine)() as db:
            logged = (
                await db.scalars(
                    select(SessionEvent).where(
                        SessionEvent.session_id == console.ids["n6"],
                        SessionEvent.kind == "alert_acknowledged",
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    assert [(e.actor_id, e.body) for e in logged] == [
        (console.ids["user:super"], {"alert": alert_id, "kind": "reaction", "round": 1})
    ]
    assert (await console.post("superport", path)).status_code == 404
    assert (await console.post("tech", path)).status_code == 403
    not_alert = f"/api/super/alerts/{console.ids['page:n6']}/acknowledge"
    assert (await console.post("super", not_alert)).status_code == 404
    assert (
        await console.post("super", "/api/super/alerts/99999999/acknowledge")
    ).status_code == 404
    for bad in ("0", str(2**31), "x"):
        response = await console.post("super", f"/api/super/alerts/{bad}/acknowledge")
        assert response.status_code == 422, response.text


# --- the live board -------------------------------------------------------------------------------


async def test_the_board_shows_open_sessions_with_who_is_paged_and_accepted(
    console: Console,
) -> None:
    """Only n6 is open at NORTH: on the board with its paging (Dr Diaz paged in-app) and Dr
    Patel's standing accept, no accession number; PORT's supervisor has nothing open."""
    response = await console.get("super", "/api/super/board")
    assert response.status_code == 200, response.text
    board = response.json()
    assert board["open"] == 1
    [n6] = board["sessions"]
    assert (n6["id"], n6["state"], n6["requested_at"]) == (
        console.ids["n6"],
        "paging",
        "2026-03-02T20:00:00.000Z",
    )
    assert "accession_number" not in n6
    assert n6["technologist"]["full_name"] == "Tina Torres"
    paging = n6["paging"]
    assert [(p["name"], p["channel"], p["status"]) for p in paging["pages"]] == [
        ("Dr Ray Diaz", "in_app", "sent")
    ]
    assert [(a["name"], a["via"], a["status"]) for a in paging["accepts"]] == [
        ("Dr Anya Patel", "sms", "standing")
    ]
    assert paging["supervisors_alerted"] == []
    assert paging["supervisors_told_of_reaction"] == [
        {"name": "Sam Okafor", "channel": "in_app", "status": "sent", "detail": None}
    ]
    port = (await console.get("superport", "/api/super/board")).json()
    assert (port["open"], port["sessions"]) == (0, [])
    assert [
        s["id"] for s in (await console.get("admin", "/api/super/board")).json()["sessions"]
    ] == [console.ids["n6"]]


async def test_the_filters_offer_the_readers_facilities_rooms_and_radiologists(
    console: Console,
) -> None:
    """NORTH's rooms and the radiologists privileged there, by name; PORT's for PORT's."""
    north = (await console.get("super", "/api/super/choices")).json()
    assert [(f["name"], [r["name"] for r in f["rooms"]]) for f in north["facilities"]] == [
        ("North Imaging Center", ["CT Room 1", "MRI Suite 1"])
    ]
    assert north["modalities"] == ["CT", "MR"]
    assert [r["name"] for r in north["radiologists"]] == [
        "Dr Anya Patel",
        "Dr Old License",
        "Dr Ray Diaz",
    ]
    assert [b["key"] for b in north["bands"]] == [
        "under_30",
        "30_60",
        "60_90",
        "over_90",
        "unmeasured",
    ]
    port = (await console.get("superport", "/api/super/choices")).json()
    assert [f["name"] for f in port["facilities"]] == ["Port Imaging"]
    assert [r["name"] for r in port["radiologists"]] == ["Dr Hal Harbor"]
    assert (await console.get("drdiaz", "/api/super/choices")).status_code == 403


async def test_home_sends_supervisors_and_admins_to_their_console(console: Console) -> None:
    """``/`` sends a supervisor or an admin to ``/super``; ``/super`` sends anybody else home."""
    for who, home in (("super", "/super"), ("admin", "/super"), ("tech", "/tech")):
        response = await console.get(who, "/")
        assert (response.status_code, response.headers["location"]) == (303, home)
    page = await console.get("super", "/super")
    assert page.status_code == 200
    assert "Supervisor · Standby" in page.text
    assert (await console.get("tech", "/super")).headers["location"] == "/"
    assert (await console.get(None, "/super")).headers["location"] == "/login"
