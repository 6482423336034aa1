"""The printable supervision record (issue 10 item 6): the HTML says the session in words, names
not ids, escapes what people typed, needs nothing from outside and prints on one page; the PDF is
one page that renders; the JSON carries the same content for machines."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import cv2
import pytest

from signaling.record import printout
from signaling.record.timeline import Clock
from signaling.record.view import Amendment, LinkGap, PageLine, RecordView
from signaling.record.words import JoinVerdict, join_verdict
from tests.signaling.record.records import (
    DIAZ,
    UNVERIFIED_LINK,
    at,
    cancelled,
    exam,
    full,
    reaction,
    unverified,
)

SCRIPT = "<script>alert('x')</script>"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = False

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._skip = tag in ("style", "title")

    def handle_endtag(self, tag: str) -> None:
        self._skip = False
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def text(view: RecordView) -> str:
    """What a reader sees: the HTML's text, entities decoded, spaces collapsed."""
    parser = _Text()
    parser.feed(printout.html(view))
    return re.sub(r"\s+", " ", "".join(parser.parts))


def test_the_record_names_the_place_the_people_and_the_license() -> None:
    """Facility with state, room, modality, session, accession; technologist and radiologist by
    name and credentials; the license in the facility's state with its number and expiry."""
    words = text(full())
    for expected in (
        "Facility North Imaging Center (TX)",
        "Room CT 2",
        "Modality CT",
        "Session 7f3a9c2e41d8",
        "Accession number A240113",
        "Technologist Sam Ortiz, RT(R)(CT)",
        "Supervising radiologist Ray Diaz, MD; TX license Q48211, expires 2027-08-31",
        "Monday 2 March 2026",
        "America/Chicago, UTC beside",
    ):
        assert expected in words


def test_the_content_comes_in_the_agreed_order() -> None:
    """Header, people, timeline, exam and injection, reaction, checklist, amendments, the record."""
    words = text(full())
    order = [
        "North Imaging Center",
        "CT 2",
        "A240113",
        "Sam Ortiz",
        "TX license Q48211",
        "Timeline",
        "Exam and injection",
        "Reaction 1 ·",
        "Treatments",
        "Vital signs",
        "Pre-injection checklist",
        "Amendments",
        "Coverage",
        "Completeness",
        "Chain",
    ]
    positions = [words.index(item) for item in order]
    assert positions == sorted(positions)


def test_every_timestamp_is_local_with_utc_beside_it() -> None:
    """Requested at 15:14:05.120 UTC reads 09:14:05 in Chicago with the UTC time beside it; each
    page names the person, channel, tier and outcome."""
    words = text(full())
    assert "09:14:05 15:14:05.120 Supervision requested Sam Ortiz" in words
    assert "09:14:06 15:14:06.020 Paged Ray Diaz SMS, tier 1: delivered" in words
    assert "09:14:15 15:14:15.420 Paged Priya Patel in app, tier 2: delivered" in words
    assert "09:14:19 15:14:19.320 Accepted Ray Diaz, MD" in words
    assert "09:14:29 15:14:29.920 Joined: two-way audio and video verified" in words
    assert "09:49:05 15:49:05.120 Ended Ray Diaz, MD" in words


def test_a_time_on_another_day_carries_its_date() -> None:
    """A session requested late in the evening: times after local midnight show their date, and
    UTC times after UTC midnight theirs; a time in another year shows the year too."""
    evening = datetime(2026, 3, 3, 5, 55, tzinfo=UTC)  # 23:55 on 2 March in Chicago
    clock = Clock.of(replace(full(), requested_at=evening))
    later = datetime(2026, 3, 3, 6, 5, 1, 250_000, tzinfo=UTC)
    assert clock.local(evening) == "23:55:00"
    assert clock.local(later) == "03 Mar 00:05:01"
    assert clock.utc(later) == "06:05:01.250"
    assert clock.both(later) == "03 Mar 00:05:01 (06:05:01.250 UTC)"
    assert clock.local(datetime(2025, 12, 31, 12, tzinfo=UTC)) == "31 Dec 2025 06:00:00"


