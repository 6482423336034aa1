"""The printed operational review (issue 11 item 7): a Letter PDF an auditor accepts, with the
cards' figures and their change in words, the charts as vector drawings, long tables under a
repeated header, local dates, page N of M and what the figures mean on every page; no raw keys."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import cv2
import pytest

from signaling.reports import review, words
from signaling.reports.shape import Card, Report
from tests.signaling.reports import samples

BY = "Dana Quality, RN"


def render(reports: tuple[Report, ...], path: Path) -> Path:
    path.write_bytes(
        review.pdf(reports, zone="America/Chicago", generated_at=samples.NOW, generated_by=BY)
    )
    return path


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Response times then radiologist load, rendered once for the module (a few seconds)."""
    return render(
        (samples.RESPONSE_TIME, samples.LOAD), tmp_path_factory.mktemp("review") / "r.pdf"
    )


def pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    assert "612 x 792 pts (letter)" in info.stdout
    match = re.search(r"^Pages:\s+(\d+)$", info.stdout, re.M)
    assert match, info.stdout
    return int(match[1])


def page_text(path: Path, page: int | None = None, *, layout: bool = False) -> str:
    """pdftotext's words, spaces collapsed: in reading order (a card's lines join up), or with
    ``layout`` as laid out (a table's row is one line)."""
    span = [] if page is None else ["-f", str(page), "-l", str(page)]
    mode = ["-layout"] if layout else []
    out = subprocess.run(
        ["pdftotext", *mode, *span, str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return re.sub(r"\s+", " ", out)


def test_the_review_has_the_pages_its_content_needs(full: Path) -> None:
    """Response times fill three pages (cards, histogram and trend; grids and short tables; the
    weekly table, two weekday-by-hour grids and the notes); radiologist load starts on page 4 and
    its 120 rows under a repeated header take three more pages (about 55 rows a page)."""
    assert pages(full) == 6
    assert page_text(full, 1).startswith("Operational review · Gulf Coast Imaging, Bayou Open MRI")
    fourth = page_text(full, 4)
    assert "Radiologist load" in fourth
    assert "Doctor 000, MD" in fourth
    for page in (5, 6):
        text = page_text(full, page, layout=True)
        assert "Radiologist Pages p95 page to join Pages in their sleep hours" in text
    assert "Doctor 119, MD 129 99.5 s 3" in page_text(full, 6, layout=True)


def test_every_page_is_numbered_and_says_what_the_figures_mean(full: Path) -> None:
    for page in range(1, 7):
        text = page_text(full, page)
        assert f"page {page} of 6" in text
        assert "Under 30 s is best in class; over 90 s is a risk." in text
        assert "unmeasured and counts as a failure, never as missing data" in text


def test_the_cards_print_their_figures_and_the_change_in_words(full: Path) -> None:
    """Each card's figure with its unit, the change with an arrow against the previous period,
    and whether that is better or worse (a lower p90 is better; this one rose)."""
    first = page_text(full, 1)
    for figure in ("76", "31.4 s", "92.6 s", "131.0 s", "412.0 s", "32.9%", "34.2%", "9.2%"):
        assert f" {figure} " in first
    assert "▲ 12 more than the previous period's 64" in first
    assert "▼ 4.5 s shorter than the previous period's 35.9 s: better" in first
    assert "▲ 12.6 s longer than the previous period's 80.0 s: WORSE" in first
    assert "= no change from the previous period's 131.0 s" in first
    assert "no figure for the previous period" in first
    assert "▲ 7.9 points higher than the previous period's 25.0%: better" in first
    assert "▲ 1.4 points higher than the previous period's 7.8%: WORSE" in first


def test_dates_are_local_and_the_period_is_named(full: Path) -> None:
    """March 2026 in Chicago (across the change to daylight time on 8 March); generated 14:30 UTC
    is 09:30 CDT; the previous period of the same length is said too."""
    first = page_text(full, 1)
    assert "Period Sunday 1 March 2026 to Tuesday 31 March 2026" in first or (
        "Sunday 1 March 2026 to Tuesday 31 March 2026" in first
    )
    assert "Thursday 2 April 2026 at 09:30 CDT (14:30 UTC) by Dana Quality, RN" in first
    assert (
        "compared with the previous period of the same length, Thursday 29 January 2026 01:00"
        in first
    )
    assert "America/Chicago" in first


def test_the_charts_are_in_the_pdf_as_drawings_with_their_text(full: Path) -> None:
    """The SVG's text stays text in the PDF: the benchmark labels and the grid's weekdays read."""
    text = page_text(full)
    assert "30 s: best in class" in text
    assert "90 s: a risk beyond" in text
    assert "p90 join latency" in text
    assert "share over 90 s or unmeasured" in text
    assert "sessions per hour" in text
    assert "median join latency" in text


def test_tables_print_labels_units_and_words_never_keys(full: Path) -> None:
    """Units on every number, weekdays by name, dates in words, the open bin in words, no value
    as a dash; no report, table or column key anywhere."""
    text = page_text(full, layout=True)
    assert "2 Mar 2026 22 71.2 s 9.1%" in text
    assert f"16 Mar 2026 0 {words.NONE} {words.NONE}" in text
    assert "180 s and over 4" in text
    assert (
        "Weekday by hour (facility time): Median join latency, seconds (bold: 90 s or more)" in text
    )
    assert "Gulf Coast Imaging 48 88.1 s 4.2%" in text
    for key in (
        "response_time",
        "radiologist_load",
        "p90_s",
        "share_over_90",
        "lo_s",
        "weekday_hour",
    ):
        assert key not in text


def test_every_page_renders_with_ink(full: Path, tmp_path: Path) -> None:
    """pdftoppm at 60 dpi: six Letter pages of 510 x 660 pixels, none blank."""
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(full), str(tmp_path / "p")], check=True)
    shots = sorted(tmp_path.glob("p-*.png"))
    assert len(shots) == 6
    for shot in shots:
        picture = cv2.imread(str(shot), cv2.IMREAD_GRAYSCALE)
        assert picture is not None
        assert picture.shape == (660, 510)
        assert (picture < 128).mean() > 0.005


