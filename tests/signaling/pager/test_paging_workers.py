"""Paging with real worker processes: kill -9 between tiers, a restart, two workers racing.

Runbooks for issue 3 item 8. Every worker is a `standby serve` process on a loopback port; they share
one PostgreSQL database and one Redis prefix, and send SMS and voice pages to the fake Twilio of
tests/fakes, a real HTTP server that stamps each REST call it receives with ``at``. PostgreSQL only:
several processes on one SQLite file is a trial setup, not a production one (`standby serve` warns).

GULF (tests/directory.yaml) pages Dr Bay, Dr Cove and Dr Dune at T+0 (in-app, SMS, voice), Dr Reef
at T+4 s (in-app, SMS, voice) and the eligible pool, those four, at T+6 s (SMS); paging runs out at
T+7 s. Nobody accepts, so every tier fires.

Lateness is computed from recorded times, never from the test's sleeps: when the fake carrier
received a page's REST call, minus when its tier was due (``paging_timers.due_at``) or, for a
restarted worker, when it became ready ("standby ready" in its log), whichever is later.

These runbooks once found that a worker's first carrier call imported twilio's REST modules, stalling
its event loop for 0.3-1.3 s, past the lease (then 750 ms) it could not renew meanwhile: another worker sent
the same pages again, late. Workers now build the Twilio client before serving
(``TwilioCarrier.warm``); ``test_a_cold_worker_pages_once_and_on_time`` keeps it that way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import signal
import socket
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.exceptions import ConnectionClosed

from paging.store import pages, runs, timers
from signaling.config import Settings
from signaling.storage.database import make_engine, make_session_factory
from tests.conftest import PG_ADMIN_DSN, REDIS_URL, RUN_ID
from tests.fakes.twilio_server import FakeTwilio, RecordedRequest
from tests.live import LiveServer, Socket, connect, free_port, login, serve_process, wait_healthy
from tests.signaling.helpers import open_session, room_id

pytestmark = [
    pytest.mark.redis,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]
log = logging.getLogger(__name__)

GULF = "Gulf Coast Imaging"
BAY, COVE, DUNE, REEF = "+15550000101", "+15550000102", "+15550000103", "+15550000104"
DELAY_S = {0: 0.0, 1: 4.0, 2: 6.0}
# What each tier asks of the carrier, as (number, channel); in-app pages go through Redis instead.
CARRIER_PLAN = {
    0: {(number, channel) for number in (BAY, COVE, DUNE) for channel in ("sms", "voice")},
    1: {(REEF, "sms"), (REEF, "voice")},
    2: {(number, "sms") for number in (BAY, COVE, DUNE, REEF)},
}
IN_APP_PLAN = {"drbay": {0}, "drcove": {0}, "drdune": {0}, "drreef": {1}}
ON_TIME = timedelta(seconds=1)  # issue 3: the next tier is paged within 1 s of its due time

READY = re.compile(r"^(\S+ \S+) INFO signaling\.app: standby ready", re.MULTILINE)
FIRED = re.compile(r"paging\.engine: session (\S+): tier (\d+) round (\d+) fired")
QUEUED = re.compile(r"paging\.twilio: twilio (?:sms|call) \S+ queued")

Records = async_sessionmaker[AsyncSession]


# --- workers ----------------------------------------------------------------------------------


@dataclass
class Worker:
    """One `standby serve` process and what it has written to its log."""

    name: str
    server: LiveServer
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self) -> str:
        return f"--- {self.name} (pid {self.process.pid}) ---\n{self.output()[-3000:]}"

    def ready_at(self) -> datetime:
        """When the service logged "standby ready": its pager had started, it was about to serve."""
        found = READY.search(self.output())
        assert found, f"worker {self.name} never logged 'standby ready'\n{self.tail()}"
        # logging's asctime is local time with milliseconds, as is the clock of this process
        return datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S,%f").astimezone(UTC)

    def fired(self) -> list[tuple[str, int, int]]:
        """(session, tier, round) of every tier this worker fired, from its log."""
        return [(s, int(t), int(r)) for s, t, r in FIRED.findall(self.output())]

    def carrier_calls(self) -> int:
        return len(QUEUED.findall(self.output()))

    def kill9(self) -> datetime:
        """SIGKILL: no shutdown, no rollback of its own, connections cut by the kernel."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        assert self.process.returncode == -signal.SIGKILL
        return datetime.now(UTC)


