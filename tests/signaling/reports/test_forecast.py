"""The coverage forecast (issue 11 item 5): every hour of the next 14 days in which a facility has
nobody eligible on call, merged into holes with why, and the thin hours with one person, checked
against hand-computed hours on fixed directories, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.accounts.principal import load_principal
from signaling.directory.file import load_directory, parse_directory
from signaling.reports import forecast
from signaling.reports.on_call_hours import on_call_hours
from signaling.reports.scope import Period, Scope, scope_for
from signaling.reports.shape import Report, Value
from signaling.storage.database import make_engine, make_session_factory
from signaling.storage.models import Facility, User
from tests.conftest import PG_ADMIN_DSN, drop_pg_database, pg_url

CHICAGO = ZoneInfo("America/Chicago")
EVERY_DAY = "[mon, tue, wed, thu, fri, sat, sun]"

# Added to tests/directory.yaml's: one facility per behaviour, each with its own people.
DIRECTORY = f"""
facilities:
  - {{code: NIGHTS, name: Nights Imaging, state: TX, timezone: America/Chicago,
     escalation: {{tiers: [
       {{delay_s: 0, targets: [{{kind: schedule, schedule: NIGHTS-DAYS}}], channels: [in_app]}},
       {{delay_s: 10, targets: [{{kind: pool}}], channels: [in_app]}}]}}}}
  - {{code: EXPIRY, name: Expiry Imaging, state: TX, timezone: America/Chicago}}
  - {{code: CLOCK, name: Clock Change Imaging, state: TX, timezone: America/Chicago}}
  - {{code: NOPRIV, name: Unprivileged Imaging, state: TX, timezone: America/Chicago}}
  - {{code: FULL, name: Full Cover Imaging, state: TX, timezone: America/Chicago,
     escalation: {{tiers: [
       {{delay_s: 0, targets: [{{kind: users, users: [drnamed]}}], channels: [in_app]}},
       {{delay_s: 5, targets: [{{kind: schedule, schedule: GROUP-ROTA}}], channels: [in_app]}},
       {{delay_s: 10, targets: [{{kind: pool}}], channels: [in_app]}}]}}}}
users:
  - {{username: drday, full_name: Dana Day, roles: [radiologist], privileges: [NIGHTS],
     licenses: [{{state: TX, number: T1, expires: 2030-12-31}}]}}
  - {{username: drbench, full_name: Ben Bench, roles: [radiologist], privileges: [NIGHTS, FULL],
     licenses: [{{state: TX, number: T2, expires: 2030-12-31}}]}}
  - {{username: drlapse, full_name: Lee Lapse, roles: [radiologist], privileges: [EXPIRY],
     licenses: [{{state: TX, number: T3, expires: 2026-06-05}},
                {{state: NY, number: N3, expires: 2030-12-31}}]}}
  - {{username: drclock, full_name: Cal Clock, roles: [radiologist], privileges: [CLOCK],
     licenses: [{{state: TX, number: T4, expires: 2030-12-31}}]}}
  - {{username: drnopriv, full_name: Nina Nopriv, roles: [radiologist], privileges: [NIGHTS],
     licenses: [{{state: TX, number: T5, expires: 2030-12-31}}]}}
  - {{username: drnamed, full_name: Nora Named, roles: [radiologist], privileges: [FULL],
     licenses: [{{state: TX, number: T6, expires: 2030-12-31}}]}}
  - {{username: drrota, full_name: Rob Rota, roles: [radiologist], privileges: [FULL],
     licenses: [{{state: TX, number: T7, expires: 2030-12-31}}]}}
  - {{username: superfull, full_name: Sid Full, roles: [supervisor], facilities: [FULL],
     password: correct-horse-1}}
schedules:
  - code: NIGHTS-DAYS
    timezone: America/Chicago
    rotations:
      - {{name: days, participants: [drday], start: "2026-01-01T08:00", shift: 24h,
         windows: [{{days: {EVERY_DAY}, start: "08:00", end: "20:00"}}]}}
  - code: EXPIRY-ALL
    timezone: America/Chicago
    facilities: [EXPIRY]
    rotations:
      - {{name: all, participants: [drlapse], start: "2026-01-01T00:00", shift: 7d}}
  - code: CLOCK-EVENINGS
    timezone: America/Chicago
    facilities: [CLOCK]
    rotations:
      - {{name: evenings, participants: [drclock], start: "2026-01-01T04:00", shift: 24h,
         windows: [{{days: {EVERY_DAY}, start: "04:00", end: "00:00"}}]}}
  - code: NOPRIV-ALL
    timezone: America/Chicago
    facilities: [NOPRIV]
    rotations:
      - {{name: all, participants: [drnopriv], start: "2026-01-01T00:00", shift: 7d}}
  - code: GROUP-ROTA
    timezone: America/Chicago
    rotations:
      - {{name: all, participants: [drrota], start: "2026-01-01T00:00", shift: 7d}}
