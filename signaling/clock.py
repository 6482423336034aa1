"""The one place that reads the wall clock; everything else takes ``now`` as a parameter."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current UTC time, truncated to the millisecond (what the records store)."""
    return truncate_ms(datetime.now(UTC))


def truncate_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


def iso_ms(moment: datetime | None) -> str | None:
    """``2026-11-22T11:00:00.123Z``: the wire and export format of every timestamp."""
    if moment is None:
        return None
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )
