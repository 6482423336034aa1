"""The reports over HTTP (JSON in the OpenAPI schema, CSV) and in the terminal, through the real
server and the real command; a supervisor of one facility sees nothing of another by either.

One server per database for the whole module, over a week of sessions inserted before it
starts: NORTH (Chicago) joins after 12 s (Dr Patel, SMS) and 45 s (Dr Diaz, MRI) and one never
joined; LAKE (New York) one join after 95 s (Dr Diaz)."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from signaling.reports import csv_export
from signaling.reports.shape import Column
from signaling.storage.database import make_engine, make_session_factory
from tests.conftest import make_settings
from tests.live import LiveServer, api, free_port, login, run_server
from tests.signaling.reports.data import add_page, add_session, at, ids, joined_session

WEEK = {"from": "2026-03-02", "to": "2026-03-08"}


async def _seed(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as db, db.begin():
            d = await ids(db)
            await joined_session(db, d, at("2026-03-03T15:00"), 12.0, "drpatel", via="sms")
            await joined_session(db, d, at("2026-03-04T16:00"), 45.0, "drdiaz", room="MR1")
            missed = await add_session(db, d, at("2026-03-05T17:00"))
            await add_page(db, d, missed, "drpatel", at("2026-03-05T17:00"))
            await joined_session(db, d, at("2026-03-04T18:00"), 95.0, "drdiaz", facility="LAKE")
            return d.facilities
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def facilities(module_database: str) -> dict[str, int]:
    return asyncio.run(_seed(module_database))


@pytest.fixture(scope="module")
def server(module_database: str, facilities: dict[str, int]) -> Iterator[LiveServer]:
    port = free_port()
    with run_server(make_settings(module_database, port), port) as live:
        yield live


_TOKENS: dict[tuple[int, str], str] = {}


async def _get(server: LiveServer, user: str | None, path: str, **params: Any) -> httpx.Response:
    """GET as ``user`` (logged in once per server), or as nobody."""
    token = None
    if user is not None:
        if (server.port, user) not in _TOKENS:
            _TOKENS[(server.port, user)] = await login(server, user)
        token = _TOKENS[(server.port, user)]
    async with api(server, token) as client:
        return await client.get(path, params=params)


def _table(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    table = next(t for t in body["tables"] if t["key"] == key)
    names = [c["key"] for c in table["columns"]]
    return [dict(zip(names, row, strict=True)) for row in table["rows"]]


async def test_a_supervisor_reads_the_response_time_of_their_facility(server: LiveServer) -> None:
    """Sam (supervisor of NORTH): March 2-8 in Chicago time, three sessions, median of 12 and
    45 s; LAKE's session is not in any figure; not to be cached."""
    response = await _get(server, "super", "/api/reports/response_time", **WEEK)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["key"] == "response_time"
    assert (body["start"], body["end"]) == ("2026-03-02T06:00:00Z", "2026-03-09T05:00:00Z")
    assert body["facilities"] == ["North Imaging Center"]
    cards = {c["key"]: c for c in body["cards"]}
    assert cards["sessions"]["value"] == 3
    assert cards["sessions"]["previous"] == 0
    assert cards["p50_s"]["value"] == 28.5
    assert cards["max_s"]["value"] == 45.0
    assert cards["share_unmeasured"]["value"] == pytest.approx(1 / 3)
    assert [r["facility"] for r in _table(body, "by_facility")] == ["North Imaging Center"]
    assert {t["key"] for t in body["tables"]} >= {"histogram", "weekly", "weekday_hour", "by_tier"}


async def test_a_table_as_csv_is_the_json_table(server: LiveServer) -> None:
    """by_radiologist.csv: an attachment named by report, table and dates only; UTF-8 with a
    byte-order mark for spreadsheets; its header is the columns' labels with units and its rows
    are the JSON rows as a spreadsheet reads them (shares in percent, empty for none)."""
    path = "/api/reports/response_time"
    body = (await _get(server, "super", path, **WEEK)).json()
    response = await _get(server, "super", f"{path}/by_radiologist.csv", **WEEK)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"] == (
        'attachment; filename="response-time-by-radiologist-2026-03-02-to-2026-03-08.csv"'
    )
    assert response.content.startswith(codecs.BOM_UTF8)
    parsed = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    table = next(t for t in body["tables"] if t["key"] == "by_radiologist")
    columns = [Column(c["key"], c["label"], c["unit"]) for c in table["columns"]]
    assert parsed[0] == [csv_export.header(c) for c in columns]
    assert parsed[1:] == [
        [csv_export.value(v, c) for v, c in zip(row, columns, strict=True)] for row in table["rows"]
    ]
    assert [row[0] for row in parsed[1:]] == ["Dr Anya Patel", "Dr Ray Diaz", "nobody joined"]
    share = next(i for i, c in enumerate(columns) if c.unit == "share")
    first = table["rows"][0][share]
    assert parsed[1][share] == ("" if first is None else f"{first * 100:.2f}")