@pytest.mark.parametrize(
    ("latency_ms", "verdict", "words"),
    [
        (24_680, JoinVerdict.BEST_IN_CLASS, "join latency 24.7 s: best in class"),
        (29_999, JoinVerdict.BEST_IN_CLASS, "join latency 30.0 s: best in class"),
        (30_000, JoinVerdict.WITHIN_90_S, "join latency 30.0 s: within 90 s"),
        (90_000, JoinVerdict.WITHIN_90_S, "join latency 1 min 30 s: within 90 s"),
        (90_001, JoinVerdict.OVER_90_S, "join latency 1 min 30 s: over 90 s: a risk"),
        (None, JoinVerdict.NOT_MEASURED, "join latency not measured: a failure"),
    ],
)
def test_join_latency_is_judged_against_the_benchmarks_in_words(
    latency_ms: int | None, verdict: JoinVerdict, words: str
) -> None:
    """Under 30 s best in class, up to 90 s within 90 s, over 90 s a risk, none a failure."""
    assert join_verdict(latency_ms) is verdict
    assert words in text(full(join_latency_ms=latency_ms))


def test_each_link_gap_has_its_cause_and_duration() -> None:
    """The gap reads in words with how long it lasted and until when; an open one says so."""
    assert "Link gap: radiologist: video stopped 7.5 s, until 09:22:47" in text(full())
    still_open = LinkGap(at(2000), None, "technologist:audio_silent, radiologist:high_loss", 100)
    words = text(full(link_gaps=(still_open,)))
    assert (
        "Link gap: technologist: microphone silent; radiologist: packet loss "
        "1 min 40 s, still open when the session ended"
    ) in words


def test_an_injection_under_verified_supervision_says_so() -> None:
    """The injection's time, who injected, and that the link was verified two-way live."""
    words = text(full())
    assert (
        "Injection 09:19:11 (15:19:11.120 UTC) by Sam Ortiz, RT(R)(CT): "
        "under verified two-way supervision"
    ) in words
    assert "not under verified" not in words


def test_an_injection_without_verified_supervision_says_why_in_the_record_s_words() -> None:
    """The link was lost at the injection: the record says not under verified two-way
    supervision, and why, in the timeline and in the exam section."""
    words = text(unverified())
    expected = f"not under verified two-way supervision: {UNVERIFIED_LINK}"
    assert words.count(expected) == 2
    assert "Link gap: radiologist: nothing arrives 47.0 s" in words


def test_the_reaction_reads_in_full() -> None:
    """Onset, type and severity, signs by label, treatments, vitals with times, outcome,
    instructions, allergy update, recommendation, premedication, handoff, time to first action."""
    words = text(full())
    for expected in (
        "Reaction 1 · moderate, allergic-like",
        "Onset 09:24:10 (15:24:10.120 UTC), reported by Sam Ortiz",
        "Signs Hives, diffuse, Facial swelling",
        "acknowledged by Ray Diaz, MD at 09:24:52: 42.0 s after onset",
        "Escalation none",
        "Outcome resolved on site",
        "Premedicated no",
        "Allergy list updated with the specific agent",
        "Next time switch to another agent",
        "Instructions Return to the ED for any throat tightness",
        "Handoff Told Dr Hale (referrer) by phone",
        "09:26:00 diphenhydramine 50 mg IV Lee Park, RN",
        "09:25:05 128/82 96 18 97 Lee Park",
        "Agent Omnipaque 350 (iohexol, 350 mgI/mL; iodinated)",
        "Volume 100.0 mL at 3.0 mL/s",
    ):
        assert expected in words
    assert "breakthrough" not in words.lower()


def test_a_reaction_despite_premedication_is_flagged_breakthrough() -> None:
    """Premedicated and still reacting: the heading and the premedication line say breakthrough."""
    words = text(full(reactions=(reaction(premedicated=True),)))
    assert "breakthrough (despite premedication)" in words
    assert "Premedicated yes: breakthrough reaction" in words


def test_the_checklist_says_who_confirmed_each_item_and_when() -> None:
    """Each item with yes, the person and the local time; an item left open before an injection
    says NOT CONFIRMED."""
    words = text(full())
    assert "Consent obtained yes Sam Ortiz, RT(R)(CT) 09:18:06" in words
    assert text(cancelled()).count("not confirmed") == 5  # no injection: not an alarm
    items = full().checklist
    one_open = full(checklist=(*items[:-1], replace(items[-1], confirmed=False, by=None, at=None)))
    assert "Emergency kit and the facility's reaction card at hand NOT CONFIRMED" in text(one_open)


def test_an_amendment_keeps_the_original_readable() -> None:
    """Author, time, what it corrects, reason, and the value as it stood beside the amended one."""
    words = text(full())
    assert (
        "09:39:05 Ray Diaz, MD reaction 1 (entry 31) severity mild moderate "
        "Facial swelling seen on review of the video"
    ) in words


