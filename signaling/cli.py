"""The ``standby`` command: serve, demo, migrate, load-directory, user management, record checks,
reports."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from signaling.accounts.roles import Role
from signaling.common.errors import StandbyError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from signaling.accounts.principal import Principal
    from signaling.config import Settings
    from signaling.directory.file import DirectoryFile
    from signaling.storage.models import Facility, Room

# Each command imports what it uses when it runs: `standby --help` and a mistyped command answer
# at once instead of after seconds of imports (SQLAlchemy, pydantic-settings, uvicorn), more on a
# busy machine. Nothing here imports the media stack (aiortc, av, cv2) or the carrier's (twilio).

log = logging.getLogger("standby")
DEMO_PASSWORD = "standby-demo"  # noqa: S105 - printed for the demo; the demo refuses production
DEMO_LOGINS = [
    ("tech", "technologist at North Imaging (TX) and Lakeside (NY)"),
    ("drdiaz", "radiologist, licensed TX and NY, privileged at both"),
    ("drpatel", "radiologist, licensed TX only, privileged at North Imaging"),
    ("super", "supervisor of both sites"),
    ("admin", "administrator"),
]


class CliError(Exception):
    pass


def _settings(**overrides: object) -> Settings:
    from pydantic import ValidationError

    from signaling.config import Settings

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise CliError(f"configuration refused: {problems}") from None


async def _apply_directory(settings: Settings, directory: DirectoryFile) -> str:
    from signaling.directory.file import load_directory
    from signaling.storage.database import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    try:
        async with make_session_factory(engine)() as db, db.begin():
            report = await load_directory(db, directory)
        return report.summary()
    finally:
        await engine.dispose()


async def _seed_demo(settings: Settings) -> list[str]:
    """The demo's reaction session and its months of history, each seeded once."""
    from signaling.clock import utc_now
    from signaling.record.demo import seed_reaction_session
    from signaling.reports.history.demo import DAYS, seed_history
    from signaling.storage.database import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    seeded = []
    try:
        async with make_session_factory(engine)() as db, db.begin():
            if await seed_reaction_session(db, utc_now()) is not None:
                seeded.append("a finished session with a contrast reaction to look at")
        started = time.perf_counter()
        async with make_session_factory(engine)() as db, db.begin():
            history = await seed_history(db, utc_now())
        if history is not None:
            took = time.perf_counter() - started
            seeded.append(
                f"{history.sessions:,} sessions of history over {DAYS} days (seeded in {took:.1f} s)"
            )
    finally:
        await engine.dispose()
    return seeded


def cmd_migrate(args: argparse.Namespace) -> None:
    from signaling.storage.database import migrate

    settings = _settings()
    migrate(settings.database_url)
    print("database schema is up to date")


def cmd_load_directory(args: argparse.Namespace) -> None:
    from signaling.directory.file import read_directory
    from signaling.storage.database import migrate

    settings = _settings()
    migrate(settings.database_url)
    directory = read_directory(Path(args.file))
    print(f"{args.file}: {asyncio.run(_apply_directory(settings, directory))}")


def _serve(settings: Settings, host: str, port: int, workers: int, migrate_first: bool) -> None:
    import uvicorn

    from signaling.storage.database import migrate

    if workers > 1 and not settings.redis_url:
        raise CliError(
            "several workers need STANDBY_REDIS_URL (the in-process bus cannot span processes)"
        )
    if workers > 1 and settings.is_sqlite:
        log.warning("several workers on SQLite: fine for trials; use PostgreSQL in production")
    if migrate_first:
        migrate(settings.database_url)
    os.environ.update(
        {
            "STANDBY_ENVIRONMENT": settings.environment.value,
            "STANDBY_SECRET_KEY": settings.secret_key,
            "STANDBY_DATABASE_URL": settings.database_url,
        }
    )
    uvicorn.run(
        "signaling.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ws_max_size=1024 * 1024,
        ws_ping_interval=10,
        ws_ping_timeout=10,
        log_level=settings.log_level.lower(),
        # Standby reads X-Forwarded-For itself, from STANDBY_TRUSTED_PROXIES only
        # (http/client_address.py); uvicorn's rewrite would believe any loopback peer.
        proxy_headers=False,
        server_header=False,
    )


def cmd_serve(args: argparse.Namespace) -> None:
    settings = _settings()
    _serve(
        settings,
        args.host or settings.host,
        args.port or settings.port,
        args.workers,
        not args.no_migrate,
    )