"""


def chicago(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CHICAGO)


async def _load(url: str) -> None:
    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as session, session.begin():
            await load_directory(session, parse_directory(DIRECTORY, "forecast.yaml"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def forecast_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database of each kind for the module, seeded and with DIRECTORY added: the forecast
    only reads, and the one test that changes something never commits."""
    if request.param == "sqlite":
        target = tmp_path_factory.mktemp("forecast") / "standby.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        url = f"sqlite+aiosqlite:///{target}"
        asyncio.run(_load(url))
        yield url
        return
    template = request.getfixturevalue("pg_template")
    name = f"standby_test_forecast_{uuid.uuid4().hex[:10]}"
    asyncio.run(_create(name, template))
    try:
        asyncio.run(_load(pg_url(name)))
        yield pg_url(name)
    finally:
        asyncio.run(drop_pg_database(name))


async def _create(name: str, template: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()


@pytest.fixture
async def db(forecast_url: str) -> AsyncIterator[AsyncSession]:
    engine = make_engine(forecast_url)
    try:
        async with make_session_factory(engine)() as session:
            yield session
            await session.rollback()
    finally:
        await engine.dispose()


async def facility_ids(db: AsyncSession, *codes: str) -> frozenset[int]:
    return frozenset(await db.scalars(select(Facility.id).where(Facility.code.in_(codes))))


async def run(db: AsyncSession, now: datetime, *codes: str) -> Report:
    period = Period(now - timedelta(days=7), now)
    return await forecast.report(db, Scope(await facility_ids(db, *codes), period), now)


def rows(report: Report, table: str) -> list[tuple[Value, ...]]:
    return list(report.table(table).rows)


def cards(report: Report) -> dict[str, float | int | None]:
    return {card.key: card.value for card in report.cards}


async def test_a_night_no_schedule_covers_is_a_hole_every_night(db: AsyncSession) -> None:
    """Days 08-20 on a schedule, nights on none (the pool tier does not count): 14 holes of 12
    hours from 20:00, and the days thin (Dana Day alone)."""
    report = await run(db, chicago(6, 1, 8), "NIGHTS")
    holes = rows(report, "holes")
    assert len(holes) == 14
    assert holes[0] == (
        "Nights Imaging",
        "2026-06-01T20:00-05:00",
        "2026-06-02T08:00-05:00",
        12,
        "no schedule covers it",
    )
    assert holes[-1][1:4] == ("2026-06-14T20:00-05:00", "2026-06-15T08:00-05:00", 12)
    assert cards(report) == {
        "facilities_with_hole": 1,
        "empty_hours": 168,
        "first_hole_in": 12 * 3600.0,
        "thin_hours": 168,
    }
    hours = rows(report, "hours")
    assert len(hours) == 336
    assert hours[0] == ("Nights Imaging", "2026-06-01", 8, "-05:00", 1)
    assert hours[11][2:] == (19, "-05:00", 1)
    assert hours[12][2:] == (20, "-05:00", 0)
    thin = rows(report, "thin")
    assert len(thin) == 14
    assert thin[0] == (
        "Nights Imaging",
        "2026-06-01T08:00-05:00",
        "2026-06-01T20:00-05:00",
        12,
        "Dana Day",
    )
    cover = await on_call_hours(db, await facility_ids(db, "NIGHTS"), chicago(6, 1, 8), 336)
    assert forecast.thin_table(cover) == report.table("thin")
    assert report.facilities == ("Nights Imaging",)
    assert "The first hole: Nights Imaging from 2026-06-01T20:00-05:00." in report.notes
    assert any("caseload cap" in note for note in report.notes)


async def test_the_hour_now_is_in_is_the_first_and_judged_from_now(db: AsyncSession) -> None:
    """At 07:30 the hour 07:00-08:00 is the first: empty (days start at 08:00), a one-hour hole;
    at 19:30 the hour 19:00-20:00 still has Dana Day and the first hole starts at 20:00."""
    early = await run(db, chicago(6, 1, 7, 30), "NIGHTS")
    assert rows(early, "holes")[0][1:4] == ("2026-06-01T07:00-05:00", "2026-06-01T08:00-05:00", 1)
    assert cards(early)["first_hole_in"] == 0.0
    assert early.start == chicago(6, 1, 7)
    assert early.end == chicago(6, 15, 7)
    late = await run(db, chicago(6, 1, 19, 30), "NIGHTS")
    assert rows(late, "hours")[0][2:] == (19, "-05:00", 1)
    assert rows(late, "holes")[0][1] == "2026-06-01T20:00-05:00"
    assert cards(late)["first_hole_in"] == 30 * 60.0


async def test_a_license_expiring_mid_window_opens_a_hole_after_its_last_day(
    db: AsyncSession,
) -> None:
    """Lee Lapse's TX license expires 2026-06-05: valid through that day by the facility's
    calendar (the pager's rule), so one hole from 2026-06-06 00:00 to the end, 9 days."""
    report = await run(db, chicago(6, 1), "EXPIRY")
    assert rows(report, "holes") == [
        (
            "Expiry Imaging",
            "2026-06-06T00:00-05:00",
            "2026-06-15T00:00-05:00",
            216,
            "Lee Lapse's TX license expires 2026-06-05",
        )
    ]
    hours = rows(report, "hours")
    assert hours[5 * 24 - 1][1:] == ("2026-06-05", 23, "-05:00", 1)
    assert hours[5 * 24][1:] == ("2026-06-06", 0, "-05:00", 0)
    assert rows(report, "thin") == [
        ("Expiry Imaging", "2026-06-01T00:00-05:00", "2026-06-06T00:00-05:00", 120, "Lee Lapse")
    ]
    assert cards(report)["first_hole_in"] == 5 * 24 * 3600.0


async def test_the_days_the_clocks_change_have_an_hour_less_and_an_hour_twice(
    db: AsyncSession,
) -> None:
    """Evenings 04:00-00:00, nights 00:00-04:00 empty. 2026-03-08 has no 02:00: that night's hole
    is 3 hours (00, 01, 03); 2026-11-01 has 01:00 twice: 5 hours (00, 01 CDT, 01 CST, 02, 03)."""
    spring = await run(db, chicago(3, 7, 12), "CLOCK")
    assert rows(spring, "holes")[0] == (
        "Clock Change Imaging",
        "2026-03-08T00:00-06:00",
        "2026-03-08T04:00-05:00",
        3,
        "no schedule covers it",
    )
    night = [r[2:] for r in rows(spring, "hours") if r[1] == "2026-03-08" and int(r[2] or 0) < 5]
    assert night == [(0, "-06:00", 0), (1, "-06:00", 0), (3, "-05:00", 0), (4, "-05:00", 1)]
    assert cards(spring)["empty_hours"] == 3 + 13 * 4
    assert len(rows(spring, "hours")) == 336

    autumn = await run(db, chicago(10, 31, 12), "CLOCK")
    assert rows(autumn, "holes")[0][1:4] == (
        "2026-11-01T00:00-05:00",
        "2026-11-01T04:00-06:00",
        5,
    )
    night = [r[2:] for r in rows(autumn, "hours") if r[1] == "2026-11-01" and int(r[2] or 0) < 5]
    assert night == [
        (0, "-05:00", 0),
        (1, "-05:00", 0),
        (1, "-06:00", 0),
        (2, "-06:00", 0),
        (3, "-06:00", 0),
        (4, "-06:00", 1),
    ]
    assert cards(autumn)["empty_hours"] == 5 + 13 * 4
    assert rows(autumn, "thin")[0][1:4] == ("2026-10-31T12:00-05:00", "2026-11-01T00:00-05:00", 12)


async def test_a_radiologist_on_call_without_privileges_there_leaves_every_hour_empty(
    db: AsyncSession,
) -> None:
    """Nina Nopriv is licensed in TX and on call for NOPRIV around the clock, but privileged only
    at NIGHTS: one hole of all 336 hours, naming why."""
    report = await run(db, chicago(6, 1), "NOPRIV")
    assert rows(report, "holes") == [
        (
            "Unprivileged Imaging",
            "2026-06-01T00:00-05:00",
            "2026-06-15T00:00-05:00",
            336,
            "Nina Nopriv has no privileges at Unprivileged Imaging",
        )
    ]
    assert rows(report, "thin") == []


async def test_named_people_and_named_schedules_count_the_pool_does_not(db: AsyncSession) -> None:
    """FULL's policy names Nora Named and GROUP-ROTA (Rob Rota, a schedule that does not name
    FULL); Ben Bench is privileged there but only in the pool: two eligible every hour."""
    report = await run(db, chicago(6, 1), "FULL")
    assert {r[4] for r in rows(report, "hours")} == {2}
    assert rows(report, "holes") == []
    assert rows(report, "thin") == []
    assert cards(report) == {
        "facilities_with_hole": 0,
        "empty_hours": 0,
        "first_hole_in": None,
        "thin_hours": 0,
    }


async def test_a_caseload_cap_of_zero_is_not_eligible(db: AsyncSession) -> None:
    """With Nora Named's cap at 0, FULL has only Rob Rota: every hour thin, none empty."""
    await db.execute(update(User).where(User.username == "drnamed").values(max_concurrent=0))
    report = await run(db, chicago(6, 1), "FULL")
    assert rows(report, "thin") == [
        ("Full Cover Imaging", "2026-06-01T00:00-05:00", "2026-06-15T00:00-05:00", 336, "Rob Rota")
    ]
    await db.execute(update(User).where(User.username == "drrota").values(max_concurrent=0))
    report = await run(db, chicago(6, 1), "FULL")
    assert rows(report, "holes")[0][4] == (
        "Nora Named's caseload cap is 0; Rob Rota's caseload cap is 0"
    )


async def test_no_facilities_is_an_empty_forecast(db: AsyncSession) -> None:
    """A scope without facilities: no rows, no holes, the notes still say what is counted."""
    report = await run(db, chicago(6, 1))
    assert report.facilities == ()
    assert [len(t.rows) for t in report.tables] == [0, 0, 0]
    assert [t.key for t in report.tables] == ["holes", "hours", "thin"]
    assert cards(report)["facilities_with_hole"] == 0
    assert cards(report)["first_hole_in"] is None
    assert report.notes


async def test_a_naive_now_is_refused(db: AsyncSession) -> None:
    """A ``now`` without a time zone would be read in the server's zone: refused, naming it."""
    with pytest.raises(ValueError, match="expected a timezone-aware now, got naive 2026-06-01"):
        await forecast.report(
            db,
            Scope(await facility_ids(db, "NIGHTS"), Period(chicago(5, 25), chicago(6, 1))),
            datetime(2026, 6, 1),
        )


async def test_a_supervisor_reads_only_their_own_facilities(db: AsyncSession) -> None:
    """Sid Full supervises FULL only: his forecast has FULL's hours and none of the holes of
    NIGHTS, NOPRIV or the other facilities an admin's covers (WEST, in Los Angeles time, is
    one hole: no schedule names it and its default policy pages only the pool)."""
    now = chicago(6, 1)
    period = Period(now - timedelta(days=7), now)
    user_id = await db.scalar(select(User.id).where(User.username == "superfull"))
    principal = await load_principal(db, user_id or 0)
    assert principal is not None
    report = await forecast.report(db, await scope_for(db, principal, period), now)
    assert report.facilities == ("Full Cover Imaging",)
    assert {r[0] for r in rows(report, "hours")} == {"Full Cover Imaging"}
    assert rows(report, "holes") == []

    admin_id = await db.scalar(select(User.id).where(User.username == "admin"))
    admin = await load_principal(db, admin_id or 0)
    assert admin is not None
    everything = await forecast.report(db, await scope_for(db, admin, period), now)
    assert (
        "West Coast Imaging",
        "2026-05-31T22:00-07:00",
        "2026-06-14T22:00-07:00",
        336,
        "no schedule covers this facility and its policy names nobody",
    ) in rows(everything, "holes")
    with_holes = {r[0] for r in rows(everything, "holes")}
    assert {"Nights Imaging", "Unprivileged Imaging"} <= with_holes
    assert "Full Cover Imaging" not in with_holes
    assert len(rows(everything, "hours")) == 336 * len(everything.facilities)