async def test_radiologist_load_and_before_after(server: LiveServer) -> None:
    """The admin's load report counts Dr Diaz's LAKE page too; Sam's does not. Before and after:
    the week of 23 February (nothing) against March 2-8."""
    path = "/api/reports/radiologist_load"
    admin = (await _get(server, "admin", path, **WEEK)).json()
    sam = (await _get(server, "super", path, **WEEK)).json()
    pages = {r["radiologist"]: r["pages"] for r in _table(admin, "radiologists")}
    assert pages == {"Dr Anya Patel": 2, "Dr Ray Diaz": 2}
    pages = {r["radiologist"]: (r["pages"], r["missed"]) for r in _table(sam, "radiologists")}
    assert pages == {"Dr Anya Patel": (2, 1), "Dr Ray Diaz": (1, 0)}
    ranges = {
        "a_from": "2026-02-23",
        "a_to": "2026-03-01",
        "b_from": "2026-03-02",
        "b_to": "2026-03-08",
    }
    response = await _get(server, "super", "/api/reports/before-after", **ranges)
    assert response.status_code == 200, response.text
    cards = {c["key"]: (c["previous"], c["value"]) for c in response.json()["cards"]}
    assert cards["sessions"] == (0, 3)


async def test_no_facility_of_another_supervisor(
    server: LiveServer, facilities: dict[str, int]
) -> None:
    """Sam asking for LAKE by id, in JSON or CSV, is refused; asking for NORTH is answered; a
    technologist and nobody at all are refused."""
    lake, north = facilities["LAKE"], facilities["NORTH"]
    for path in ("/api/reports/response_time", "/api/reports/response_time/by_facility.csv"):
        refused = await _get(server, "super", path, facility=lake, **WEEK)
        assert refused.status_code == 403
        assert "not one of yours" in refused.json()["detail"]
    both = await _get(server, "super", "/api/reports/radiologist_load", facility=[north, lake])
    assert both.status_code == 403
    ours = await _get(
        server, "super", "/api/reports/response_time/by_facility.csv", facility=north, **WEEK
    )
    assert [row[0] for row in csv.reader(io.StringIO(ours.content.decode("utf-8-sig")))] == [
        "Facility",
        "North Imaging Center",
    ]
    assert (await _get(server, "tech", "/api/reports/response_time")).status_code == 403
    assert (await _get(server, None, "/api/reports/response_time")).status_code == 401


@pytest.mark.parametrize(
    ("path", "params", "status", "says"),
    [
        ("/api/reports/nonesuch", {}, 404, "no report 'nonesuch'"),
        ("/api/reports/response_time/nonesuch.csv", {}, 404, "has no table 'nonesuch'"),
        ("/api/reports/Response-Time", {}, 422, "key"),
        ("/api/reports/response_time", {"from": "March"}, 422, "from: expected a date"),
        (
            "/api/reports/response_time",
            {"from": "2026-03-09", "to": "2026-03-01"},
            422,
            "end after",
        ),
        (
            "/api/reports/response_time",
            {"from": "2025-01-01", "to": "2026-03-01"},
            422,
            "at most 367",
        ),
        ("/api/reports/response_time", {"to": "9999-12-31"}, 422, "out of the range"),
        ("/api/reports/response_time", {"from": "2" * 41}, 422, "from"),
        ("/api/reports/response_time", {"fromm": "2026-03-01"}, 422, "fromm"),
        ("/api/reports/response_time", {"facility": "0"}, 422, "facility"),
        ("/api/reports/response_time", {"facility": "north"}, 422, "facility"),
        ("/api/reports/response_time", {"facility": ["1"] * 201}, 422, "facility"),
        ("/api/reports/response_time", {"band": "slow"}, 422, "band"),
        ("/api/reports/response_time", {"modality": "PET"}, 422, "modality"),
        ("/api/reports/before-after", {"a_from": "2026-03-01"}, 422, "a_to"),
    ],
)
async def test_bad_requests_are_refused_with_a_reason(
    server: LiveServer, path: str, params: dict[str, Any], status: int, says: str
) -> None:
    response = await _get(server, "super", path, **params)
    assert response.status_code == status, response.text
    assert says in response.json()["detail"]


async def test_the_schema_shows_the_report_shape(server: LiveServer) -> None:
    schema = (await _get(server, None, "/openapi.json")).json()
    answer = schema["paths"]["/api/reports/{key}"]["get"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReportOut"
    }
    names = [p["name"] for p in schema["paths"]["/api/reports/{key}"]["get"]["parameters"]]
    assert {
        "key",
        "from",
        "to",
        "facility",
        "room",
        "modality",
        "radiologist",
        "outcome",
        "band",
    } <= set(names)
    assert set(schema["components"]["schemas"]["CardOut"]["properties"]) >= {
        "value",
        "previous",
        "change",
    }


def _standby(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"STANDBY_DATABASE_URL": database_url, "STANDBY_ENVIRONMENT": "test"}
    return subprocess.run(
        [sys.executable, "-m", "signaling", "report", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_terminal_report_as_a_supervisor(
    module_database: str, facilities: dict[str, int]
) -> None:
    """`standby report response_time --as super` prints NORTH's cards and tables, nothing of
    LAKE; asking for LAKE as Sam is refused; the operator's CSV has both facilities."""
    done = _standby(
        module_database,
        "response_time",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-08",
        "--as",
        "super",
    )
    assert done.returncode == 0, done.stderr
    assert "Facilities: North Imaging Center\n" in done.stdout
    assert "Lakeside" not in done.stdout
    assert "Median join" in done.stdout
    assert "28.5 s" in done.stdout
    refused = _standby(module_database, "radiologist_load", "--facility", "LAKE", "--as", "super")
    assert refused.returncode == 2
    assert "not one of yours" in refused.stderr
    table = _standby(
        module_database,
        "response_time",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-08",
        "--csv",
        "by_facility",
    )
    assert table.returncode == 0, table.stderr
    assert [row[:2] for row in csv.reader(io.StringIO(table.stdout))] == [
        ["Facility", "Sessions"],
        ["Lakeside Imaging", "1"],
        ["North Imaging Center", "3"],
    ]
