"""The response-time charts (issue 11 item 7): SVG that parses, says what it shows in its title and
description, draws the 30 s and 90 s lines where 30 s and 90 s are, one bar per non-empty bin,
stays text and small, and is the same picture whichever thread draws it."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from signaling.common.errors import NotFound
from signaling.reports import charts, drawing
from tests.signaling.reports import samples

SVG = "{http://www.w3.org/2000/svg}"


def parse(document: str) -> ET.Element:
    return ET.fromstring(document)  # noqa: S314 (our own output, not untrusted input)


def by_id(root: ET.Element, suffix: str) -> list[ET.Element]:
    """Elements whose id ends with ``suffix`` (ids carry the chart's prefix)."""
    return [e for e in root.iter() if e.get("id", "").endswith(suffix)]


def texts(root: ET.Element) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter(f"{SVG}text")]


def fill(group: ET.Element) -> str:
    path = group.find(f"{SVG}path")
    assert path is not None
    return path.get("fill", "")


def left_x(path: ET.Element) -> float:
    """The smallest x of a path's ``d`` (``M x y L x y ...``)."""
    d = path.get("d") or ""
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
    return min(numbers[0::2])


def test_the_histogram_has_one_bar_per_non_empty_bin_coloured_by_band() -> None:
    """16 of the 19 bins hold sessions: 16 bars, ids by their lower edge, green under 30 s,
    vermillion from 90 s, the 180+ bin among them."""
    root = parse(charts.histogram(samples.HISTOGRAM))
    assert root.tag == f"{SVG}svg"
    bars = [e for e in root.iter() if re.search(r"-bar-\d+$", e.get("id", ""))]
    expected = [i * 10 for i, n in enumerate(samples.HISTOGRAM_COUNTS) if n > 0]
    assert len(expected) == 16
    assert [int(b.get("id", "").rsplit("-", 1)[1]) for b in bars] == expected
    fills = {int(b.get("id", "").rsplit("-", 1)[1]): fill(b) for b in bars}
    assert fills[0] == fills[20] == drawing.UNDER_30.lower()
    assert fills[30] == fills[50] == drawing.S30_60.lower()
    assert fills[60] == fills[80] == drawing.S60_90.lower()
    assert fills[90] == fills[180] == drawing.OVER_90.lower()


def test_the_histogram_draws_the_30_s_and_90_s_lines_where_those_bins_start() -> None:
    """Each benchmark line is a labelled dashed line at the left edge of the bar from 30 s and
    from 90 s: the lines are on the data's scale, not placed by eye."""
    root = parse(charts.histogram(samples.HISTOGRAM))
    for seconds, words in ((30, "30 s: best in class"), (90, "90 s: a risk beyond")):
        (line,) = by_id(root, f"-line-{seconds}s")
        (label,) = by_id(root, f"-label-{seconds}s")
        assert "".join(label.itertext()) == words
        (bar,) = by_id(root, f"-bar-{seconds}")
        line_path = line.find(f".//{SVG}path")
        bar_path = bar.find(f"{SVG}path")
        assert line_path is not None
        assert bar_path is not None
        assert line_path.get("stroke-dasharray")
        assert left_x(line_path) == pytest.approx(left_x(bar_path), abs=0.15)
    assert "180+" in texts(root)


def test_a_chart_says_in_words_what_it_shows() -> None:
    """The title and description come first and label the picture; the histogram's description
    counts 70 measured sessions: 25 under 30 s, 32 from 30 to 90 s, 13 at 90 s or more."""
    document = charts.histogram(samples.HISTOGRAM)
    root = parse(document)
    title, desc = list(root)[:2]
    assert title.tag == f"{SVG}title"
    assert desc.tag == f"{SVG}desc"
    assert title.text == "Join latency: measured sessions by seconds from request to join"
    assert desc.text is not None
    assert "70 measured sessions" in desc.text
    assert "25 under 30 s, 32 from 30 to 90 s, 13 at 90 s or more" in desc.text
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"


def test_the_weekly_trend_has_both_lines_and_names_the_worst_week() -> None:
    """p90 against the 30 s and 90 s lines, the share over 90 s below; the week without sessions
    is marked, and the description names the highest p90 (122.7 s, the week of 30 Mar)."""
    root = parse(charts.weekly(samples.WEEKLY))
    assert len(by_id(root, "-line-30s")) == len(by_id(root, "-line-90s")) == 1
    words = texts(root)
    assert {"30 s", "90 s", "no sessions", "2 Mar", "30 Mar"} <= set(words)
    assert "share over 90 s or unmeasured" in words
    desc = root.find(f"{SVG}desc")
    assert desc is not None
    assert desc.text is not None
    assert "6 weeks from 23 Feb to 30 Mar" in desc.text
    assert "The highest p90 was 122.7 s, the week of 30 Mar." in desc.text