@dataclass
class Fleet:
    """Workers sharing one database, one Redis prefix and the fake Twilio."""

    env: dict[str, str]
    folder: Path
    stack: contextlib.ExitStack
    workers: list[Worker] = field(default_factory=list)

    def start(self, name: str, port: int | None = None) -> Worker:
        """Start a worker (on ``port``: a restart) and wait until it answers /healthz."""
        port = port or free_port()
        path = self.folder / f"worker-{len(self.workers)}-{name}.log"
        process = self.stack.enter_context(serve_process(self.env, port, path))
        settings = Settings(**{k.removeprefix("STANDBY_").lower(): v for k, v in self.env.items()})  # type: ignore[arg-type]
        worker = Worker(name, LiveServer(settings, port), process, path)
        self.workers.append(worker)
        wait_healthy(worker.server.url, process, worker.tail)
        return worker

    def tails(self) -> str:
        return "\n".join(w.tail() for w in self.workers)


@pytest.fixture(autouse=True)
def _nothing_left_behind() -> Iterator[None]:
    """Runs around every other fixture: afterwards no test database of this run is left."""
    yield

    async def leftovers() -> list[str]:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            names = await conn.fetch("SELECT datname FROM pg_database")
        finally:
            await conn.close()
        prefix = f"standby_test_{RUN_ID}_"
        return [row["datname"] for row in names if row["datname"].startswith(prefix)]

    assert asyncio.run(leftovers()) == [], "tests leave no database behind"


@pytest.fixture
def fleet(
    database_url: str, redis_prefix: str, fake_twilio: FakeTwilio, tmp_path: Path
) -> Iterator[Fleet]:
    """Start workers with ``fleet.start``; every one is stopped when the test ends."""
    env = {
        "STANDBY_ENVIRONMENT": "test",
        "STANDBY_SECRET_KEY": secrets.token_urlsafe(48),
        "STANDBY_DATABASE_URL": database_url,
        "STANDBY_REDIS_URL": REDIS_URL,
        "STANDBY_REDIS_PREFIX": redis_prefix,
        "STANDBY_PUBLIC_BASE_URL": f"http://127.0.0.1:{free_port()}",
        "STANDBY_LOG_LEVEL": "INFO",  # the runbooks read the workers' "ready" and "fired" lines
        # The runbooks open many sessions in one GULF room at once: paging load, not a real room.
        "STANDBY_ROOM_OPEN_SESSIONS_MAX": "0",
        "STANDBY_TECHNOLOGIST_OPEN_SESSIONS_MAX": "0",
        **fake_twilio.env(),
    }
    with contextlib.ExitStack() as stack:
        fleet = Fleet(env, tmp_path, stack)
        yield fleet
    for worker in fleet.workers:
        assert worker.process.returncode is not None, f"worker {worker.name} is still running"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", worker.server.port), timeout=1).close()


@pytest.fixture
async def records(database_url: str) -> AsyncIterator[Records]:
    """Sessions on the workers' database, to read what they recorded."""
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()


# --- what the workers did ---------------------------------------------------------------------


@dataclass(frozen=True)
class CarrierSend:
    """One REST call the fake carrier accepted, with the page row it was made for."""

    session_id: str
    tier: int
    round: int
    user_id: int
    to: str
    channel: str
    at: datetime
    created_at: datetime  # when the tier fired and wrote the page
    attempts: int  # claims of the page (a second one means a lease lapsed)

    @property
    def page(self) -> tuple[str, int, int, str, str]:
        return (self.session_id, self.round, self.tier, self.to, self.channel)


def _page_id(request: RecordedRequest) -> int:
    callback = request.get("StatusCallback") or ""
    assert "/twilio/status/" in callback, f"no page in the status callback {callback!r}"
    return int(callback.rsplit("/", 1)[1])


async def carrier_sends(
    records: Records, twilio: FakeTwilio, session_ids: list[str]
) -> list[CarrierSend]:
    """What the carrier accepted for these sessions, oldest first."""
    accepted = [r for r in list(twilio.requests) if r.status == 201]
    by_page = [(_page_id(r), r) for r in accepted]
    async with records() as db:
        rows = {
            row.id: row
            for row in await db.execute(
                select(pages).where(pages.c.id.in_([page for page, _ in by_page]))
            )
        }
    sends = []
    for page, request in by_page:
        row = rows[page]
        if row.session_id not in session_ids:
            continue
        channel = "sms" if request.path.endswith("/Messages.json") else "voice"
        assert (channel, request.get("To")) == (row.channel, row.address), (page, request)
        sends.append(
            CarrierSend(
                row.session_id,
                row.tier,
                row.round,
                row.user_id,
                row.address,
                channel,
                request.at,
                row.created_at,
                row.attempts,
            )
        )
    return sends


