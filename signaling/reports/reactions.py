"""Reactions: contrast reactions per 1,000 injections by agent class and severity with the published
ranges beside them, onset to the radiologist's intervention, injections not under verified
supervision, and documentation completeness; by facility.

Counted from the record's facts (``reaction_figures``).

- The denominator of a rate is the injections recorded ("Injecting now") of that agent class in
  ended sessions of the period; a reaction counts in the rates when its session's injection was
  recorded (others are named in a note, never dropped silently).
- Severity is the record's current one (later findings and amendments applied); "not graded" when
  none was given yet. A breakthrough is a reaction despite premedication.
- Onset to intervention: from the onset the record gives to the radiologist's first action on the
  reaction, stamped by the server; reactions without one are counted apart.
- Completeness: the documentation score of each ended session's record (the share of the facility's
  required fields present; complete when none is missing).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports import sessions_in, tuning
from signaling.reports.reaction_figures import NOT_GRADED, Exams, Figures, figures
from signaling.reports.reference_rates import REFERENCE_RATES, ReferenceRate, reference
from signaling.reports.scope import Scope
from signaling.reports.selection import (
    BEFORE,
    NOW,
    open_note,
    per_1000,
    share,
)
from signaling.reports.shape import Card, Column, Report, Table, Value
from signaling.storage.models import Facility

KEY = "reactions"
TITLE = "Contrast reactions"
SEVERITIES = ("mild", "moderate", "severe")


def _rate_words(rate: float | None, ref: ReferenceRate | None) -> str | None:
    if ref is None or rate is None:
        return None
    if rate < ref.low:
        return "below"
    return "above" if rate > ref.high else "within"


def _cards(now: Figures, before: Figures) -> tuple[Card, ...]:
    def rate(f: Figures, severity: str | None = None) -> float | None:
        return per_1000(f.reacted(severity=severity)[0], f.total().injections)

    def unverified(f: Figures) -> float | None:
        t = f.total()
        return share(t.unverified, t.injections)

    def complete(f: Figures) -> float | None:
        t = f.total()
        return share(t.complete, t.scored)

    def score(f: Figures) -> float | None:
        t = f.total()
        return None if t.scored == 0 else t.score_sum / t.scored

    p50, p90, top = now.intervention
    b50, b90, btop = before.intervention
    return (
        Card(
            "injections",
            "Injections recorded",
            now.total().injections,
            before.total().injections,
            "count",
        ),
        Card(
            "reactions_per_1000",
            "Reactions per 1,000",
            rate(now),
            rate(before),
            "per_1000",
            "lower",
        ),
        Card(
            "severe_per_1000",
            "Severe per 1,000",
            rate(now, "severe"),
            rate(before, "severe"),
            "per_1000",
            "lower",
        ),
        Card(
            "breakthrough",
            "Despite premedication",
            now.reacted()[1],
            before.reacted()[1],
            "count",
        ),
        Card(
            "onset_to_intervention_p50_s",
            "Onset to intervention, median",
            p50,
            b50,
            "seconds",
            "lower",
        ),
        Card(
            "onset_to_intervention_p90_s",
            "Onset to intervention, p90",
            p90,
            b90,
            "seconds",
            "lower",
        ),
        Card(
            "onset_to_intervention_max_s",
            "Onset to intervention, longest",
            top,
            btop,
            "seconds",
            "lower",
        ),
        Card(
            "unverified_injections",
            "Injections not under verified supervision",
            now.total().unverified,
            before.total().unverified,
            "count",
            "lower",
        ),
        Card(
            "unverified_share",
            "Not verified, of injections",
            unverified(now),
            unverified(before),
            "share",
            "lower",
        ),
        Card(
            "complete_share", "Records complete", complete(now), complete(before), "share", "higher"
        ),
        Card(
            "documentation_score",
            "Documentation score, mean",
            score(now),
            score(before),
            "share",
            "higher",
        ),
    )


RATE_COLUMNS = (
    Column("injections", "Injections", "count"),
    Column("reactions", "Reactions", "count"),
    Column("per_1000", "Per 1,000", "per_1000"),
    Column("breakthrough", "Despite premedication", "count"),
    Column("reference_low", "Published, low", "per_1000"),
    Column("reference_high", "Published, high", "per_1000"),
    Column("against_reference", "Against published"),
    Column("reference", "Published range (source)"),
)


def _rate_row(
    f: Figures, agent_class: str, severity: str, facility: int | None
) -> tuple[Value, ...]:
    exams = (
        f.total(agent_class) if facility is None else f.exams.get((facility, agent_class), Exams())
    )
    n, breakthrough = f.reacted(agent_class, None if severity == "all" else severity, facility)
    rate = per_1000(n, exams.injections)
    ref = reference(agent_class, severity)
    return (
        exams.injections,
        n,
        rate,
        breakthrough,
        ref.low if ref else None,
        ref.high if ref else None,
        _rate_words(rate, ref),
        ref.words() if ref else None,
    )


def _rate_table(f: Figures) -> Table:
    rows = []
    for ac in f.agent_classes():
        graded = [s for s in (*SEVERITIES, NOT_GRADED) if f.reacted(ac, s)[0] or s in SEVERITIES]
        for severity in ("all", *graded):
            rows.append((ac, severity, *_rate_row(f, ac, severity, None)))
    return Table(
        "rates",
        "Reactions per 1,000 injections by agent class and severity",
        (Column("agent_class", "Agent class"), Column("severity", "Severity"), *RATE_COLUMNS),
        tuple(rows),
    )


def _facility_rate_table(f: Figures, names: dict[int, str]) -> Table:
    rows = []
    facilities = sorted({fid for (fid, _) in f.exams}, key=lambda i: names.get(i, ""))
    for fid in facilities:
        for ac in f.agent_classes():
            if not f.exams.get((fid, ac), Exams()).injections and not f.reacted(ac, None, fid)[0]:
                continue
            for severity in ("all", "severe"):
                rows.append(
                    (names.get(fid, str(fid)), ac, severity, *_rate_row(f, ac, severity, fid))
                )
    return Table(
        "facility_rates",
        "Each facility's own rate beside the published range",
        (
            Column("facility", "Facility"),
            Column("agent_class", "Agent class"),
            Column("severity", "Severity"),
            *RATE_COLUMNS,
        ),
        tuple(rows),
    )


def _intervention_table(f: Figures) -> Table:
    rows = []
    for sev in (*SEVERITIES, NOT_GRADED):
        if sev not in f.reaction_counts:
            continue
        n, intervened = f.reaction_counts[sev]
        p50, p90, top = f.by_severity.get(sev, [None, None, None])
        rows.append((sev, n, intervened, n - intervened, p50, p90, top))
    return Table(
        "intervention",
        "Onset to the radiologist's intervention by severity",
        (
            Column("severity", "Severity"),
            Column("reactions", "Reactions", "count"),
            Column("intervened", "Intervention recorded", "count"),
            Column("not_recorded", "No intervention recorded", "count"),
            Column("p50_s", "Median", "seconds"),
            Column("p90_s", "p90", "seconds"),
            Column("max_s", "Longest", "seconds"),
        ),
        tuple(rows),
    )


def _supervision_table(f: Figures, names: dict[int, str]) -> Table:
    by_facility: dict[int, Exams] = {}
    for (fid, _), e in f.exams.items():
        by_facility.setdefault(fid, Exams()).add(e)
    rows = []
    for fid, e in sorted(by_facility.items(), key=lambda kv: names.get(kv[0], "")):
        rows.append(
            (
                names.get(fid, str(fid)),
                e.sessions,
                e.injections,
                e.unverified,
                share(e.unverified, e.injections),
                e.scored,
                e.complete,
                share(e.complete, e.scored),
                None if e.scored == 0 else e.score_sum / e.scored,
            )
        )
    return Table(
        "supervision",
        "Injections not under verified supervision, and documentation, by facility",
        (
            Column("facility", "Facility"),
            Column("sessions", "Sessions", "count"),
            Column("injections", "Injections", "count"),
            Column("unverified", "Not verified live", "count"),
            Column("unverified_share", "Not verified, of injections", "share"),
            Column("scored", "Records scored", "count"),
            Column("complete", "Complete", "count"),
            Column("complete_share", "Complete, of scored", "share"),
            Column("score", "Mean score", "share"),
        ),
        tuple(rows),
    )


def _notes(f: Figures) -> list[str]:
    notes = [
        "Published ranges are a sanity check, not a target: "
        + "; ".join(f"{r.agent_class} {r.severity}: {r.words()}" for r in REFERENCE_RATES)
        + ". Rates depend on what is counted.",
    ]
    if f.outside_injections:
        notes.append(
            f"{f.outside_injections} reaction(s) in sessions with no injection recorded: not in "
            "the rates."
        )
    t, rr = f.total(), f.reaction_records
    if t.sessions > t.scored:
        notes.append(f"{t.sessions - t.scored} record(s) not scored for documentation yet.")
    if rr.scored:
        notes.append(
            f"Records with a reaction: {rr.complete} of {rr.scored} complete "
            f"(mean score {rr.score_sum / rr.scored:.0%})."
        )
    return notes


async def report(db: AsyncSession, scope: Scope, now: datetime) -> Report:
    """Reactions of ``scope`` (ended sessions requested in its period), cards against the
    previous period of the same length."""
    await tuning.for_aggregates(db)
    both = await figures(db, scope)
    current, before = both[NOW], both[BEFORE]
    names = dict((await db.execute(select(Facility.id, Facility.name))).all())
    return Report(
        key=KEY,
        title=TITLE,
        start=scope.period.start,
        end=scope.period.end,
        facilities=await sessions_in.facility_names(db, scope),
        cards=_cards(current, before),
        tables=(
            _rate_table(current),
            _facility_rate_table(current, names),
            _intervention_table(current),
            _supervision_table(current, names),
        ),
        notes=(*_notes(current), *await open_note(db, scope)),
    )