def test_the_weekday_by_hour_grid_counts_sessions_and_finds_the_slow_hours() -> None:
    """436 sessions (360 on weekdays by day, 48 at weekends by day, 4 a night every day), at most
    6 in an hour; the slowest is Sunday 21:00 at 105 s, and 16 of 112 hours are at 90 s or more."""
    root = parse(charts.weekday_hour(samples.WEEKDAY_HOUR))
    words = texts(root)
    assert [w for w in words if w in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")] == [
        "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
        "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
    ]  # fmt: skip
    assert {"sessions per hour", "median join latency", "90 s or more", "most (6)"} <= set(words)
    desc = root.find(f"{SVG}desc")
    assert desc is not None
    assert desc.text is not None
    assert "436 sessions in all, at most 6 in one hour" in desc.text
    assert "The slowest hour was Sunday 21:00 with a median of 105.0 s" in desc.text
    assert "16 of 112 hours with sessions had a median at 90 s or more" in desc.text


@pytest.mark.parametrize(
    ("draw", "table"),
    [
        (charts.histogram, samples.HISTOGRAM),
        (charts.weekly, samples.WEEKLY),
        (charts.weekday_hour, samples.WEEKDAY_HOUR),
    ],
)
def test_an_empty_table_gives_a_chart_that_says_so(draw: object, table: object) -> None:
    """No rows: still a chart (title, description), saying there were no sessions."""
    assert callable(draw)
    document = draw(replace(table, rows=()))  # type: ignore[type-var]
    root = parse(document)
    assert "no sessions in this period" in texts(root)
    desc = root.find(f"{SVG}desc")
    assert desc is not None
    assert (desc.text or "").endswith("no sessions in this period.")
    assert len(document) < 2_000


def test_a_histogram_of_only_unmeasured_sessions_says_they_are_counted_elsewhere() -> None:
    """Bins all zero (every session ended without a join): no bar, and words that say why."""
    zeros = replace(
        samples.HISTOGRAM, rows=tuple((lo, hi, 0) for lo, hi, _ in samples.HISTOGRAM.rows)
    )
    root = parse(charts.histogram(zeros))
    assert not [e for e in root.iter() if "-bar-" in e.get("id", "")]
    assert any(t.startswith("no measured joins in this period") for t in texts(root))


def test_charts_keep_text_as_text_and_stay_small() -> None:
    """No embedded font or glyph outlines, no raster image, coordinates to 0.1 pt, each chart
    under 32 kB (measured: about 13, 19 and 29 kB)."""
    for document in (
        charts.histogram(samples.HISTOGRAM),
        charts.weekly(samples.WEEKLY),
        charts.weekday_hour(samples.WEEKDAY_HOUR),
    ):
        assert len(document.encode()) < 32_000
        assert "<image" not in document
        assert "@font-face" not in document
        assert "DejaVuSans-" not in document  # the ids glyph outlines would have
        assert "font-family=\"'DejaVu Sans', sans-serif\"" in document
        assert " style=" not in document
        assert "<style" not in document
        assert not re.search(r"\d\.\d{2,}", document.split("</desc>", 1)[1])
        assert not document.startswith("<?xml")  # it may sit inside HTML


def test_charts_on_one_page_never_share_an_id() -> None:
    """The review and the page put several charts in one document: every id is unique."""
    ids: list[str] = []
    for document in (
        charts.histogram(samples.HISTOGRAM),
        charts.weekly(samples.WEEKLY),
        charts.weekday_hour(samples.WEEKDAY_HOUR),
        charts.histogram(replace(samples.HISTOGRAM, rows=())),
    ):
        ids += [e.get("id", "") for e in parse(document).iter() if e.get("id")]
    assert len(ids) == len(set(ids)) > 40


def test_threads_draw_the_same_charts_as_one_thread() -> None:
    """Eight charts drawn at once in four threads are byte for byte the ones drawn one by one:
    no shared figure, and the same table always gives the same SVG."""
    work = [
        (charts.histogram, samples.HISTOGRAM),
        (charts.weekly, samples.WEEKLY),
        (charts.weekday_hour, samples.WEEKDAY_HOUR),
        (charts.histogram, samples.HISTOGRAM),
    ] * 2
    alone = [draw(table) for draw, table in work]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda job: job[0](job[1]), work))
    assert together == alone


def test_a_report_names_its_charts_and_refuses_others() -> None:
    """The response-time report has three charts; another report none; an unknown name is
    NotFound naming the ones there are."""
    assert [c.name for c in charts.charts_of(samples.RESPONSE_TIME)] == [
        "histogram",
        "weekly",
        "weekday_hour",
    ]
    assert charts.charts_of(samples.LOAD) == ()
    assert charts.draw(samples.RESPONSE_TIME, "weekly") == charts.weekly(samples.WEEKLY)
    with pytest.raises(NotFound, match="no chart 'pie' \\(its charts: histogram, weekly"):
        charts.draw(samples.RESPONSE_TIME, "pie")
    with pytest.raises(NotFound, match="its charts: none"):
        charts.draw(samples.LOAD, "histogram")


def test_importing_the_charts_does_not_load_matplotlib() -> None:
    """matplotlib loads on the first chart, not when the app imports the reports."""
    probe = "import sys, signaling.reports.charts, signaling.reports.review; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
