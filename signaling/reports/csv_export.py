"""Any report table as CSV an auditor's spreadsheet opens as it is (issue 11 item 7).

Choices, and why:
- The header row holds the columns' **labels with their unit** (``p90 join latency (s)``,
  ``Over 90 s (%)``), not their keys: the file is read by people in a spreadsheet, the cells are
  bare numbers so it can compute with them, and the header is then the only place the unit can
  be. Machines read the same figures by key from the JSON API.
- **Shares are percentages** (0..100, two decimals) everywhere, matching the printed review, so
  a cell and the printout never differ by a factor of 100; seconds have three decimals (the
  millisecond the record measures), rates per 1,000 three.
- A missing value is an empty cell. A weekday is its name; an ISO date stays ``2026-03-02``,
  which every spreadsheet reads as a date.
- **No formula injection** (OWASP, CSV Injection): a text cell, or a label, whose first
  non-blank character is ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
  ``'`` so a spreadsheet shows it as text instead of running it. Numbers are written by this
  module from ints and floats, never from text, so a negative number stays a number.
- RFC 4180: comma, double quotes where needed, CRLF line ends. ``csv_bytes`` is UTF-8 with a
  byte-order mark, without which Excel reads any letter outside ASCII as mojibake.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, timedelta, tzinfo

from signaling.reports.shape import Column, Report, Table, Unit, Value
from signaling.reports.words import WEEKDAYS

_UNIT_IN_HEADER: dict[Unit, str] = {
    "count": "",
    "seconds": " (s)",
    "share": " (%)",
    "per_1000": " (per 1,000)",
    "text": "",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralised(text: str) -> str:
    """``text`` made safe to open in a spreadsheet: a leading ``'`` if it could start a formula."""
    return "'" + text if text.lstrip(" ").startswith(_FORMULA_START) else text


def header(column: Column) -> str:
    return neutralised(f"{column.label}{_UNIT_IN_HEADER[column.unit]}")


def value(item: Value, column: Column) -> str:
    """One cell (see the module's docstring)."""
    if item is None:
        return ""
    if isinstance(item, str):
        return neutralised(item)
    if column.key == "weekday" and isinstance(item, int) and 0 <= item < 7:
        return WEEKDAYS[item]
    if column.unit == "share":
        return f"{float(item) * 100:.2f}"
    if column.unit in ("seconds", "per_1000"):
        return f"{float(item):.3f}"
    if isinstance(item, int) or float(item).is_integer():
        return str(int(item))
    return repr(float(item))


def csv_text(table: Table) -> str:
    """``table`` as CSV text: the header row, then one row per table row."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header(c) for c in table.columns)
    for row in table.rows:
        writer.writerow(value(v, c) for v, c in zip(row, table.columns, strict=True))
    return out.getvalue()


def csv_bytes(table: Table) -> bytes:
    """``csv_text`` as a download: UTF-8 with a byte-order mark."""
    return csv_text(table).encode("utf-8-sig")


def filename(report: Report, table: Table, zone: tzinfo = UTC) -> str:
    """``response-time-histogram-2026-03-01-to-2026-03-31.csv``: the report, the table and the
    days covered (in ``zone``); nothing about a patient, nothing a person typed."""
    first = report.start.astimezone(zone).date()
    last = (report.end - timedelta(microseconds=1)).astimezone(zone).date()
    name = f"{report.key}-{table.key}".replace("_", "-")
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch == "-") else "-" for ch in name)
    return f"{safe}-{first.isoformat()}-to-{last.isoformat()}.csv"
