"""The printed operational review (issue 11 item 7): one or more reports as a Letter document an
auditor accepts, as HTML (Jinja2) and PDF (WeasyPrint), the way the record's printout is made.

A title block (facilities, period, generated at and by), then each report: its cards with the
change against the previous period in words and arrows, its charts as inline SVG, its tables (a
long one flows onto the next page under its repeated header), its notes. Every page says "page N
of M" and what the figures mean (30 s and 90 s, unmeasured counts as a failure). Dates and times
are local to the zone given (the facility's), with UTC beside where a time is exact; no keys, only
labels; every number with its unit.

Drawing the charts and laying out the PDF take CPU for a second or more: callers on the event loop
run ``pdf``/``html`` in a thread (``await asyncio.to_thread(review.pdf, ...)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from signaling.reports import charts, words
from signaling.reports.drawing import RISK_S
from signaling.reports.shape import Card, Column, Report, Table, Value


@dataclass(frozen=True)
class Figure:
    """A card as printed: the figure with its unit and how it moved."""

    label: str
    value: str
    change: words.Change


@dataclass(frozen=True)
class Section:
    """One report as printed."""

    title: str
    period: str
    previous: str
    cards: tuple[Figure, ...]
    charts: tuple[Markup, ...]
    tables: tuple[PrintedTable, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class PrintedTable:
    title: str
    headers: tuple[str, ...]
    numeric: tuple[bool, ...]  # right-aligned columns
    rows: tuple[tuple[str, ...], ...]
    grid: bool = False  # weekdays by hours: small type, one row per weekday

    @property
    def short(self) -> bool:
        """Short enough to keep on one page with its title rather than split."""
        return len(self.rows) <= SHORT_ROWS

    marked: frozenset[tuple[int, int]] = frozenset()  # (row, column) cells printed bold
    omitted: int = 0  # rows past PRINTED_ROWS, left to the table's CSV


SHORT_ROWS = 30
# The forecast's hour-by-hour table has 336 rows per facility: a printout lists the first rows
# and says how many more the CSV holds, rather than run to hundreds of pages.
PRINTED_ROWS = 150

# a grid's cells carry no unit (the title says it): 24 columns leave room for three digits
_GRID_UNIT_WORDS = {
    "count": "",
    "seconds": ", seconds (bold: 90 s or more)",
    "share": ", %",
    "per_1000": ", per 1,000",
    "text": "",
}


def _zone(name: str) -> tuple[tzinfo, str]:
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError):
        return UTC, f"UTC (time zone {name!r} unknown)"


def _card(card: Card) -> Figure:
    return Figure(card.label, words.figure(card.value, card.unit), words.change(card))


def _tables(table: Table) -> tuple[PrintedTable, ...]:
    """A table as printed: row by row, or, for one by ``weekday`` and ``hour`` (168 rows), one
    grid of weekdays by hours per value column, which reads like the chart and fits a page."""
    keys = [c.key for c in table.columns]
    if "weekday" in keys and "hour" in keys and table.rows:
        return tuple(_grid(table, i) for i, c in enumerate(table.columns) if c.key not in (
            "weekday", "hour"))  # fmt: skip
    return (
        PrintedTable(
            title=table.title,
            headers=tuple(c.label for c in table.columns),
            numeric=tuple(c.unit != "text" and c.key != "hour" for c in table.columns),
            rows=tuple(
                tuple(words.cell(v, c) for v, c in zip(row, table.columns, strict=True))
                for row in table.rows[:PRINTED_ROWS]
            ),
            omitted=max(0, len(table.rows) - PRINTED_ROWS),
        ),
    )


def _grid(table: Table, index: int) -> PrintedTable:
    keys = [c.key for c in table.columns]
    day_at, hour_at = keys.index("weekday"), keys.index("hour")
    column = table.columns[index]
    cells: dict[tuple[int, int], Value] = {}
    for row in table.rows:
        day, hour = row[day_at], row[hour_at]
        if isinstance(day, int) and isinstance(hour, int):
            cells[(day, hour)] = row[index]
    marked = frozenset(
        (day, hour + 1)
        for (day, hour), value in cells.items()
        if column.unit == "seconds" and isinstance(value, int | float) and value >= RISK_S
    )
    return PrintedTable(
        title=f"{table.title}: {column.label}{_GRID_UNIT_WORDS[column.unit]}",
        headers=("", *(f"{h:02d}" for h in range(24))),
        numeric=(False, *([True] * 24)),
        rows=tuple(
            (words.WEEKDAYS[day][:3], *(_compact(cells.get((day, h)), column) for h in range(24)))
            for day in range(7)
        ),
        grid=True,
        marked=marked,
    )


def _compact(value: Value, column: Column) -> str:
    if not isinstance(value, int | float):
        return words.NONE if value is None else str(value)
    if column.unit == "share":
        return f"{value * 100:.0f}"
    if column.unit == "per_1000":
        return f"{value:.1f}"
    return f"{value:,.0f}"


def _section(report: Report, zone: tzinfo) -> Section:
    length = report.end - report.start
    return Section(
        title=report.title,
        period=words.local_period(report.start, report.end, zone),
        previous=words.local_period(report.start - length, report.start, zone),
        cards=tuple(_card(c) for c in report.cards),
        charts=tuple(Markup(charts.draw(report, c.name)) for c in charts.charts_of(report)),  # noqa: S704 (our own SVG, its text escaped by matplotlib)
        tables=tuple(p for t in report.tables for p in _tables(t)),
        notes=report.notes,
    )


def _moment(at: datetime, zone: tzinfo) -> str:
    local = at.astimezone(zone)
    return (
        f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M} {local:%Z} "
        f"({at.astimezone(UTC):%H:%M} UTC)"
    )


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("signaling.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def html(reports: Sequence[Report], *, zone: str, generated_at: datetime, generated_by: str) -> str:
    """The review of ``reports`` (in that order) as one self-contained HTML document: inline CSS
    and SVG, no script, nothing fetched. ``zone`` is the IANA zone dates are printed in (the
    facility's; an unknown one prints UTC and says so); ``generated_by`` names the person."""
    if not reports:
        raise ValueError("a review needs at least one report")
    tz, zone_name = _zone(zone)
    sections = tuple(_section(r, tz) for r in reports)
    facilities = tuple(dict.fromkeys(f for r in reports for f in r.facilities))
    periods = tuple(dict.fromkeys(s.period for s in sections))
    return (
        _environment()
        .get_template("review.html.j2")
        .render(
            sections=sections,
            facilities=facilities,
            period=periods[0] if len(periods) == 1 else None,
            zone_name=zone_name,
            generated_at=_moment(generated_at, tz),
            generated_iso=generated_at.astimezone(UTC).isoformat(timespec="seconds"),
            generated_by=generated_by,
            title=_title(reports, facilities),
        )
    )


def _title(reports: Sequence[Report], facilities: Sequence[str]) -> str:
    names = ", ".join(facilities) if len(facilities) <= 3 else f"{len(facilities)} facilities"
    return f"Operational review: {names or 'no facility'}"


def pdf(
    reports: Sequence[Report], *, zone: str, generated_at: datetime, generated_by: str
) -> bytes:
    """The review's HTML rendered to a Letter PDF by WeasyPrint (nothing fetched)."""
    # imported here: WeasyPrint loads Pango, which nothing but the PDF needs
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    document = html(reports, zone=zone, generated_at=generated_at, generated_by=generated_by)
    fetch_nothing = URLFetcher(allowed_protocols=(), fail_on_errors=True)
    rendered: bytes = HTML(string=document, url_fetcher=fetch_nothing).write_pdf()
    return rendered