def test_an_amendment_of_several_fields_lists_each_with_its_original() -> None:
    """Fields amended at once, as the entries store them (times and enums as text): each original
    beside its correction in words, an empty one as such."""
    amendment = Amendment(
        41,
        at(1600),
        DIAZ,
        "Onset was earlier; no handoff then",
        31,
        {
            "onset_at": ("2026-03-02T15:24:10.120Z", "2026-03-02T15:23:55.120+00:00"),
            "type": ("physiologic", "allergic_like"),
            "manifestations": (["hives_limited"], ["hives_diffuse", "wheeze", "old_key"]),
            "handoff": (None, "Told the referrer"),
        },
    )
    view = full(amendments=(amendment,))
    words = text(view)
    assert "onset time 09:24:10 (15:24:10.120 UTC) 09:23:55 (15:23:55.120 UTC)" in words
    assert "type physiologic allergic-like" in words
    assert "manifestations Hives, limited Hives, diffuse, Wheeze, old key" in words
    assert "handoff (empty) Told the referrer" in words
    amendments = printout.as_json(view)["amendments"]
    assert isinstance(amendments, list)
    assert amendments[0]["changes"]["onset_at"] == {
        "before": "2026-03-02T15:24:10.120Z",
        "after": "2026-03-02T15:23:55.120Z",
    }
    assert amendments[0]["changes"]["type"] == {"before": "physiologic", "after": "allergic_like"}


def test_coverage_completeness_and_chain_close_the_record() -> None:
    """Seconds verified live and the share; the score with what is missing; the digest."""
    words = text(full(exam=exam(iv_site=None)))
    assert "verified two-way live 34 min 28 s of 34 min 35 s (99.6%)" in words
    assert "1 gap totalling 7.5 s" in words
    assert "95% complete (21 of 22 required fields); missing: IV site" in words
    assert "41 entries sealed; last digest sha-256 9f2c" in words
    assert "not sealed yet" not in words


def test_a_cancelled_session_says_so_with_the_reason_and_who_cancelled() -> None:
    """No radiologist: none joined, the benchmark's failure, the reason and note, entries to seal."""
    words = text(cancelled())
    assert (
        'Cancelled: no coverage ("Nobody answered; patient rebooked for tomorrow 8:00") '
        "by Sam Ortiz, RT(R)(CT) at 09:16:10 (15:16:10.120 UTC)"
    ) in words
    assert "Supervising radiologist none joined" in words
    assert "join latency not measured: a failure" in words
    assert "Paged Ray Diaz voice call, tier 1: voicemail" in words
    skipped = PageLine(at(0.3), "Dr Old License", "-", "skipped", 1)
    assert "Paged Dr Old License tier 1: skipped" in text(replace(cancelled(), pages=(skipped,)))
    assert "not measured: the link was never verified two-way live" in words
    assert "no injection recorded" in words
    assert "6 entries sealed; last digest sha-256 9f2c" in words
    assert "2 entries not sealed yet" in words


def test_what_people_typed_is_escaped() -> None:
    """A script in a note, a reason, a name and an amended value comes out as text, never as
    markup."""
    view = full(
        cancel_note=SCRIPT,
        outcome="cancelled",
        room=SCRIPT,
        reactions=(reaction(notes=(SCRIPT,), handoff=SCRIPT),),
        pages=(PageLine(at(1), SCRIPT, "sms", "delivered", 1),),
        amendments=(Amendment(40, at(1500), DIAZ, SCRIPT, 31, {"handoff": (SCRIPT, "ok")}),),
    )
    page = printout.html(view)
    assert "<script" not in page
    assert page.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") == 7
    assert text(view).count(SCRIPT) == 7


def test_the_html_needs_nothing_from_outside() -> None:
    """No script, stylesheet link, image, frame or url(): the one document is everything."""
    page = printout.html(full())
    assert not re.search(r"<script|<link|<img|<iframe|src=|href=|url\(|@import", page, re.I)
    assert "@page" in page


