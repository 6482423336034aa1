"""The `standby` command as an operator uses it: load a directory, manage users, refuse bad setups."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from signaling.common.errors import InvalidInput
from signaling.directory.file import parse_directory
from signaling.storage.database import make_engine, make_session_factory
from signaling.storage.models import Facility, License, Room, User, UserRole

DIRECTORY = """
facilities:
  - code: SOUTH
    name: South Imaging
    state: fl
    timezone: America/New_York
    rooms:
      - {code: CT1, name: CT One, modality: ct}
      - {code: MR1, name: MR One, modality: MRI}
users:
  - username: drnew
    full_name: Dr New
    credentials: MD
    roles: [radiologist]
    licenses: [{state: FL, number: FL-77, expires: 2031-05-01}]
    privileges: [SOUTH]
    password: a-long-password-1
"""


def standby(
    database_url: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"STANDBY_DATABASE_URL": database_url, "STANDBY_ENVIRONMENT": "test"}
    return subprocess.run(
        [sys.executable, "-m", "signaling", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def count(database_url: str, *models: type) -> list[int]:
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as db:
            return [int(await db.scalar(select(func.count()).select_from(m)) or 0) for m in models]
    finally:
        await engine.dispose()


async def test_load_directory_is_idempotent(database_url: str, tmp_path: Path) -> None:
    """Loading the same file twice creates once, then only updates; nothing doubles."""
    path = tmp_path / "directory.yaml"
    path.write_text(DIRECTORY)
    first = standby(database_url, "load-directory", str(path))
    assert first.returncode == 0, first.stderr
    assert "1 facilities created" in first.stdout
    assert "2 rooms created" in first.stdout
    before = await count(database_url, Facility, Room, User, License)
    second = standby(database_url, "load-directory", str(path))
    assert second.returncode == 0, second.stderr
    assert "created" not in second.stdout
    assert "1 users updated" in second.stdout
    assert await count(database_url, Facility, Room, User, License) == before


async def test_load_directory_replaces_a_users_licenses(database_url: str, tmp_path: Path) -> None:
    """A renewed license in the file replaces the stored one for that user."""
    path = tmp_path / "directory.yaml"
    path.write_text(DIRECTORY)
    assert standby(database_url, "load-directory", str(path)).returncode == 0
    path.write_text(DIRECTORY.replace("2031-05-01", "2033-05-01"))
    assert standby(database_url, "load-directory", str(path)).returncode == 0
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as db:
            user_id = await db.scalar(select(User.id).where(User.username == "drnew"))
            expiries = list(
                await db.scalars(select(License.expires_on).where(License.user_id == user_id))
            )
    finally:
        await engine.dispose()
    assert [str(e) for e in expiries] == ["2033-05-01"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("facilities: [{code: X, name: X, state: ZZ, timezone: UTC}]", "US state"),
        ("facilities: [{code: X, name: X, state: TX, timezone: Mars/Olympus}]", "IANA time zone"),
        ("users: [{username: u1, full_name: U, roles: [pilot]}]", "roles"),
        (
            "users: [{username: u1, full_name: U, roles: [technologist], licenses: [{state: TX, number: 1, expires: 2030-01-01}]}]",
            "radiologists",
        ),
        (
            "users: [{username: u1, full_name: U, roles: [admin]}, {username: u1, full_name: V, roles: [admin]}]",
            "repeat",
        ),
        ("facilities: {oops", "not valid YAML"),
        ("- just\n- a list", "expected a mapping"),
    ],
)
def test_bad_directory_files_are_named(text: str, words: str) -> None:
    """Each kind of mistake in a directory file is named with where it is."""
    with pytest.raises(InvalidInput, match=words):
        parse_directory(text, "bad.yaml")


async def test_bad_directory_file_changes_nothing(database_url: str, tmp_path: Path) -> None:
    """A file that fails half-way (unknown facility) exits 2 and leaves the database as it was."""
    before = await count(database_url, Facility, Room, User, License)
    path = tmp_path / "bad.yaml"
    path.write_text(
        DIRECTORY + "  - {username: u2, full_name: U, roles: [technologist], facilities: [NOPE]}\n"
    )
    result = standby(database_url, "load-directory", str(path))
    assert result.returncode == 2
    assert "unknown facility codes NOPE" in result.stderr
    assert await count(database_url, Facility, Room, User, License) == before


async def test_user_management(database_url: str) -> None:
    """Add a user, set the password, disable, list: all without touching the database by hand."""
    added = standby(
        database_url,
        "user",
        "add",
        "newtech",
        "--full-name",
        "New Tech",
        "--role",
        "technologist",
        "--facility",
        "NORTH",
        "--password-stdin",
        stdin="first-password-1\n",
    )
    assert added.returncode == 0, added.stderr
    short = standby(
        database_url, "user", "set-password", "newtech", "--password-stdin", stdin="short\n"
    )
    assert short.returncode == 2
    assert "at least 10" in short.stderr
    assert (
        standby(
            database_url,
            "user",
            "set-password",
            "newtech",
            "--password-stdin",
            stdin="second-password-2\n",
        ).returncode
        == 0
    )
    assert standby(database_url, "user", "disable", "newtech").returncode == 0
    listing = standby(database_url, "user", "list")
    line = next(line for line in listing.stdout.splitlines() if line.startswith("newtech"))
    assert "technologist" in line
    assert "disabled" in line
    duplicate = standby(
        database_url, "user", "add", "newtech", "--full-name", "X", "--role", "admin"
    )
    assert duplicate.returncode == 2
    assert "exists" in duplicate.stderr
    assert (await count(database_url, UserRole))[0] > 0


def test_several_workers_need_redis(tmp_path: Path) -> None:
    """`serve --workers 2` without Redis is refused with the reason, before anything starts."""
    result = standby(
        f"sqlite+aiosqlite:///{tmp_path}/x.db", "serve", "--workers", "2", "--port", "1"
    )
    assert result.returncode == 2
    assert "STANDBY_REDIS_URL" in result.stderr


def test_production_refuses_the_placeholder_secret(tmp_path: Path) -> None:
    """`serve` in production without a real secret stops with the fix in the message."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANDBY_")}
    result = subprocess.run(
        [sys.executable, "-m", "signaling", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "STANDBY_SECRET_KEY" in result.stderr


def test_demo_refuses_production() -> None:
    """The demo seeds known passwords, so it will not run as production."""
    env = os.environ | {"STANDBY_ENVIRONMENT": "production"}
    result = subprocess.run(
        [sys.executable, "-m", "signaling", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "refuses" in result.stderr


HEAVY = ("aiortc", "av", "cv2", "numpy", "twilio", "fastapi", "uvicorn", "sqlalchemy", "alembic")


@pytest.mark.parametrize("args", [["--help"], ["user", "--help"], ["no-such-command"]])
def test_help_and_usage_errors_import_no_heavy_module(args: list[str]) -> None:
    """`standby --help` (and a usage error) answers without importing the media, carrier, web or database stack."""
    script = (
        "import sys\n"
        "from signaling.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('loaded:', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert "usage: standby" in done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "loaded: []"