def cmd_demo(args: argparse.Namespace) -> None:
    from importlib.resources import files

    from signaling.config import PLACEHOLDER_SECRET, Environment
    from signaling.directory.file import parse_directory
    from signaling.storage.database import migrate

    env = os.environ.get("STANDBY_ENVIRONMENT", Environment.DEVELOPMENT.value)
    if env == Environment.PRODUCTION.value:
        raise CliError(
            "`standby demo` seeds known passwords and refuses STANDBY_ENVIRONMENT=production"
        )
    settings = _settings(
        environment=Environment.DEVELOPMENT,
        secret_key=os.environ.get("STANDBY_SECRET_KEY", PLACEHOLDER_SECRET),
        database_url=os.environ.get(
            "STANDBY_DATABASE_URL", "sqlite+aiosqlite:///./standby-demo.db"
        ),
    )
    migrate(settings.database_url)
    demo = parse_directory(
        files("signaling").joinpath("demo_directory.yaml").read_text(), "demo directory"
    )
    summary = asyncio.run(_apply_directory(settings, demo))
    summary = "; ".join([summary, *asyncio.run(_seed_demo(settings))])
    host, port = args.host or settings.host, args.port or settings.port
    url = f"http://{host}:{port}/"
    print(
        f"\nStandby demo: {summary}.\n\n  Open {url}\n\n  Logins (password '{DEMO_PASSWORD}' for all):",
        *(f"    {name:<9} {what}" for name, what in DEMO_LOGINS),
        "\n  Use two browser windows (one private) to be technologist and radiologist at once.",
        "  The history's story (log in as super): Lakeside has nobody on call on Friday and",
        "  Saturday nights, and Dr Patel joins late (median over 90 s).\n",
        sep="\n",
        flush=True,
    )
    _serve(settings, host, port, 1, migrate_first=False)


async def _user_add(settings: Settings, args: argparse.Namespace, password: str | None) -> None:
    from sqlalchemy import select

    from signaling.accounts.passwords import hash_password
    from signaling.clock import utc_now
    from signaling.storage.database import make_engine, make_session_factory
    from signaling.storage.models import Facility, User, UserFacility, UserRole

    engine = make_engine(settings.database_url)
    try:
        async with make_session_factory(engine)() as db, db.begin():
            if await db.scalar(select(User).where(User.username == args.username)):
                raise CliError(
                    f"user {args.username} exists; use `standby user set-password` or the directory file"
                )
            codes = args.facility or []
            facilities = {
                f.code: f
                for f in (await db.scalars(select(Facility).where(Facility.code.in_(codes))))
            }
            missing = sorted(set(codes) - facilities.keys())
            if missing:
                raise CliError(f"unknown facility codes: {', '.join(missing)}")
            user = User(
                username=args.username,
                full_name=args.full_name,
                credentials=args.credentials or "",
                password_hash=hash_password(password) if password else None,
                created_at=utc_now(),
            )
            db.add(user)
            await db.flush()
            db.add_all(UserRole(user_id=user.id, role=role) for role in set(args.role))
            db.add_all(UserFacility(user_id=user.id, facility_id=f.id) for f in facilities.values())
    finally:
        await engine.dispose()


async def _user_update(
    settings: Settings, username: str, *, password: str | None = None, active: bool | None = None
) -> None:
    from sqlalchemy import select

    from signaling.accounts import logins
    from signaling.accounts.passwords import hash_password
    from signaling.clock import utc_now
    from signaling.storage.database import make_engine, make_session_factory
    from signaling.storage.models import User

    engine = make_engine(settings.database_url)
    try:
        async with make_session_factory(engine)() as db, db.begin():
            user = await db.scalar(select(User).where(User.username == username))
            if user is None:
                raise CliError(f"no user {username}")
            if password is not None:
                user.password_hash = hash_password(password)
            if active is not None:
                user.active = active
            await logins.revoke_all(db, user.id, utc_now())
    finally:
        await engine.dispose()


