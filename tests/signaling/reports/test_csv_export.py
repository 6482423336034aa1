"""Every report table as CSV (issue 11 item 7): labels with units in the header, bare numbers
(shares as percentages), empty cells for no value, and nothing a spreadsheet would run."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from signaling.reports import csv_export
from signaling.reports.shape import Column, Table
from tests.signaling.reports import samples


def read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_a_table_round_trips_through_the_csv_module() -> None:
    """The weekly table: labels with units, ISO dates, seconds to the millisecond, shares as
    percentages, the week without sessions as empty cells."""
    assert read(csv_export.csv_text(samples.WEEKLY)) == [
        ["Week of (Monday)", "Sessions", "p90 join latency (s)", "Over 90 s or unmeasured (%)"],
        ["2026-02-23", "3", "48.500", "0.00"],
        ["2026-03-02", "22", "71.200", "9.09"],
        ["2026-03-09", "19", "95.000", "21.05"],
        ["2026-03-16", "0", "", ""],
        ["2026-03-23", "21", "64.400", "4.76"],
        ["2026-03-30", "11", "122.700", "36.36"],
    ]


def test_weekdays_are_names_and_an_open_bin_is_empty() -> None:
    """``weekday`` 6 is Sunday; the histogram's 180+ bin has no upper bound: an empty cell."""
    grid = read(csv_export.csv_text(samples.WEEKDAY_HOUR))
    assert grid[0] == ["Weekday", "Hour", "Sessions", "Median join latency (s)"]
    assert grid[1] == ["Monday", "0", "1", "75.000"]
    assert grid[-1] == ["Sunday", "21", "1", "105.000"]
    assert len(grid) == 1 + len(samples.WEEKDAY_HOUR.rows)
    bins = read(csv_export.csv_text(samples.HISTOGRAM))
    assert bins[0] == ["From (s)", "Up to (s)", "Sessions"]
    assert bins[-1] == ["180.000", "", "4"]


@pytest.mark.parametrize(
    "typed",
    ["=1+1", "+41 22", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1", "  =cmd|' /C calc'!A0"],
)
def test_a_cell_that_could_start_a_formula_is_neutralised(typed: str) -> None:
    """OWASP's list (= + - @ tab CR), also behind spaces: a leading ' makes it text; the
    value is otherwise kept, so the auditor still reads what was there."""
    table = Table(
        "t", "T", (Column("name", "Name"), Column("n", "Sessions", "count")), ((typed, 1),)
    )
    assert read(csv_export.csv_text(table))[1] == ["'" + typed, "1"]


def test_a_facility_named_like_a_formula_is_text_and_ordinary_text_is_untouched() -> None:
    """The sample facility ``=HYPERLINK(...)`` is neutralised; "Gulf Coast Imaging" is not; a
    negative number (written from a float, not text) stays a number."""
    rows = read(csv_export.csv_text(samples.BY_FACILITY))
    assert rows[0] == ["Facility", "Sessions", "p90 join latency (s)", "Unmeasured (%)"]
    assert rows[1] == ["Gulf Coast Imaging", "48", "88.100", "4.17"]
    assert rows[2] == ['\'=HYPERLINK("http://evil")', "28", "101.900", "10.71"]
    change = Table("c", "C", (Column("d", "Change", "seconds"),), ((-3.5,),))
    assert read(csv_export.csv_text(change))[1] == ["-3.500"]


def test_a_label_that_could_start_a_formula_is_neutralised_too() -> None:
    table = Table("t", "T", (Column("x", "-delta", "share"),), ((0.5,),))
    assert read(csv_export.csv_text(table)) == [["'-delta (%)"], ["50.00"]]


def test_commas_quotes_and_line_breaks_survive() -> None:
    """RFC 4180 quoting: a value with a comma, quotes and a line break reads back whole."""
    awkward = 'Diaz, Ray "Jr"\nMD'
    table = Table(
        "t", "T", (Column("who", "Radiologist"), Column("n", "Pages", "count")), ((awkward, 12),)
    )
    text = csv_export.csv_text(table)
    assert text.endswith("\r\n")
    assert read(text) == [["Radiologist", "Pages"], [awkward, "12"]]


def test_the_download_is_utf8_with_a_byte_order_mark() -> None:
    """Excel reads the en dash and accents right only with the BOM; the text is the same."""
    table = replace(samples.BY_FACILITY, rows=(("Clínica São José \u2013 Norte", 3, 40.0, 0.0),))
    data = csv_export.csv_bytes(table)
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig") == csv_export.csv_text(table)
    assert read(data.decode("utf-8-sig"))[1][0] == "Clínica São José \u2013 Norte"


def test_an_empty_table_is_its_header() -> None:
    empty = replace(samples.WEEKLY, rows=())
    assert read(csv_export.csv_text(empty)) == [
        ["Week of (Monday)", "Sessions", "p90 join latency (s)", "Over 90 s or unmeasured (%)"]
    ]


def test_the_file_name_says_the_report_table_and_local_days() -> None:
    """March in Chicago ends at 05:00 UTC on 1 April: its last local day is 31 March; in UTC the
    same period runs into 1 April."""
    chicago = ZoneInfo("America/Chicago")
    name = csv_export.filename(samples.RESPONSE_TIME, samples.HISTOGRAM, chicago)
    assert name == "response-time-histogram-2026-03-01-to-2026-03-31.csv"
    assert (
        csv_export.filename(samples.RESPONSE_TIME, samples.WEEKDAY_HOUR)
        == "response-time-weekday-hour-2026-03-01-to-2026-04-01.csv"
    )
    odd = replace(samples.HISTOGRAM, key="by/../room name")
    assert csv_export.filename(samples.RESPONSE_TIME, odd, chicago) == (
        "response-time-by----room-name-2026-03-01-to-2026-03-31.csv"
    )
