"""Prometheus ``/metrics`` through the real server: refused without the scrape token or from an address
not allowed; with it, text Prometheus parses, whose counts follow what sessions and the pager did.

One server per database for the module (token, allowed address and a trusted proxy configured,
SMS and voice to the fake Twilio); each test compares a scrape after its own steps with one before,
and ends its sessions, so the next test starts from a quiet service.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from paging.store import timers
from signaling.metrics.service_counts import LATENCY_BOUNDS_S
from signaling.storage.database import make_engine, make_session_factory
from signaling.storage.models import SupervisionSession
from tests.conftest import fresh_database, make_settings
from tests.fakes.twilio_server import FakeTwilio, run_fake_twilio
from tests.live import LiveServer, api, connect, free_port, login, run_server
from tests.signaling.helpers import get_session, join_request, open_session, room_id
from tests.signaling.http.test_monitor import Call, send_copy
from tests.signaling.logins import client_at

TOKEN = secrets.token_urlsafe(32)
ALLOWED = "127.0.0.2"  # STANDBY_METRICS_ALLOW
PROXY = "127.0.0.3"  # STANDBY_TRUSTED_PROXIES
PATEL = "+15550000005"
WORKER = f"{socket.gethostname()}:{os.getpid()}"  # the in-process server is this process
FAMILIES = {
    "standby_join_latency_seconds": "histogram",
    "standby_sessions_unmeasured": "counter",
    "standby_sessions_ended": "counter",
    "standby_sessions_open": "gauge",
    "standby_pages": "gauge",
    "standby_pager_timer_lateness_seconds": "histogram",
    "standby_media_monitors": "gauge",
    "standby_media_monitors_max": "gauge",
    "standby_worker_figures_age_seconds": "gauge",
    "standby_dependency_up": "gauge",
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One fresh, seeded database of each kind for the whole module."""
    yield from fresh_database(request, tmp_path_factory.mktemp("metrics"), request.param)


@pytest.fixture(scope="module")
def module_twilio() -> Iterator[FakeTwilio]:
    with run_fake_twilio() as fake:
        yield fake


@pytest.fixture(scope="module")
def metrics_server(module_database: str, module_twilio: FakeTwilio) -> Iterator[LiveServer]:
    with pytest.MonkeyPatch.context() as env:  # (the autouse cleaner is per test)
        for name in list(os.environ):
            if name.startswith("STANDBY_") and not name.startswith("STANDBY_TEST_"):
                env.delenv(name)
        port = free_port()
        settings = make_settings(
            module_database,
            port,
            metrics_token=TOKEN,
            metrics_allow=ALLOWED,
            trusted_proxies=PROXY,
        )
        with run_server(settings, port, module_twilio.settings()) as live:
            yield live


