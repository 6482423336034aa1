"""HTTP API of the reports: parse the period and filters, call ``signaling.reports``, map the
``Report`` to JSON (typed, so the OpenAPI schema shows it) or one of its tables to CSV.

Supervisors read their own facilities, admins every one (``scope_for``); every answer is
``Cache-Control: no-store``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from signaling.clock import utc_now
from signaling.common.errors import NotFound
from signaling.http.deps import ROW_ID_MAX, CurrentUser, Db
from signaling.reports import csv_export, dates
from signaling.reports.catalog import catalog
from signaling.reports.response_time import before_after
from signaling.reports.scope import Band, Filters
from signaling.reports.shape import Report, Table, Unit

NO_STORE = {"cache-control": "no-store"}
MAX_IDS = 200
KEY = r"^[a-z][a-z0-9_]{0,39}$"


def _no_store(response: Response) -> None:
    response.headers.update(NO_STORE)


router = APIRouter(prefix="/api/reports", tags=["reports"], dependencies=[Depends(_no_store)])

RowId = Annotated[int, Field(ge=1, le=ROW_ID_MAX)]
DAY_OR_TIME = "a date (2026-03-01: the whole day, facility time) or an ISO-8601 time"


class Narrowing(BaseModel):
    """The filters every report takes (repeat ``facility`` and ``room`` for several)."""

    model_config = ConfigDict(extra="forbid")

    facility: list[RowId] | None = Field(default=None, max_length=MAX_IDS)
    room: list[RowId] | None = Field(default=None, max_length=MAX_IDS)
    modality: Literal["CT", "MR"] | None = None
    radiologist: RowId | None = Field(default=None, description="a radiologist's user id")
    outcome: Literal["completed", "cancelled"] | None = None
    band: Band | None = Field(default=None, description="join latency band of the session")

    def filters(self) -> Filters:
        return Filters(
            facility_ids=frozenset(self.facility) if self.facility else None,
            room_ids=frozenset(self.room) if self.room else None,
            modality=self.modality,
            radiologist_id=self.radiologist,
            outcome=self.outcome,
            band=self.band,
        )


class ReportQuery(Narrowing):
    from_: str | None = Field(
        default=None, alias="from", max_length=dates.MAX_TEXT, description=DAY_OR_TIME
    )
    to: str | None = Field(default=None, max_length=dates.MAX_TEXT, description=DAY_OR_TIME)


class BeforeAfterQuery(Narrowing):
    a_from: str = Field(max_length=dates.MAX_TEXT, description="range A (before): first day")
    a_to: str = Field(max_length=dates.MAX_TEXT, description="range A: last day")
    b_from: str = Field(max_length=dates.MAX_TEXT, description="range B (after): first day")
    b_to: str = Field(max_length=dates.MAX_TEXT, description="range B: last day")


class CardOut(BaseModel):
    key: str
    label: str
    value: float | int | None
    previous: float | int | None = Field(description="the previous period's (before/after: A)")
    change: float | None = Field(description="value - previous")
    unit: Unit
    better: Literal["lower", "higher"] | None


class ColumnOut(BaseModel):
    key: str
    label: str
    unit: Unit


class TableOut(BaseModel):
    key: str
    title: str
    columns: list[ColumnOut]
    rows: list[list[str | int | float | None]]


class ReportOut(BaseModel):
    key: str
    title: str
    start: datetime = Field(description="the period's start, UTC")
    end: datetime = Field(description="the period's end (exclusive), UTC")
    facilities: list[str]
    cards: list[CardOut]
    tables: list[TableOut]
    notes: list[str]


def report_out(report: Report) -> ReportOut:
    return ReportOut(
        key=report.key,
        title=report.title,
        start=report.start,
        end=report.end,
        facilities=list(report.facilities),
        cards=[
            CardOut(
                key=c.key,
                label=c.label,
                value=c.value,
                previous=c.previous,
                change=c.change,
                unit=c.unit,
                better=c.better,
            )
            for c in report.cards
        ],
        tables=[
            TableOut(
                key=t.key,
                title=t.title,
                columns=[ColumnOut(key=c.key, label=c.label, unit=c.unit) for c in t.columns],
                rows=[list(row) for row in t.rows],
            )
            for t in report.tables
        ],
        notes=list(report.notes),
    )


async def _run(
    db: Db, principal: CurrentUser, key: str, query: ReportQuery
) -> tuple[Report, ZoneInfo]:
    """The report ``key`` over the query's period and filters, and the zone its dates are in."""
    run = catalog().get(key)
    if run is None:
        raise NotFound(f"no report {key!r}; the reports are {', '.join(catalog())}")
    now = utc_now()
    (scope,), zone = await dates.scope_of(
        db, principal, [(query.from_, query.to)], query.filters(), now
    )
    return await run(db, scope, now), zone


@router.get("/before-after", response_model=ReportOut)
async def get_before_after(
    principal: CurrentUser, db: Db, query: Annotated[BeforeAfterQuery, Query()]
) -> ReportOut:
    """Join latency in two date ranges side by side: each card's ``previous`` is range A, its
    ``value`` range B."""
    now = utc_now()
    (a, b), _ = await dates.scope_of(
        db,
        principal,
        [(query.a_from, query.a_to), (query.b_from, query.b_to)],
        query.filters(),
        now,
    )
    return report_out(await before_after(db, a, b, now))


ReportKey = Annotated[str, Path(pattern=KEY, description="response_time, radiologist_load, ...")]


@router.get("/{key}", response_model=ReportOut)
async def get_report(
    key: ReportKey, principal: CurrentUser, db: Db, query: Annotated[ReportQuery, Query()]
) -> ReportOut:
    """One report over the period (default: the 30 days through today) and filters."""
    report, _ = await _run(db, principal, key, query)
    return report_out(report)


def _table(report: Report, key: str) -> Table:
    try:
        return report.table(key)
    except KeyError:
        tables = ", ".join(t.key for t in report.tables)
        raise NotFound(f"report {report.key} has no table {key!r}; it has {tables}") from None


@router.get("/{key}/{table}.csv", response_class=Response)
async def get_table_csv(
    key: ReportKey,
    table: Annotated[str, Path(pattern=KEY, description="a table's key, e.g. by_facility")],
    principal: CurrentUser,
    db: Db,
    query: Annotated[ReportQuery, Query()],
) -> Response:
    """One table of a report as CSV for a spreadsheet (UTF-8 with a byte-order mark; a header of
    labels with their units; shares as percentages; empty for none; cells that a spreadsheet
    would run as a formula neutralised), named by the report, the table and the dates only."""
    report, zone = await _run(db, principal, key, query)
    chosen = _table(report, table)
    name = csv_export.filename(report, chosen, zone)
    return Response(
        csv_export.csv_bytes(chosen),
        media_type="text/csv; charset=utf-8",
        headers=NO_STORE | {"content-disposition": f'attachment; filename="{name}"'},
    )
