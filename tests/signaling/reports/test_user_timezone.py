"""A person's own time zone comes from the directory file: optional, an IANA zone, replaced (or
cleared) by each load like the rest of the person's entry."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.common.errors import InvalidInput
from signaling.directory.file import load_directory, parse_directory
from signaling.storage.models import User

ENTRY = "users:\n  - {username: drnew, full_name: Dr New, roles: [radiologist]%s}\n"


def test_a_time_zone_must_be_an_iana_zone() -> None:
    with pytest.raises(InvalidInput, match=r"users\.0\.timezone: expected an IANA time zone"):
        parse_directory(ENTRY % ", timezone: Mars/Olympus")


async def test_the_directory_sets_and_clears_a_persons_zone(db: AsyncSession) -> None:
    await load_directory(db, parse_directory(ENTRY % ", timezone: America/Denver"))
    zone = select(User.timezone).where(User.username == "drnew")
    assert await db.scalar(zone) == "America/Denver"
    await load_directory(db, parse_directory(ENTRY % ""))
    assert await db.scalar(zone) is None
    seeded = select(User.timezone).where(User.username == "drdiaz")
    assert await db.scalar(seeded) == "America/New_York"