async def scrape(server: LiveServer, headers: dict[str, str] | None = None) -> str:
    async with api(server) as client:
        response = await client.get(
            "/metrics", headers=headers or {"authorization": f"Bearer {TOKEN}"}
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert response.headers["cache-control"] == "no-store"
    return response.text


async def families(server: LiveServer) -> dict[str, Metric]:
    return {f.name: f for f in text_string_to_metric_families(await scrape(server))}


def value(found: dict[str, Metric], family: str, sample: str, **labels: str) -> float:
    """The one sample called ``sample`` of ``family`` with exactly these labels."""
    matches = [s.value for s in found[family].samples if s.name == sample and s.labels == labels]
    assert len(matches) == 1, f"{sample}{labels}: {len(matches)} samples"
    return matches[0]


def gauge(found: dict[str, Metric], name: str, **labels: str) -> float:
    return value(found, name, name, **labels)


def total(found: dict[str, Metric], name: str, **labels: str) -> float:
    """A counter's ``_total`` sample."""
    return value(found, name, f"{name}_total", **labels)


def latency_buckets(found: dict[str, Metric], facility: str) -> dict[str, float]:
    """``le`` -> cumulative count of the join latency histogram of ``facility``."""
    return {
        s.labels["le"]: s.value
        for s in found["standby_join_latency_seconds"].samples
        if s.name == "standby_join_latency_seconds_bucket" and s.labels["facility"] == facility
    }


def refused(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert "standby_" not in response.text  # no figure leaks with a refusal


async def end(server: LiveServer, token: str, session_id: str, outcome: str) -> None:
    body: dict[str, str] = {"outcome": outcome}
    if outcome == "cancelled":
        body["reason"] = "other"
    async with api(server, token) as client:
        response = await client.post(f"/api/sessions/{session_id}/end", json=body)
    assert response.status_code == 200, response.text


async def until(check: Any, timeout: float = 10.0) -> Any:
    """Poll ``check()`` (a coroutine function) until it returns something true."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            assert result, "the condition did not hold in time"
            return result
        await asyncio.sleep(0.05)


async def paging(server: LiveServer, token: str, session_id: str) -> dict[str, Any]:
    async with api(server, token) as client:
        response = await client.get(f"/api/sessions/{session_id}/paging")
    assert response.status_code == 200, response.text
    return response.json()["paging"]  # type: ignore[no-any-return]


async def drain(fake: FakeTwilio, to: str) -> None:
    """Mark every SMS and call already sent to ``to`` as expected, so the next are this test's."""
    for expect in (fake.expect_sms, fake.expect_call):
        with contextlib.suppress(AssertionError):
            while True:
                await expect(to, timeout=0)


# --- who may scrape --------------------------------------------------------------------------


async def test_refused_without_the_token(metrics_server: LiveServer) -> None:
    """No Authorization, another token, another scheme: 401 with WWW-Authenticate, no figures."""
    async with api(metrics_server) as client:
        for headers in (
            {},
            {"authorization": f"Bearer {TOKEN[:-1]}x"},
            {"authorization": f"Bearer {TOKEN} extra"},
            {"authorization": f"Basic {TOKEN}"},
            {"authorization": "Bearer"},
            {"authorization": "x" * 10_000},
        ):
            response = await client.get("/metrics", headers=headers)
            refused(response, 401, "bearer_token_required")
            assert response.headers["www-authenticate"].startswith("Bearer")
    assert (await scrape(metrics_server, {"authorization": f"bearer {TOKEN}"})).startswith("#")


async def test_refused_from_a_disallowed_address(metrics_server: LiveServer) -> None:
    """STANDBY_METRICS_ALLOW lets 127.0.0.2 in without a token, directly or through the trusted
    proxy; anyone else, whatever X-Forwarded-For it writes, needs the token."""
    async with client_at(metrics_server, ALLOWED) as allowed:
        response = await allowed.get("/metrics")
        assert response.status_code == 200
        assert "standby_sessions_open" in response.text
    async with client_at(metrics_server, PROXY) as proxy:
        assert (await proxy.get("/metrics", headers={"x-forwarded-for": ALLOWED})).is_success
        for forwarded in ("198.51.100.7", f"{ALLOWED}, 198.51.100.7", "not-an-address"):
            response = await proxy.get("/metrics", headers={"x-forwarded-for": forwarded})
            refused(response, 401, "bearer_token_required")
    async with client_at(metrics_server, "127.0.0.1") as other:
        response = await other.get("/metrics", headers={"x-forwarded-for": ALLOWED})
        refused(response, 401, "bearer_token_required")


async def test_not_in_the_openapi_schema(metrics_server: LiveServer) -> None:
    """/metrics is for Prometheus, not the API: the schema does not list it."""
    async with api(metrics_server) as client:
        schema = (await client.get("/openapi.json")).json()
    assert "/metrics" not in schema["paths"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_allow_list_without_a_token_is_403_and_nothing_configured_is_404(
    database_url: str,
) -> None:
    """Only an allow list: another address has no token it could send (403). Neither: 404."""
    port = free_port()
    with run_server(make_settings(database_url, port, metrics_allow=ALLOWED), port) as server:
        async with client_at(server, "127.0.0.1") as other:
            response = await other.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
            refused(response, 403, "forbidden")
        async with client_at(server, ALLOWED) as allowed:
            assert (await allowed.get("/metrics")).status_code == 200
    port = free_port()
    with run_server(make_settings(database_url, port), port) as server:
        async with client_at(server, ALLOWED) as anyone:
            response = await anyone.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
        refused(response, 404, "not_found")
        assert "STANDBY_METRICS_TOKEN" in response.json()["detail"]


# --- what it says ----------------------------------------------------------------------------


async def test_the_text_parses_with_every_family(metrics_server: LiveServer) -> None:
    """Every family with its type; the one dependency (no Redis here) answered; this worker's
    figures: no monitors in use of 40 (STANDBY_MONITOR_MAX)."""
    found = await families(metrics_server)
    assert {name: f.type for name, f in found.items()} == FAMILIES
    assert gauge(found, "standby_dependency_up", dependency="database") == 1
    assert [s.labels for s in found["standby_dependency_up"].samples] == [
        {"dependency": "database"}
    ]
    assert gauge(found, "standby_media_monitors_max", worker=WORKER) == 40
    assert gauge(found, "standby_media_monitors", worker=WORKER) == 0
    # Every facility of tests/directory.yaml, each in every open state, from the start.
    facilities = {s.labels["facility"] for s in found["standby_sessions_open"].samples}
    assert {"NORTH", "LAKE", "EAST", "WEST", "GULF", "PORT"} <= facilities
    states = {s.labels["state"] for s in found["standby_sessions_open"].samples}
    assert states == {"requested", "paging", "joined"}
    buckets = list(latency_buckets(found, "LAKE"))
    assert buckets == [repr(float(b)) for b in LATENCY_BOUNDS_S] + ["+Inf"]
    assert {"30.0", "90.0"} <= set(buckets)


async def test_a_joined_session_grows_the_histogram_in_its_bucket(
    metrics_server: LiveServer,
) -> None:
    """Open and join a NORTH session: its latency lands in every bucket from the first bound at or
    above it, the count grows by one, the session moves paging -> joined; with its request moved
    to 40 s before its join it counts under 45 s and not under 30 s; ended, it counts completed."""
    server = metrics_server
    before = await families(server)
    tech, rad = await login(server, "tech"), await login(server, "drdiaz")
    session = await open_session(server, tech, accession_number="ACC-METRICS-7731")
    opened = await families(server)
    open_ = "standby_sessions_open"

    def moved(now: dict[str, Metric], state: str) -> float:
        return gauge(now, open_, facility="NORTH", state=state) - gauge(
            before, open_, facility="NORTH", state=state
        )

    assert (moved(opened, "requested"), moved(opened, "paging"), moved(opened, "joined")) == (
        0,
        1,
        0,
    )
    await join_request(server, rad, session["id"])
    async with connect(server, tech) as t, connect(server, rad) as r:
        for ws in (t, r):
            await ws.send({"type": "join", "session_id": session["id"]})
            await ws.expect("joined")
        for ws in (t, r):
            await ws.send({"type": "media_state", "video": True, "audio": True})

        async def joined() -> dict[str, Any] | None:
            stored = await get_session(server, tech, session["id"])
            return stored if stored["state"] == "joined" else None

        stored = await until(joined)
        after = await families(server)
    latency_s = stored["join_latency_ms"] / 1000
    grown = {
        le: n - latency_buckets(before, "NORTH")[le]
        for le, n in latency_buckets(after, "NORTH").items()
    }
    assert grown == {le: (1 if le == "+Inf" or latency_s <= float(le) else 0) for le in grown}
    assert (moved(after, "paging"), moved(after, "joined")) == (0, 1)
    h = "standby_join_latency_seconds"
    sum_before = value(before, h, f"{h}_sum", facility="NORTH")
    assert value(after, h, f"{h}_sum", facility="NORTH") - sum_before == pytest.approx(
        latency_s, abs=0.002
    )

    engine = make_engine(server.settings.database_url)
    try:
        async with make_session_factory(engine)() as db, db.begin():
            joined_at = await db.scalar(
                select(SupervisionSession.joined_at).where(SupervisionSession.id == session["id"])
            )
            assert joined_at is not None
            await db.execute(
                update(SupervisionSession)
                .where(SupervisionSession.id == session["id"])
                .values(requested_at=joined_at - timedelta(seconds=40))
            )
    finally:
        await engine.dispose()
    backdated = await families(server)
    grown = {
        le: n - latency_buckets(before, "NORTH")[le]
        for le, n in latency_buckets(backdated, "NORTH").items()
    }
    expected = {"5.0": 0, "10.0": 0, "15.0": 0, "20.0": 0, "30.0": 0, "45.0": 1, "60.0": 1}
    assert grown == expected | {"90.0": 1, "120.0": 1, "180.0": 1, "+Inf": 1}
    assert value(backdated, h, f"{h}_sum", facility="NORTH") - sum_before == pytest.approx(
        40.0, abs=0.002
    )

    ended = "standby_sessions_ended"
    await end(server, tech, session["id"], "completed")
    done = await families(server)
    assert moved(done, "joined") == 0
    assert total(done, ended, facility="NORTH", outcome="completed") == 1 + total(
        before, ended, facility="NORTH", outcome="completed"
    )
    unmeasured = "standby_sessions_unmeasured"
    assert total(done, unmeasured, facility="NORTH") == total(before, unmeasured, facility="NORTH")


async def test_a_session_ended_without_a_join_counts_unmeasured(
    metrics_server: LiveServer,
) -> None:
    """Cancelled before anyone joined: one more unmeasured and cancelled, no latency counted."""
    server = metrics_server
    before = await families(server)
    tech = await login(server, "tech")
    session = await open_session(server, tech, accession_number="ACC-METRICS-7732")
    await end(server, tech, session["id"], "cancelled")
    after = await families(server)
    unmeasured = "standby_sessions_unmeasured"
    grew = total(after, unmeasured, facility="NORTH") - total(before, unmeasured, facility="NORTH")
    ended = "standby_sessions_ended"
    cancelled = total(after, ended, facility="NORTH", outcome="cancelled") - total(
        before, ended, facility="NORTH", outcome="cancelled"
    )
    assert (grew, cancelled) == (1, 1)
    assert latency_buckets(after, "NORTH") == latency_buckets(before, "NORTH")


async def test_pages_by_channel_and_outcome_match_what_the_pager_did(
    metrics_server: LiveServer, module_twilio: FakeTwilio
) -> None:
    """EAST pages Dr Patel at T+0 in-app, by SMS (undelivered) and by a call voicemail answers,
    then the session is cancelled: SMS failed and voice voicemail +1 each, and every page the
    pager wrote for it (its paging record: T+0, and the next tiers if they fired meanwhile) counted
    where it stands."""
    server = metrics_server
    before = await families(server)
    tech = await login(server, "techeast")
    room = await room_id(server, tech, "East Side Imaging")
    await drain(module_twilio, PATEL)  # the fake is the module's: earlier tests paged her too
    module_twilio.fail_next(PATEL, "sms")
    session = await open_session(server, tech, room_id=room, accession_number="ACC-METRICS-7733")
    await module_twilio.expect_sms(PATEL)
    call = await module_twilio.expect_call(PATEL)

    async def tier0_is(sms: str, voice: str) -> dict[str, Any] | None:
        record = await paging(server, tech, session["id"])
        tier0 = {p["channel"]: p["status"] for p in record["pages"] if p["tier"] == 0}
        return record if (tier0.get("sms"), tier0.get("voice")) == (sms, voice) else None

    await until(lambda: tier0_is("failed", "sent"))  # (ended sooner, they would be cancelled)
    await call.voicemail()
    await end(server, tech, session["id"], "cancelled")
    record = await until(lambda: tier0_is("failed", "failed"))
    after = await families(server)
    tier0 = {(p["channel"], p["status"], p["detail"]) for p in record["pages"] if p["tier"] == 0}
    assert ("voice", "failed", "voicemail: not reached") in tier0
    assert ("in_app", "sent", None) in tier0

    def grew(channel: str, purpose: str, outcome: str) -> float:
        labels = {"channel": channel, "purpose": purpose, "outcome": outcome}
        return gauge(after, "standby_pages", **labels) - gauge(before, "standby_pages", **labels)

    assert (grew("in_app", "page", "sent"), grew("sms", "page", "failed")) == (
        sum(1 for p in record["pages"] if (p["channel"], p["status"]) == ("in_app", "sent")),
        1,
    )
    assert (grew("voice", "page", "voicemail"), grew("voice", "page", "failed")) == (1, 0)
    expected: dict[tuple[str, str, str], int] = {}
    for p in record["pages"]:
        outcome = "voicemail" if p["detail"] == "voicemail: not reached" else p["status"]
        key = ("none" if p["channel"] == "-" else p["channel"], p["purpose"], outcome)
        expected[key] = expected.get(key, 0) + 1
    moved = {
        (s.labels["channel"], s.labels["purpose"], s.labels["outcome"]): grew(**s.labels)
        for s in after["standby_pages"].samples
    }
    assert {key: n for key, n in moved.items() if n} == expected


async def test_tiers_the_loop_fires_count_in_this_workers_lateness(
    metrics_server: LiveServer,
) -> None:
    """EAST's tier at T+1 s is fired by the pager loop (T+0 fires with the request): once it has
    fired and the session is ended, this worker's lateness histogram counted each timer the loop
    took up for it, and no sample of it names anything but the worker."""
    server = metrics_server
    before = await families(server)
    tech = await login(server, "techeast")
    room = await room_id(server, tech, "East Side Imaging")
    session = await open_session(server, tech, room_id=room, accession_number="ACC-METRICS-7734")

    async def second_tier() -> bool:
        return any(p["tier"] >= 1 for p in (await paging(server, tech, session["id"]))["pages"])

    await until(second_tier)
    await end(server, tech, session["id"], "cancelled")
    after = await families(server)
    engine = make_engine(server.settings.database_url)
    try:
        async with make_session_factory(engine)() as db:
            outcomes = list(
                await db.scalars(
                    select(timers.c.outcome).where(timers.c.session_id == session["id"])
                )
            )
    finally:
        await engine.dispose()
    taken_up = sum(1 for o in outcomes if o in ("fired", "skipped_empty", "exhausted"))
    by_loop = taken_up - 1  # T+0 fired in the request's own transaction, not by the loop
    assert by_loop >= 1
    h = "standby_pager_timer_lateness_seconds"
    count = value(after, h, f"{h}_count", worker=WORKER) - value(
        before, h, f"{h}_count", worker=WORKER
    )
    assert count == by_loop
    buckets = [s for s in after[h].samples if s.name == f"{h}_bucket"]
    assert {tuple(sorted(s.labels)) for s in buckets} == {("le", "worker")}
    cumulative = [s.value for s in buckets if s.labels["worker"] == WORKER]
    assert cumulative == sorted(cumulative)
    assert cumulative[-1] == value(after, h, f"{h}_count", worker=WORKER)


async def test_a_media_monitor_in_use_shows_on_this_worker(metrics_server: LiveServer) -> None:
    """The technologist's page sends the server its copy: one monitor in use on this worker;
    the session ended, it is closed and the figure is back where it was."""
    server = metrics_server
    tech, rad = await login(server, "tech"), await login(server, "drdiaz")
    session = await open_session(server, tech, accession_number="ACC-METRICS-7735")
    await join_request(server, rad, session["id"])
    m = "standby_media_monitors"
    async with connect(server, tech) as t, connect(server, rad) as r:
        for ws in (t, r):
            await ws.send({"type": "join", "session_id": session["id"]})
            await ws.expect("joined")
        call = Call(session["id"], {"technologist": tech, "radiologist": rad}, {})
        try:
            before = gauge(await families(server), m, worker=WORKER)
            await send_copy(server, call, "technologist")
            assert gauge(await families(server), m, worker=WORKER) == before + 1
            assert before + 1 == len(server.app_state().monitors)
            await end(server, tech, session["id"], "cancelled")

            async def closed() -> bool:
                return gauge(await families(server), m, worker=WORKER) == before

            await until(closed)
        finally:
            for pc in call.copies:
                await pc.close()


async def test_no_accession_number_phone_number_or_name_in_the_output(
    metrics_server: LiveServer,
) -> None:
    """After the sessions above (accessions ACC-METRICS-..., pages to +1555...): none of them,
    no session id, no person's name, anywhere in the text."""
    tech = await login(metrics_server, "tech")
    async with api(metrics_server, tech) as client:
        listed = (await client.get("/api/sessions")).json()["sessions"]
    text = await scrape(metrics_server)
    assert listed, "the tests above opened sessions"
    for forbidden in ("ACC-", "+1555", "Patel", "Diaz", "Torres", "Erin East"):
        assert forbidden not in text
    for s in listed:
        assert s["id"] not in text
        assert s["accession_number"] not in text