def test_the_json_carries_the_same_content_for_machines() -> None:
    """Names not ids, ISO-8601 UTC times, enums as values, the amendment's before and after."""
    record = printout.as_json(full())
    json.dumps(record)  # takes it as it is

    def keys(item: object) -> set[str]:
        if isinstance(item, dict):
            return set(item) | {k for v in item.values() for k in keys(v)}
        if isinstance(item, list):
            return {k for v in item for k in keys(v)}
        return set()

    assert "id" not in keys(record)
    assert record["technologist"] == {"name": "Sam Ortiz", "credentials": "RT(R)(CT)"}
    radiologist = record["radiologist"]
    assert isinstance(radiologist, dict)
    assert radiologist["license"] == {"state": "TX", "number": "Q48211", "expires_on": "2027-08-31"}
    assert record["requested_at"] == "2026-03-02T15:14:05.120Z"
    assert record["join_verdict"] == "best_in_class"
    reactions = record["reactions"]
    assert isinstance(reactions, list)
    first = reactions[0]
    assert first["type"] == "allergic_like"
    assert first["severity"] == "moderate"
    assert first["outcome"] == "resolved_on_site"
    assert first["manifestations"][0] == {"code": "hives_diffuse", "label": "Hives, diffuse"}
    assert first["treatments"][0]["at"] == "2026-03-02T15:26:00.120Z"
    assert first["onset_to_action_s"] == 42.0
    amendments = record["amendments"]
    assert isinstance(amendments, list)
    assert amendments[0]["changes"] == {"severity": {"before": "mild", "after": "moderate"}}
    assert amendments[0]["by"] == {"name": "Ray Diaz", "credentials": "MD"}
    coverage = record["coverage"]
    assert isinstance(coverage, dict)
    assert coverage["share"] == pytest.approx(2067.7 / 2075.2)
    assert record["completeness"] == {
        "score": 1.0,
        "required": list(full().completeness.required),
        "missing": [],
        "missing_words": [],
    }
    assert record["chain"] == {"length": 41, "head": full().chain_head, "unsealed": 0}
    assert printout.as_json(cancelled())["cancellation"] == {
        "reason": "no_coverage",
        "note": "Nobody answered; patient rebooked for tomorrow 8:00",
        "by": {"name": "Sam Ortiz", "credentials": "RT(R)(CT)"},
        "at": "2026-03-02T15:16:10.120Z",
    }


def _pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    match = re.search(r"^Pages:\s+(\d+)$", info.stdout, re.M)
    assert match, info.stdout
    return int(match[1])


@pytest.mark.parametrize("make", [full, cancelled, unverified])
def test_the_pdf_of_a_typical_record_is_one_page_that_renders(make: object, tmp_path: Path) -> None:
    """WeasyPrint gives a PDF of exactly one Letter page; pdftoppm renders it with text on it,
    and the text names the radiologist or says nobody joined."""
    assert callable(make)
    view = make()
    document = printout.pdf(view)
    assert document.startswith(b"%PDF-")
    path = tmp_path / "record.pdf"
    path.write_bytes(document)
    assert _pdf_pages(path) == 1
    size = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    assert "612 x 792 pts (letter)" in size.stdout
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(path), str(tmp_path / "page")], check=True)
    picture = cv2.imread(str(tmp_path / "page-1.png"), cv2.IMREAD_GRAYSCALE)
    assert picture is not None
    assert picture.shape == (660, 510)
    assert (picture < 128).mean() > 0.01  # ink, not a blank page
    words = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Supervision record" in words
    assert ("Ray Diaz, MD; TX license Q48211" in words) or ("none joined" in words)


def test_a_long_record_flows_onto_more_pages(tmp_path: Path) -> None:
    """Sixty pages and twenty gaps do not fit one page: the PDF grows, and the last page still
    closes the record with its chain."""
    pages = tuple(
        PageLine(at(i / 10), f"Doctor {i}", "sms", "failed", 1 + i // 20) for i in range(60)
    )
    gaps = tuple(
        LinkGap(at(400 + i * 20), at(405 + i * 20), "radiologist:low_fps", 5) for i in range(20)
    )
    path = tmp_path / "long.pdf"
    path.write_bytes(printout.pdf(full(pages=pages, link_gaps=gaps)))
    count = _pdf_pages(path)
    assert count >= 2
    last = subprocess.run(
        ["pdftotext", "-f", str(count), "-l", str(count), str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "41 entries sealed" in last
    assert f"page {count} of {count}" in last


def test_an_unknown_time_zone_prints_in_utc_and_says_so() -> None:
    """A facility whose zone the machine does not know: times in UTC, the header names why."""
    words = text(full(facility_timezone="Mars/Olympus"))
    assert "UTC (time zone 'Mars/Olympus' unknown), UTC beside" in words
    assert "15:14:05 15:14:05.120 Supervision requested" in words


def test_a_link_cause_already_in_words_is_kept_as_written() -> None:
    """The store may give a cause in words: the printout does not rewrite it."""
    gap = LinkGap(at(515), at(520), "network switch rebooted: nothing arrives", 5)
    assert "Link gap: network switch rebooted: nothing arrives 5.0 s" in text(
        full(link_gaps=(gap,))
    )