async def due_times(records: Records, session_id: str) -> dict[int, datetime]:
    """When each tier of the session's first round was due, as the engine stored it."""
    async with records() as db:
        started = await db.scalar(select(runs.c.started_at).where(runs.c.session_id == session_id))
        rows = (
            await db.execute(
                select(timers.c.tier, timers.c.due_at).where(
                    timers.c.session_id == session_id,
                    timers.c.kind == "tier",
                    timers.c.round == 0,
                )
            )
        ).all()
    due = {row.tier: row.due_at for row in rows}
    assert started is not None
    assert due == {t: started + timedelta(seconds=s) for t, s in DELAY_S.items()}, (started, due)
    return due


async def fired_at(records: Records, session_id: str) -> dict[int, datetime]:
    """When a worker fired each tier of the first round (``paging_timers.done_at``)."""
    async with records() as db:
        rows = (
            await db.execute(
                select(timers.c.tier, timers.c.done_at, timers.c.outcome).where(
                    timers.c.session_id == session_id,
                    timers.c.kind == "tier",
                    timers.c.round == 0,
                )
            )
        ).all()
    assert {row.outcome for row in rows} == {"fired"}, rows
    return {row.tier: row.done_at for row in rows}


async def tier_out(records: Records, twilio: FakeTwilio, session_id: str, tier: int) -> bool:
    """Every page of the tier is recorded as sent and the carrier received each of its calls."""
    async with records() as db:
        statuses = list(
            await db.scalars(
                select(pages.c.status).where(
                    pages.c.session_id == session_id, pages.c.tier == tier, pages.c.round == 0
                )
            )
        )
    sends = await carrier_sends(records, twilio, [session_id])
    sent = {(s.to, s.channel) for s in sends if s.tier == tier}
    return bool(statuses) and set(statuses) == {"sent"} and sent == CARRIER_PLAN[tier]


async def paging_ran_out(records: Records, session_ids: list[str]) -> bool:
    """Every run stopped (exhausted) and no page is waiting or being sent."""
    async with records() as db:
        stopped = await db.scalar(
            select(func.count())
            .select_from(runs)
            .where(runs.c.session_id.in_(session_ids), runs.c.state == "stopped")
        )
        busy = await db.scalar(
            select(func.count())
            .select_from(pages)
            .where(pages.c.session_id.in_(session_ids), pages.c.status.in_(["pending", "sending"]))
        )
    return stopped == len(session_ids) and busy == 0