async def _user_list(settings: Settings) -> list[str]:
    from sqlalchemy import select

    from signaling.storage.database import make_engine, make_session_factory
    from signaling.storage.models import User, UserRole

    engine = make_engine(settings.database_url)
    try:
        async with make_session_factory(engine)() as db:
            users = (await db.scalars(select(User).order_by(User.username))).all()
            lines = []
            for user in users:
                roles = sorted(
                    await db.scalars(select(UserRole.role).where(UserRole.user_id == user.id))
                )
                state = "active" if user.active else "disabled"
                lines.append(
                    f"{user.username:<20} {user.full_name:<30} {','.join(roles):<30} {state}"
                )
            return lines
    finally:
        await engine.dispose()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise CliError("the two passwords differ")
    return first


def cmd_user(args: argparse.Namespace) -> None:
    from signaling.storage.database import migrate

    settings = _settings()
    migrate(settings.database_url)
    if args.user_command == "add":
        password = (
            _read_password(args.password_stdin)
            if args.password_stdin or sys.stdin.isatty()
            else None
        )
        asyncio.run(_user_add(settings, args, password))
        print(
            f"user {args.username} added"
            + ("" if password else " (no password yet: `standby user set-password`)")
        )
    elif args.user_command == "set-password":
        asyncio.run(
            _user_update(settings, args.username, password=_read_password(args.password_stdin))
        )
        print(f"password of {args.username} changed; their logins were ended")
    elif args.user_command in ("disable", "enable"):
        asyncio.run(_user_update(settings, args.username, active=args.user_command == "enable"))
        print(f"user {args.username} {args.user_command}d")
    else:
        print("\n".join(asyncio.run(_user_list(settings))) or "no users")


async def _verify_records(settings: Settings, session_id: str | None) -> tuple[list[str], bool]:
    from signaling.record import chain
    from signaling.storage.database import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    try:
        async with make_session_factory(engine)() as db:
            if session_id is not None:
                verdicts = [await chain.verify(db, session_id)]
            else:
                verdicts = await chain.verify_all(db)
    finally:
        await engine.dispose()
    lines = []
    for v in verdicts:
        pending = f", {v.unsealed} not sealed yet" if v.unsealed else ""
        if v.intact:
            lines.append(f"{v.session_id}: intact ({v.length} entries{pending})")
        else:
            lines.append(f"{v.session_id}: BROKEN: {v.problem}")
    broken = sum(not v.intact for v in verdicts)
    if session_id is None:
        lines.append(f"{len(verdicts)} records checked, {broken} broken")
    return lines, broken == 0


def cmd_record(args: argparse.Namespace) -> None:
    """``standby record verify [SESSION | --all]``: exit 0 when every chain checked is intact,
    1 when one is not (naming its first entry altered or removed)."""
    if args.session is None and not args.all:
        raise CliError("name a session, or --all")
    lines, intact = asyncio.run(_verify_records(_settings(), args.session))
    print("\n".join(lines))
    if not intact:
        raise SystemExit(1)


async def _reader(db: AsyncSession, username: str | None) -> Principal:
    """Whose access a report is read with: ``username``'s, or without one the operator's (who
    holds the database's address and so reads everything)."""
    from sqlalchemy import select

    from signaling.accounts.principal import Principal, load_principal
    from signaling.storage.models import User

    if username is None:
        return Principal(0, "(operator)", "the operator", "", frozenset({Role.ADMIN}), frozenset())
    user_id = await db.scalar(select(User.id).where(User.username == username))
    principal = None if user_id is None else await load_principal(db, user_id)
    if principal is None:
        raise CliError(f"no active user {username}")
    return principal


async def _ids_of(
    db: AsyncSession, model: type[Facility | Room], codes: list[str] | None
) -> frozenset[int] | None:
    from sqlalchemy import select

    if not codes:
        return None
    found = {
        code: row_id
        for code, row_id in await db.execute(
            select(model.code, model.id).where(model.code.in_(codes))
        )
    }
    missing = sorted(set(codes) - found.keys())
    if missing:
        raise CliError(f"unknown {model.__tablename__} codes: {', '.join(missing)}")
    return frozenset(found.values())


