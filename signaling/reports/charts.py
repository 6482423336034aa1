"""The response-time report's charts, drawn on the server by matplotlib as SVG so the same picture
serves the page and the printed review: the join-latency histogram with the 30 s and 90 s lines,
the weekly trend of p90 and of the share over 90 s, and the weekday-by-hour grid of volume and
median latency.

Each function takes the report's ``Table`` (the contract's keys and columns) and returns one SVG
document as text: a ``<title>`` and a ``<desc>`` that says in words what the picture shows, text
kept as text, no fonts embedded, coordinates rounded. An empty table gives a chart that says "no
sessions in this period". Drawing is CPU work (about 0.1 s a chart, 2 s for the first, which loads
matplotlib): callers on the event loop
run it in a thread (``await asyncio.to_thread(charts.histogram, table)``). Each call builds its own
``Figure`` and canvas (no pyplot, no shared figure), so threads may draw at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from signaling.common.errors import NotFound
from signaling.reports import drawing, svg
from signaling.reports.shape import Report, Table, Value
from signaling.reports.words import WEEKDAYS, count_words, day_month, seconds_words


def _column(table: Table, key: str) -> list[Value]:
    index = next((i for i, c in enumerate(table.columns) if c.key == key), None)
    if index is None:
        raise ValueError(f"table {table.key} has no column {key!r}")
    return [row[index] for row in table.rows]


def _number(value: Value) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def histogram(table: Table) -> str:
    """The ``histogram`` table (``lo_s``, ``hi_s``, ``sessions``; 10 s bins, the last ``180+``
    with ``hi_s`` None) as one bar per non-empty bin, coloured by band, with the 30 s and 90 s
    lines. Each bar is a group with id ``bar-<lo_s>``; the lines ``line-30s`` and ``line-90s``."""
    title = "Join latency: measured sessions by seconds from request to join"
    if not table.rows:
        return svg.empty(title, "no sessions in this period", "histogram")
    bins = [
        (lo, _number(hi), int(n or 0))
        for lo, hi, n in zip(
            (_number(v) or 0.0 for v in _column(table, "lo_s")),
            _column(table, "hi_s"),
            (_number(v) for v in _column(table, "sessions")),
            strict=True,
        )
    ]
    total = sum(n for _, _, n in bins)
    if total == 0:
        return svg.empty(
            title,
            "no measured joins in this period (a session that ended without a join is counted "
            "as a failure in the cards, not drawn here)",
            "histogram",
        )
    figure, axes = drawing.plain_figure(2.6)
    open_width = 20.0  # the "180+" bar: drawn as wide as two bins, labelled as open
    last_edge = 0.0
    for lo, hi, n in bins:
        width = (hi - lo) if hi is not None else open_width
        last_edge = max(last_edge, lo + width)
        if n == 0:
            continue
        (bar,) = axes.bar(
            lo,
            n,
            width=width,
            align="edge",
            color=drawing.band_colour(lo),
            edgecolor="#FFFFFF",
            linewidth=0.6,
        )
        bar.set_gid(f"bar-{lo:.0f}")
    drawing.benchmark_lines(axes, vertical=True)
    axes.set_xlim(0, last_edge)
    ticks = [t for t in range(0, int(last_edge) + 1, 30)]
    open_lo = next((lo for lo, hi, _ in bins if hi is None), None)
    labels = [f"{t}" if open_lo is None or t < open_lo else f"{t:.0f}+" for t in ticks]
    axes.set_xticks(ticks, labels)
    axes.set_xlabel("join latency, seconds (10 s bins)")
    axes.set_ylabel("sessions")
    axes.yaxis.set_major_locator(drawing.whole_numbers())
    axes.margins(y=0.05)
    drawing.band_legend(axes, "upper right", None)
    under = sum(n for lo, _, n in bins if lo < drawing.BEST_S)
    over = sum(n for lo, _, n in bins if lo >= drawing.RISK_S)
    description = (
        f"Bar chart of {count_words(total, 'measured session')} in 10-second bins of join "
        f"latency: {under} under 30 s, {total - under - over} from 30 to 90 s, {over} at 90 s or "
        f"more. Dashed lines mark 30 s (best in class) and 90 s (a risk beyond). Sessions that "
        f"ended without a join are not in this chart."
    )
    return svg.document(figure, title, description, "histogram")


def weekly(table: Table) -> str:
    """The ``weekly`` table (``week`` ISO Monday, ``sessions``, ``p90_s``, ``share_over_90``) as
    two panels over the same weeks: p90 join latency against the 30 s and 90 s lines, and the
    share of ended sessions over 90 s or unmeasured. A week without sessions is a gap."""
    title = "Weekly trend: p90 join latency and share over 90 s or unmeasured"
    if not table.rows:
        return svg.empty(title, "no sessions in this period", "weekly")
    weeks = [str(v) for v in _column(table, "week")]
    p90 = [_number(v) for v in _column(table, "p90_s")]
    share = [_number(v) for v in _column(table, "share_over_90")]
    figure = drawing.new_figure(3.1)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    drawing.style(top)
    drawing.style(bottom)
    xs = list(range(len(weeks)))
    top.plot(
        xs,
        [math.nan if v is None else v for v in p90],
        color=drawing.INK,
        marker="o",
        markersize=3.5,
        linewidth=1.4,
        gid="p90",
    )
    drawing.benchmark_lines(top, vertical=False)
    sessions = [_number(v) or 0 for v in _column(table, "sessions")]
    for x, value, n in zip(xs, p90, sessions, strict=True):
        if value is None:
            top.text(
                x,
                4,
                "no sessions" if n == 0 else "none joined",
                rotation=90,
                ha="center",
                va="bottom",
                fontsize=6.5,
                color="#555555",
            )
    highest = max((v for v in p90 if v is not None), default=0.0)
    top.set_ylim(0, max(drawing.RISK_S * 1.15, highest * 1.1))
    top.set_ylabel("p90, seconds")
    top.set_title("p90 join latency", fontsize=8.5, loc="left")
    for x, value in zip(xs, share, strict=True):
        if value is not None:
            bottom.bar(
                x,
                value * 100,
                width=0.7,
                color=drawing.OVER_90,
                edgecolor=drawing.INK,
                linewidth=0.4,
            )
    bottom.set_ylim(0, max(10.0, max((v * 100 for v in share if v is not None), default=0) * 1.2))
    bottom.set_ylabel("% of sessions")
    bottom.set_title("share over 90 s or unmeasured", fontsize=8.5, loc="left")
    step = max(1, math.ceil(len(weeks) / 14))
    bottom.set_xticks(xs[::step], [day_month(w) for w in weeks[::step]])
    bottom.set_xlabel("week starting (Monday, facility time)")
    bottom.set_xlim(-0.6, len(weeks) - 0.4)
    worst = max(
        ((w, v) for w, v in zip(weeks, p90, strict=True) if v is not None),
        key=lambda pair: pair[1],
        default=None,
    )
    worst_words = (
        f" The highest p90 was {seconds_words(worst[1])}, the week of {day_month(worst[0])}."
        if worst
        else " No week had a measured join."
    )
    description = (
        f"Two charts over {count_words(len(weeks), 'week')} from {day_month(weeks[0])} to "
        f"{day_month(weeks[-1])}: the 90th percentile of join latency per week, with lines at "
        f"30 s and 90 s, and per week the share of ended sessions over 90 s or unmeasured."
        f"{worst_words}"
    )
    return svg.document(figure, title, description, "weekly")


def weekday_hour(table: Table) -> str:
    """The ``weekday_hour`` table (``weekday`` 0=Mon..6=Sun, ``hour`` 0..23, ``sessions``,
    ``median_s``) as two grids of weekdays by hour (facility time): sessions shaded by volume,
    and median join latency coloured by band against 30/60/90 s. A cell without sessions is grey."""
    title = "Weekday by hour: sessions and median join latency (facility time)"
    if not table.rows:
        return svg.empty(title, "no sessions in this period", "weekday_hour")
    volume = [[0] * 24 for _ in range(7)]
    median: list[list[float | None]] = [[None] * 24 for _ in range(7)]
    for day, hour, n, m in zip(
        _column(table, "weekday"),
        _column(table, "hour"),
        _column(table, "sessions"),
        _column(table, "median_s"),
        strict=True,
    ):
        d, h = int(_number(day) or 0), int(_number(hour) or 0)
        if 0 <= d < 7 and 0 <= h < 24:
            volume[d][h] = int(_number(n) or 0)
            median[d][h] = _number(m)
    figure = drawing.new_figure(4.3)
    top, bottom = figure.subplots(2, 1, sharex=True)
    busiest = max(max(row) for row in volume)
    drawing.weekday_grid(
        top, [[drawing.shade(n, busiest) for n in row] for row in volume], "sessions per hour"
    )
    drawing.weekday_grid(
        bottom,
        [
            [drawing.EMPTY_CELL if m is None else drawing.band_colour(m) for m in row]
            for row in median
        ],
        "median join latency",
    )
    bottom.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    bottom.set_xlabel("hour of day (facility time)")
    drawing.grid_legends(top, bottom, busiest)
    total = sum(map(sum, volume))
    slow = sorted(
        ((m, d, h) for d, row in enumerate(median) for h, m in enumerate(row) if m is not None),
        reverse=True,
    )
    slow_words = (
        f" The slowest hour was {WEEKDAYS[slow[0][1]]} {slow[0][2]:02d}:00 with a median of "
        f"{seconds_words(slow[0][0])}; {sum(1 for m, _, _ in slow if m >= drawing.RISK_S)} of "
        f"{len(slow)} hours with sessions had a median at 90 s or more."
        if slow
        else ""
    )
    description = (
        f"Two grids of weekdays (Monday to Sunday) by hour of day: the number of sessions "
        f"({count_words(total, 'session')} in all, at most {busiest} in one hour), and the "
        f"median join latency coloured under 30 s, 30 to 60 s, 60 to 90 s and 90 s or more."
        f"{slow_words}"
    )
    return svg.document(figure, title, description, "weekday_hour")


@dataclass(frozen=True)
class Chart:
    """A chart a report may carry: drawn from its table ``table_key``, named ``name`` in URLs."""

    name: str
    report_key: str
    table_key: str
    draw: Callable[[Table], str]


CHARTS: tuple[Chart, ...] = (
    Chart("histogram", "response_time", "histogram", histogram),
    Chart("weekly", "response_time", "weekly", weekly),
    Chart("weekday_hour", "response_time", "weekday_hour", weekday_hour),
)


def charts_of(report: Report) -> tuple[Chart, ...]:
    """The charts ``report`` can be drawn as: those of its key whose table it has."""
    tables = {t.key for t in report.tables}
    return tuple(c for c in CHARTS if c.report_key == report.key and c.table_key in tables)


def draw(report: Report, name: str) -> str:
    """The chart ``name`` of ``report`` as SVG; NotFound when the report has no such chart."""
    for chart in charts_of(report):
        if chart.name == name:
            return chart.draw(report.table(chart.table_key))
    known = ", ".join(c.name for c in charts_of(report)) or "none"
    raise NotFound(f"report {report.key} has no chart {name!r} (its charts: {known})")