async def until(
    what: str, check: Callable[[], Awaitable[bool]], fleet: Fleet, timeout: float = 20
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s\n{fleet.tails()}")
        await asyncio.sleep(0.05)


def assert_each_page_sent_once(sends: list[CarrierSend], session_ids: list[str]) -> None:
    """Exactly the planned carrier calls, each exactly once, per session, tier, person, channel."""
    counts = Counter(s.page for s in sends)
    twice = {
        page: [
            f"{ms(s.at - s.created_at)} after the tier fired (claimed {s.attempts}x)"
            for s in sends
            if s.page == page
        ]
        for page, n in counts.items()
        if n > 1
    }
    assert twice == {}, f"paged more than once: {twice}"
    planned = {
        (session_id, 0, tier, number, channel)
        for session_id in session_ids
        for tier, plan in CARRIER_PLAN.items()
        for number, channel in plan
    }
    assert set(counts) == planned, (
        f"missing {sorted(planned - set(counts))}; unexpected {sorted(set(counts) - planned)}"
    )


async def assert_rows_unique_and_sent(records: Records, session_ids: list[str]) -> None:
    """One row per session, tier, round, person and channel, and every one of them sent."""
    key = (pages.c.session_id, pages.c.tier, pages.c.round, pages.c.user_id, pages.c.channel)
    async with records() as db:
        repeated = (
            await db.execute(
                select(*key, func.count())
                .where(pages.c.session_id.in_(session_ids))
                .group_by(*key)
                .having(func.count() > 1)
            )
        ).all()
        statuses = Counter(
            await db.scalars(select(pages.c.status).where(pages.c.session_id.in_(session_ids)))
        )
    assert repeated == [], f"page rows repeat: {repeated}"
    per_session = sum(len(p) for p in CARRIER_PLAN.values()) + sum(
        len(t) for t in IN_APP_PLAN.values()
    )
    assert statuses == {"sent": per_session * len(session_ids)}, statuses


def late_by(sends: list[CarrierSend], tier: int, since: datetime) -> timedelta:
    """How long after ``since`` the carrier received the tier's last call."""
    return max(s.at for s in sends if s.tier == tier) - since


def ms(delta: timedelta) -> str:
    return f"{delta.total_seconds() * 1000:.0f} ms"


async def gulf_request(worker: Worker, tech: str | None = None) -> str:
    token = tech or await login(worker.server, "techgulf")
    room = await room_id(worker.server, token, GULF)
    return str((await open_session(worker.server, token, room_id=room))["id"])


# --- runbooks ---------------------------------------------------------------------------------


async def test_killing_the_worker_that_fired_tier_0_does_not_stop_escalation(
    fleet: Fleet, fake_twilio: FakeTwilio, records: Records
) -> None:
    """kill -9 the worker that fired tier 0: the other pages tiers 1 and 2 within 1 s, each once."""
    a = await asyncio.to_thread(fleet.start, "A")
    b = await asyncio.to_thread(fleet.start, "B")
    session_id = await gulf_request(a)
    await until("tier 0 is out", lambda: tier_out(records, fake_twilio, session_id, 0), fleet)
    firer, survivor = (a, b) if (session_id, 0, 0) in a.fired() else (b, a)
    assert (session_id, 0, 0) in firer.fired(), fleet.tails()
    due = await due_times(records, session_id)

    killed_at = await asyncio.to_thread(firer.kill9)

    assert killed_at < due[1], f"the kill came {ms(killed_at - due[1])} after tier 1 was due"
    await until("paging runs out", lambda: paging_ran_out(records, [session_id]), fleet)
    sends = await carrier_sends(records, fake_twilio, [session_id])
    assert_each_page_sent_once(sends, [session_id])
    await assert_rows_unique_and_sent(records, [session_id])
    assert {(s, t) for s, t, _ in survivor.fired()} >= {(session_id, 1), (session_id, 2)}
    late = {tier: late_by(sends, tier, due[tier]) for tier in (1, 2)}
    figures = (
        f"{firer.name} fired tier 0 and was killed {ms(due[1] - killed_at)} before tier 1 was "
        f"due; {survivor.name} paged tier 1 {ms(late[1])} and tier 2 {ms(late[2])} after due"
    )
    log.info("kill -9 between tiers: %s", figures)
    assert all(delta < ON_TIME for delta in late.values()), figures


async def test_a_restarted_worker_picks_up_overdue_tiers_at_once(
    fleet: Fleet, fake_twilio: FakeTwilio, records: Records
) -> None:
    """The only worker, killed -9 after tier 0 and restarted once tier 1 is overdue, fires the
    overdue tiers within 1 s of serving, pages everyone in them, and sends nothing twice."""
    worker = await asyncio.to_thread(fleet.start, "A")
    session_id = await gulf_request(worker)
    await until("tier 0 is out", lambda: tier_out(records, fake_twilio, session_id, 0), fleet)
    due = await due_times(records, session_id)

    killed_at = await asyncio.to_thread(worker.kill9)
    # nobody serves until tier 1 is overdue
    await asyncio.sleep((due[1] - datetime.now(UTC)).total_seconds() + 0.5)
    again = await asyncio.to_thread(fleet.start, "A-restarted", worker.server.port)
    ready = again.ready_at()

    assert killed_at < due[1] < ready, (killed_at, due[1], ready)
    await until("paging runs out", lambda: paging_ran_out(records, [session_id]), fleet)
    sends = await carrier_sends(records, fake_twilio, [session_id])
    assert_each_page_sent_once(sends, [session_id])
    await assert_rows_unique_and_sent(records, [session_id])
    assert min(s.at for s in sends if s.tier == 1) > ready
    fired = await fired_at(records, session_id)
    picked_up = {tier: fired[tier] - max(due[tier], ready) for tier in (1, 2)}
    paged = {tier: late_by(sends, tier, max(due[tier], ready)) for tier in (1, 2)}
    figures = (
        f"dead for {ms(ready - killed_at)}, ready {ms(ready - due[1])} after tier 1 was due; "
        f"tier 1 fired {ms(picked_up[1])} and paged {ms(paged[1])} after ready, tier 2 fired "
        f"{ms(picked_up[2])} and paged {ms(paged[2])} after {'ready' if ready > due[2] else 'due'}"
    )
    log.info("kill -9 and restart: %s", figures)
    assert all(delta < ON_TIME for delta in picked_up.values()), figures
    assert all(delta < ON_TIME for delta in paged.values()), figures


async def test_a_cold_worker_pages_once_and_on_time(
    fleet: Fleet, fake_twilio: FakeTwilio, records: Records
) -> None:
    """Two workers that have never paged: the first request's tier 0 reaches each person once,
    within 1 s."""
    a = await asyncio.to_thread(fleet.start, "A")
    await asyncio.to_thread(fleet.start, "B")
    session_id = await gulf_request(a)
    await until("tier 0 is out", lambda: tier_out(records, fake_twilio, session_id, 0), fleet)
    await asyncio.sleep(2)  # a lapsed lease is taken over within a poll; its re-send takes a while
    sends = await carrier_sends(records, fake_twilio, [session_id])
    due = await due_times(records, session_id)
    late = late_by(sends, 0, due[0])
    log.info("cold workers: tier 0 paged %s after due", ms(late))
    twice = Counter(s.page for s in sends if s.tier == 0) - Counter(
        (session_id, 0, 0, number, channel) for number, channel in CARRIER_PLAN[0]
    )
    assert not twice, f"paged more than once: {dict(twice)}\n{fleet.tails()}"
    assert late < ON_TIME, f"tier 0 paged {ms(late)} after due"


SESSIONS = 20


async def test_two_workers_racing_page_everyone_exactly_once(
    fleet: Fleet, fake_twilio: FakeTwilio, records: Records
) -> None:
    """Twenty requests opened at once through both workers: each tier fires once, in
    one worker, and every page (in-app, SMS, voice) reaches its person exactly once."""
    a = await asyncio.to_thread(fleet.start, "A")
    b = await asyncio.to_thread(fleet.start, "B")
    workers = (a, b)
    techs = [await login(w.server, "techgulf") for w in workers]
    room = await room_id(a.server, techs[0], GULF)
    async with contextlib.AsyncExitStack() as phones:
        sockets: dict[str, Socket] = {}
        for i, username in enumerate(IN_APP_PLAN):
            server = workers[i % 2].server
            sockets[username] = await phones.enter_async_context(
                connect(server, await login(server, username))
            )
            await sockets[username].expect("requests")
        readers = [asyncio.create_task(_read_all(ws)) for ws in sockets.values()]
        phones.callback(lambda: [reader.cancel() for reader in readers])
        opened = await asyncio.gather(
            *(
                open_session(
                    workers[i % 2].server, techs[i % 2], room_id=room, accession_number=f"G-{i}"
                )
                for i in range(SESSIONS)
            )
        )
        session_ids = [str(s["id"]) for s in opened]
        await until("paging runs out", lambda: paging_ran_out(records, session_ids), fleet, 90)
        in_app = await _in_app_pages(sockets, session_ids)

    sends = await carrier_sends(records, fake_twilio, session_ids)
    assert_each_page_sent_once(sends, session_ids)
    await assert_rows_unique_and_sent(records, session_ids)
    firings = Counter(
        (s, t) for w in workers for s, t, r in w.fired() if r == 0 and s in session_ids
    )
    assert firings == Counter({(s, t): 1 for s in session_ids for t in DELAY_S}), firings
    expected = {
        username: Counter({(s, t): 1 for s in session_ids for t in tiers})
        for username, tiers in IN_APP_PLAN.items()
    }
    assert in_app == expected
    log.info(
        "racing: %d sessions, %d carrier calls; tiers fired A=%d B=%d; carrier calls A=%d B=%d",
        SESSIONS,
        len(sends),
        sum(s in session_ids for s, _, _ in a.fired()),
        sum(s in session_ids for s, _, _ in b.fired()),
        a.carrier_calls(),
        b.carrier_calls(),
    )


async def _in_app_pages(
    sockets: dict[str, Socket], session_ids: list[str]
) -> dict[str, Counter[tuple[str, int]]]:
    """Each radiologist's ``page`` messages for these sessions, once all planned ones arrived (or
    after 5 s), and after a moment more in which a duplicate would show."""
    wanted = {username: len(session_ids) * len(tiers) for username, tiers in IN_APP_PLAN.items()}

    def counts() -> dict[str, Counter[tuple[str, int]]]:
        return {
            username: Counter(
                (m["session_id"], m["tier"])
                for m in ws.seen
                if m["type"] == "page" and m["session_id"] in session_ids
            )
            for username, ws in sockets.items()
        }

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while loop.time() < deadline:
        if all(sum(counts()[u].values()) >= n for u, n in wanted.items()):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    return counts()


async def _read_all(ws: Socket) -> None:
    """Keep reading (into ``ws.seen``) so no worker ever waits on this client."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            await ws.next(timeout=3600)
