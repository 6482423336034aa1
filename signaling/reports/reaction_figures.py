"""The reactions report's figures, counted in the database from the record's facts
(``signaling.record.facts``: the agent class, injection and documentation score on each session,
one ``record_reactions`` row per reaction), for the period and the previous one in one pass per
question (``selection.Window``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Float, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports.grouped import percentiles_by
from signaling.reports.scope import Scope
from signaling.reports.selection import BEFORE, NOW, label, rounded, seconds, window
from signaling.storage.models import RecordReaction, SupervisionSession

S, RR = SupervisionSession, RecordReaction
NOT_GRADED = "not_graded"
UNKNOWN_AGENT = "not_recorded"  # an injection recorded before any exam was saved
AGENT_ORDER = ("iodinated", "gadolinium", "other", UNKNOWN_AGENT)
QS = (0.5, 0.9, 1.0)  # p50, p90, max


@dataclass
class Exams:
    """One facility's ended sessions of one agent class."""

    sessions: int = 0
    injections: int = 0
    unverified: int = 0
    scored: int = 0
    complete: int = 0
    score_sum: float = 0.0

    def add(self, other: Exams) -> None:
        for name in ("sessions", "injections", "unverified", "scored", "complete", "score_sum"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Figures:
    exams: dict[tuple[int, str], Exams] = field(default_factory=dict)  # (facility, agent class)
    # (facility, agent class, severity) -> (reactions, breakthroughs), injected sessions only
    reactions: dict[tuple[int, str, str], tuple[int, int]] = field(default_factory=dict)
    outside_injections: int = 0  # reactions in sessions with no injection recorded
    intervention: list[float | None] = field(default_factory=lambda: [None, None, None])
    by_severity: dict[Any, list[float | None]] = field(default_factory=dict)
    reaction_counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # all, intervened
    reaction_records: Exams = field(default_factory=Exams)  # records with a reaction

    def total(self, agent_class: str | None = None) -> Exams:
        t = Exams()
        for (_, ac), e in self.exams.items():
            if agent_class is None or ac == agent_class:
                t.add(e)
        return t

    def reacted(
        self,
        agent_class: str | None = None,
        severity: str | None = None,
        facility: int | None = None,
    ) -> tuple[int, int]:
        n = b = 0
        for (fid, ac, sev), (count, breakthrough) in self.reactions.items():
            if agent_class not in (None, ac) or severity not in (None, sev):
                continue
            if facility is not None and fid != facility:
                continue
            n, b = n + count, b + breakthrough
        return n, b

    def agent_classes(self) -> list[str]:
        seen = {ac for (_, ac), e in self.exams.items() if e.injections}
        seen |= {ac for (_, ac, _) in self.reactions}
        return [a for a in AGENT_ORDER if a in seen] + sorted(seen - set(AGENT_ORDER))


def _agent() -> ColumnElement[str]:
    return func.coalesce(S.agent_class, UNKNOWN_AGENT)


def _score() -> ColumnElement[float]:
    required = cast(S.documentation_required, Float)
    return case(
        (S.documentation_required.is_(None), None),
        (S.documentation_required == 0, 1.0),
        else_=1.0 - cast(S.documentation_missing, Float) / required,
    )


def _exam_columns() -> tuple[ColumnElement[Any], ...]:
    return (
        func.count(),
        func.count(S.injected_at),
        func.count().filter(S.injection_verified.is_(False)),
        func.count(S.documentation_required),
        func.count().filter(S.documentation_missing == 0),
        func.coalesce(func.sum(_score()), 0.0),
    )


def _exams(row: Any) -> Exams:
    n, injected, unverified, scored, complete, score_sum = row
    return Exams(
        int(n), int(injected), int(unverified), int(scored), int(complete), float(score_sum)
    )


async def figures(db: AsyncSession, scope: Scope) -> dict[str, Figures]:
    """Everything the report says about the scope's period (``NOW``) and the previous one
    (``BEFORE``), counted in the database, one pass per question."""
    found = {NOW: Figures(), BEFORE: Figures()}
    w = await window(db, scope)
    agent = _agent()
    for period, fid, ac, *rest in await db.execute(
        select(w.period, S.facility_id, agent, *_exam_columns())
        .where(*w.where)
        .group_by(w.period, S.facility_id, agent)
    ):
        found[label(period)].exams[(fid, ac)] = _exams(rest)
    severity = func.coalesce(RR.severity, NOT_GRADED)
    injected = S.injected_at.is_not(None)
    keys = (w.period, S.facility_id, agent, injected, severity)
    for period, fid, ac, was_injected, sev, n, breakthrough in await db.execute(
        select(*keys, func.count(), func.count().filter(RR.premedicated.is_(True)))
        .join(S, S.id == RR.session_id)
        .where(*w.where)
        .group_by(*keys)
    ):
        f = found[label(period)]
        if was_injected:
            f.reactions[(fid, ac, sev)] = (int(n), int(breakthrough))
        else:
            f.outside_injections += int(n)
        counted, intervened = f.reaction_counts.get(sev, (0, 0))
        f.reaction_counts[sev] = (counted + int(n), intervened)
    for period, sev, intervened in await db.execute(
        select(w.period, severity, func.count(RR.intervened_at))
        .join(S, S.id == RR.session_id)
        .where(*w.where)
        .group_by(w.period, severity)
    ):
        counted, _ = found[label(period)].reaction_counts.get(sev, (0, 0))
        found[label(period)].reaction_counts[sev] = (counted, int(intervened))
    waited = seconds(db, RR.onset_at, RR.intervened_at)
    onset = select(w.period, waited).join(S, S.id == RR.session_id).where(*w.where)
    for (period,), values in (await percentiles_by(db, onset, QS)).items():
        found[label(period)].intervention = [rounded(v) for v in values]
    by_severity = select(w.period, severity, waited).join(S, S.id == RR.session_id)
    for (period, sev), values in (
        await percentiles_by(db, by_severity.where(*w.where), QS)
    ).items():
        found[label(period)].by_severity[sev] = [rounded(v) for v in values]
    for period, *rest in await db.execute(
        select(w.period, *_exam_columns())
        .where(*w.where, S.id.in_(select(RR.session_id)))
        .group_by(w.period)
    ):
        found[label(period)].reaction_records = _exams(rest)
    return found
