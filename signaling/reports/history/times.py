"""The history keeps time as epoch seconds while it works, and writes what the records store:
aware UTC datetimes to the millisecond (``signaling.clock.utc_now``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@overload
def at(seconds: float) -> datetime: ...
@overload
def at(seconds: None) -> None: ...
def at(seconds: float | None) -> datetime | None:
    """Epoch seconds as an aware UTC datetime truncated to the millisecond (None stays None)."""
    if seconds is None:
        return None
    # fromtimestamp rounds to the microsecond, and a float this size is exact to a quarter of
    # one: the millisecond comes back exactly (twice as fast as EPOCH + timedelta).
    return datetime.fromtimestamp(int(seconds * 1000.0) / 1000.0, UTC)


def iso(seconds: float) -> str:
    """As the record's bodies write a time (``datetime.isoformat`` of an aware UTC time)."""
    return at(seconds).isoformat()
