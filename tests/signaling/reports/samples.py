"""Hand-made reports in the contract's shape, for the renderers' tests (no database: the charts,
CSV and review read a ``Report`` and nothing else)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from signaling.reports.shape import Card, Column, Report, Table, Value

# March 2026 in Chicago: 1 March 06:00 UTC (CST) to 1 April 05:00 UTC (CDT, after 8 March)
START = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
END = datetime(2026, 4, 1, 5, 0, tzinfo=UTC)
NOW = datetime(2026, 4, 2, 14, 30, tzinfo=UTC)

# sessions per 10 s bin from 0 s; the last is 180+ (hi_s None); bins 11, 15, 16 are empty
HISTOGRAM_COUNTS = (2, 9, 14, 11, 7, 5, 4, 3, 2, 3, 1, 0, 2, 1, 1, 0, 0, 1, 4)

HISTOGRAM = Table(
    "histogram",
    "Join latency in 10 s bins (measured sessions)",
    (
        Column("lo_s", "From", "seconds"),
        Column("hi_s", "Up to", "seconds"),
        Column("sessions", "Sessions", "count"),
    ),
    tuple((i * 10, (i + 1) * 10 if i < 18 else None, n) for i, n in enumerate(HISTOGRAM_COUNTS)),
)

WEEKS = ("2026-02-23", "2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23", "2026-03-30")
WEEKLY = Table(
    "weekly",
    "Week by week",
    (
        Column("week", "Week of (Monday)"),
        Column("sessions", "Sessions", "count"),
        Column("p90_s", "p90 join latency", "seconds"),
        Column("share_over_90", "Over 90 s or unmeasured", "share"),
    ),
    (
        (WEEKS[0], 3, 48.5, 0.0),
        (WEEKS[1], 22, 71.2, 0.0909),
        (WEEKS[2], 19, 95.0, 0.2105),
        (WEEKS[3], 0, None, None),
        (WEEKS[4], 21, 64.4, 0.0476),
        (WEEKS[5], 11, 122.7, 0.3636),
    ),
)


def _weekday_hour_rows() -> tuple[tuple[Value, ...], ...]:
    """Weekdays 07:00-19:00 busy and fast, nights thin and slow, Sunday night over 90 s."""
    rows: list[tuple[Value, ...]] = []
    for day in range(7):
        for hour in range(24):
            daytime = 7 <= hour < 19
            n = (6 if day < 5 else 2) if daytime else (1 if (day + hour) % 3 == 0 else 0)
            if n == 0:
                continue
            median = 24.0 + hour if daytime else 75.0 + 5 * day
            rows.append((day, hour, n, median))
    return tuple(rows)


WEEKDAY_HOUR = Table(
    "weekday_hour",
    "Weekday by hour (facility time)",
    (
        Column("weekday", "Weekday"),
        Column("hour", "Hour"),
        Column("sessions", "Sessions", "count"),
        Column("median_s", "Median join latency", "seconds"),
    ),
    _weekday_hour_rows(),
)

BY_FACILITY = Table(
    "facility",
    "By facility",
    (
        Column("facility", "Facility"),
        Column("sessions", "Sessions", "count"),
        Column("p90_s", "p90 join latency", "seconds"),
        Column("share_unmeasured", "Unmeasured", "share"),
    ),
    (
        ("Gulf Coast Imaging", 48, 88.1, 0.0417),
        ('=HYPERLINK("http://evil")', 28, 101.9, 0.1071),
    ),
)

CARDS = (
    Card("sessions", "Sessions", 76, 64, "count"),
    Card("p50_s", "Median join latency", 31.4, 35.9, "seconds", "lower"),
    Card("p90_s", "p90 join latency", 92.6, 80.0, "seconds", "lower"),
    Card("p95_s", "p95 join latency", 131.0, 131.0, "seconds", "lower"),
    Card("max_s", "Longest join latency", 412.0, None, "seconds", "lower"),
    Card("share_under_30", "Under 30 s", 0.3289, 0.25, "share", "higher"),
    Card("share_30_60", "30 to 60 s", 0.3421, 0.4063, "share"),
    Card("share_60_90", "60 to 90 s", 0.1184, 0.1406, "share"),
    Card("share_over_90", "Over 90 s", 0.1184, 0.125, "share", "lower"),
    Card("share_unmeasured", "Unmeasured (a failure)", 0.0921, 0.0781, "share", "lower"),
)

RESPONSE_TIME = Report(
    key="response_time",
    title="Response times",
    start=START,
    end=END,
    facilities=("Gulf Coast Imaging", "Bayou Open MRI"),
    cards=CARDS,
    tables=(BY_FACILITY, HISTOGRAM, WEEKLY, WEEKDAY_HOUR),
    notes=("2 sessions still open are left out.", "Weeks are Monday to Sunday, facility time."),
)

EMPTY = replace(
    RESPONSE_TIME,
    cards=tuple(replace(c, value=None if c.unit != "count" else 0) for c in CARDS),
    tables=tuple(replace(t, rows=()) for t in RESPONSE_TIME.tables),
    notes=(),
)

LOAD = Report(
    key="radiologist_load",
    title="Radiologist load",
    start=START,
    end=END,
    facilities=("Gulf Coast Imaging",),
    cards=(Card("pages", "Pages received", 310, 280, "count", None),),
    tables=(
        Table(
            "radiologists",
            "Per radiologist",
            (
                Column("radiologist", "Radiologist"),
                Column("pages", "Pages", "count"),
                Column("p95_s", "p95 page to join", "seconds"),
                Column("sleep", "Pages in their sleep hours", "count"),
            ),
            tuple((f"Doctor {i:03d}, MD", 10 + i, 40.0 + i / 2, i % 4) for i in range(120)),
        ),
    ),
)
