"""Every report by its key, so the API, the CLI and the pages name a report once: each is
``async def report(db, scope, now) -> Report`` in its own module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports import (
    coverage,
    forecast,
    paging_health,
    radiologist_load,
    reactions,
    response_time,
)
from signaling.reports.scope import Scope
from signaling.reports.shape import Report

ReportFn = Callable[[AsyncSession, Scope, datetime], Awaitable[Report]]


def catalog() -> dict[str, ReportFn]:
    """Report key -> its function, in the order the console lists them."""
    return {
        response_time.KEY: response_time.report,
        radiologist_load.KEY: radiologist_load.report,
        paging_health.KEY: paging_health.report,
        coverage.KEY: coverage.report,
        reactions.KEY: reactions.report,
        forecast.KEY: forecast.report,
    }