async def _report(settings: Settings, args: argparse.Namespace) -> str:
    from sqlalchemy import select

    from signaling.clock import utc_now
    from signaling.reports import dates, terminal
    from signaling.reports.catalog import catalog
    from signaling.reports.csv_export import csv_text
    from signaling.reports.scope import Band, Filters
    from signaling.storage.database import make_engine, make_session_factory
    from signaling.storage.models import Facility, Room, User

    run = catalog().get(args.key)
    if run is None:
        raise CliError(f"no report {args.key}; the reports are {', '.join(catalog())}")
    engine = make_engine(settings.database_url)
    try:
        async with make_session_factory(engine)() as db, db.begin():
            principal = await _reader(db, args.as_user)
            radiologist = None
            if args.radiologist:
                radiologist = await db.scalar(
                    select(User.id).where(User.username == args.radiologist)
                )
                if radiologist is None:
                    raise CliError(f"no user {args.radiologist}")
            filters = Filters(
                facility_ids=await _ids_of(db, Facility, args.facility),
                room_ids=await _ids_of(db, Room, args.room),
                modality=args.modality,
                radiologist_id=radiologist,
                outcome=args.outcome,
                band=Band(args.band) if args.band else None,
            )
            now = utc_now()
            (scope,), _ = await dates.scope_of(
                db, principal, [(args.from_date, args.to_date)], filters, now
            )
            report = await run(db, scope, now)
    finally:
        await engine.dispose()
    if args.csv is None:
        return terminal.render(report)
    try:
        return csv_text(report.table(args.csv))
    except KeyError:
        tables = ", ".join(t.key for t in report.tables)
        raise CliError(f"report {args.key} has no table {args.csv}; it has {tables}") from None


def cmd_report(args: argparse.Namespace) -> None:
    """``standby report KEY [--from --to --facility CODE ...] [--csv TABLE] [--as USERNAME]``:
    the report as aligned text, or one of its tables as CSV, on standard output."""
    sys.stdout.write(asyncio.run(_report(_settings(), args)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="standby", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service (settings from STANDBY_* variables)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--no-migrate", action="store_true", help="do not migrate the database first"
    )
    serve.set_defaults(func=cmd_serve)

    demo = commands.add_parser("demo", help="seed demo facilities and users, then serve")
    demo.add_argument("--host")
    demo.add_argument("--port", type=int)
    demo.set_defaults(func=cmd_demo)

    commands.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        func=cmd_migrate
    )

    load = commands.add_parser(
        "load-directory", help="create or update facilities, rooms and users from YAML/JSON"
    )
    load.add_argument("file")
    load.set_defaults(func=cmd_load_directory)

    user = commands.add_parser("user", help="manage users")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add")
    add.add_argument("username")
    add.add_argument("--full-name", required=True)
    add.add_argument("--credentials", help="e.g. MD")
    add.add_argument("--role", action="append", required=True, choices=[r.value for r in Role])
    add.add_argument(
        "--facility", action="append", help="facility code (technologists, supervisors)"
    )
    add.add_argument("--password-stdin", action="store_true")
    setpw = user_commands.add_parser("set-password")
    setpw.add_argument("username")
    setpw.add_argument("--password-stdin", action="store_true")
    for name in ("disable", "enable"):
        user_commands.add_parser(name).add_argument("username")
    user_commands.add_parser("list")
    user.set_defaults(func=cmd_user)
    record = commands.add_parser("record", help="the sessions' records")
    record_commands = record.add_subparsers(dest="record_command", required=True)
    verify = record_commands.add_parser(
        "verify",
        help="check a session's record chain (or every one): names the first entry "
        "altered or removed",
    )
    verify.add_argument("session", nargs="?")
    verify.add_argument("--all", action="store_true", help="every session's record")
    record.set_defaults(func=cmd_record)

    report = commands.add_parser(
        "report", help="a report (response_time, radiologist_load, ...) in the terminal or as CSV"
    )
    report.add_argument("key", help="response_time, radiologist_load, ...")
    report.add_argument(
        "--from",
        dest="from_date",
        help="first day (2026-03-01) or an ISO time; default 30 days ago",
    )
    report.add_argument("--to", dest="to_date", help="last day or an ISO time; default today")
    report.add_argument("--facility", action="append", help="facility code (repeat for several)")
    report.add_argument("--room", action="append", help="room code (repeat for several)")
    report.add_argument("--modality", choices=["CT", "MR"])
    report.add_argument("--radiologist", help="a radiologist's username")
    report.add_argument("--outcome", choices=["completed", "cancelled"])
    report.add_argument("--band", choices=["under_30", "30_60", "60_90", "over_90", "unmeasured"])
    report.add_argument("--csv", metavar="TABLE", help="print this table as CSV instead")
    report.add_argument(
        "--as",
        dest="as_user",
        metavar="USERNAME",
        help="read with this user's access (a supervisor sees only their facilities)",
    )
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (CliError, StandbyError) as exc:
        print(f"standby: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