def test_a_review_of_an_empty_period_is_one_page_that_says_so(tmp_path: Path) -> None:
    """No sessions: one page; every chart says so, every table has its header and says so."""
    path = render((samples.EMPTY,), tmp_path / "empty.pdf")
    assert pages(path) == 1
    text = page_text(path)
    assert text.count("no sessions in this period") == 3
    assert text.count("no rows in this period") == 4
    assert "▼ 64 fewer than the previous period's 64" in text
    assert "none this period; the previous period's was 35.9 s" in text
    assert "page 1 of 1" in text


def test_the_html_embeds_the_charts_escapes_names_and_fetches_nothing() -> None:
    """Three inline SVGs, a facility name with markup escaped, no script, no link, no image."""
    hostile = replace(samples.RESPONSE_TIME, facilities=("<script>alert(1)</script>",))
    document = review.html(
        [hostile], zone="America/Chicago", generated_at=samples.NOW, generated_by=BY
    )
    assert document.count("<svg ") == 3
    assert "<script>" not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert not re.search(r"<(img|link|script)\b|\bsrc=|\bhref=\"http", document)


def test_an_unknown_time_zone_prints_utc_and_says_so() -> None:
    document = review.html(
        [samples.LOAD], zone="Mars/Olympus", generated_at=samples.NOW, generated_by=BY
    )
    assert "UTC (time zone &#39;Mars/Olympus&#39; unknown)" in document
    assert "Sunday 1 March 2026 06:00 to Wednesday 1 April 2026 05:00" in document


def test_a_review_needs_a_report() -> None:
    with pytest.raises(ValueError, match="at least one report"):
        review.html([], zone="UTC", generated_at=samples.NOW, generated_by=BY)


@pytest.mark.parametrize(
    ("card", "arrow", "said", "verdict"),
    [
        (Card("p90", "p90", 92.6, 80.0, "seconds", "lower"), "▲", "12.6 s longer than the previous period's 80.0 s", "worse"),
        (Card("u", "Under 30 s", 0.3289, 0.25, "share", "higher"), "▲", "7.9 points higher than the previous period's 25.0%", "better"),
        (Card("o", "Over 90 s", 0.1184, 0.125, "share", "lower"), "▼", "0.7 points lower than the previous period's 12.5%", "better"),
        (Card("n", "Sessions", 63, 64, "count"), "▼", "1 fewer than the previous period's 64", ""),
        (Card("r", "Rate", 1.5, 1.25, "per_1000", "lower"), "▲", "0.25 per 1,000 higher than the previous period's 1.25 per 1,000", "worse"),
        (Card("s", "Share", 0.12341, 0.12339, "share", "lower"), "=", "no change from the previous period's 12.3%", ""),
        (Card("m", "Longest", 700.0, 100.0, "seconds", "lower"), "▲", "10 min 00 s longer than the previous period's 100.0 s", "worse"),
    ],
)  # fmt: skip
def test_a_change_is_said_with_its_unit_and_judged(
    card: Card, arrow: str, said: str, verdict: str
) -> None:
    """Shares move in points, seconds in seconds, counts in more or fewer; a change that prints as
    zero is no change; better or worse follows the card's direction."""
    change = words.change(card)
    assert (change.arrow, change.words, change.verdict) == (arrow, said, verdict)
