"""The reports as pictures and paper: a report's charts as SVG, and the printed operational review
(HTML and PDF) of one or several reports over the same period and facilities.

Drawing and laying out take CPU for a second or more, so both run in a thread, off the event loop.
Access is the reports' own (``scope_for`` through ``dates.scope_of``); every answer is
``Cache-Control: no-store``. Included before ``reports.router``, whose ``/{key}`` would otherwise
take ``review.pdf`` for a report's key."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import Field

from signaling.clock import utc_now
from signaling.common.errors import NotFound
from signaling.http.deps import CurrentUser, Db
from signaling.http.reports import KEY, NO_STORE, ReportKey, ReportQuery, _no_store
from signaling.reports import charts, dates, review
from signaling.reports.catalog import catalog
from signaling.reports.shape import Report

router = APIRouter(prefix="/api/reports", tags=["reports"], dependencies=[Depends(_no_store)])

# What a review prints when it is not told which reports: every one but the forecast, which looks
# forward and has its own page.
REVIEW_DEFAULT = ("response_time", "radiologist_load", "paging_health", "coverage", "reactions")


class ReviewQuery(ReportQuery):
    report: list[Annotated[str, Field(pattern=KEY)]] | None = Field(
        default=None,
        max_length=10,
        description="reports to print, in order (repeat); default: every past-period report",
    )


async def _reports(
    db: Db, principal: CurrentUser, keys: list[str], query: ReportQuery
) -> tuple[list[Report], str, tuple[date, date]]:
    """The reports ``keys`` over the query's scope, the zone their dates are printed in and the
    local dates they cover."""
    known = catalog()
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise NotFound(f"no report {unknown[0]!r}; the reports are {', '.join(known)}")
    now = utc_now()
    (scope,), zone = await dates.scope_of(
        db, principal, [(query.from_, query.to)], query.filters(), now
    )
    reports = [await known[k](db, scope, now) for k in keys]
    return reports, zone.key, dates.local_dates(scope.period, zone)


@router.get(
    "/{key}/charts/{name}.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "the chart as SVG"}},
)
async def get_chart(
    key: ReportKey,
    name: Annotated[str, Path(pattern=KEY, description="histogram, weekly, weekday_hour")],
    principal: CurrentUser,
    db: Db,
    query: Annotated[ReportQuery, Query()],
) -> Response:
    """One chart of a report (the response-time report draws ``histogram``, ``weekly`` and
    ``weekday_hour``), the same picture the printed review carries."""
    (report,), _, _ = await _reports(db, principal, [key], query)
    svg = await asyncio.to_thread(charts.draw, report, name)
    return Response(svg, media_type="image/svg+xml", headers=NO_STORE)


def _keys(query: ReviewQuery) -> list[str]:
    known = catalog()
    return query.report or [k for k in REVIEW_DEFAULT if k in known]


@router.get("/review.html", response_class=Response)
async def get_review_html(
    principal: CurrentUser, db: Db, query: Annotated[ReviewQuery, Query()]
) -> Response:
    """The operational review as a page to read or print from the browser."""
    reports, zone, _ = await _reports(db, principal, _keys(query), query)
    body = await asyncio.to_thread(
        review.html, reports, zone=zone, generated_at=utc_now(), generated_by=principal.full_name
    )
    return Response(body, media_type="text/html; charset=utf-8", headers=NO_STORE)


@router.get(
    "/review.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the review, Letter"}},
)
async def get_review_pdf(
    principal: CurrentUser, db: Db, query: Annotated[ReviewQuery, Query()]
) -> Response:
    """The operational review as a Letter PDF, named by its dates only."""
    reports, zone, (first, last) = await _reports(db, principal, _keys(query), query)
    body = await asyncio.to_thread(
        review.pdf, reports, zone=zone, generated_at=utc_now(), generated_by=principal.full_name
    )
    name = f"operational-review-{first.isoformat()}-to-{last.isoformat()}.pdf"
    return Response(
        body,
        media_type="application/pdf",
        headers=NO_STORE | {"content-disposition": f'attachment; filename="{name}"'},
    )
