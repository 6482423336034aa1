"""The record's facts that the reports count, kept beside the record so a year of sessions is
counted in the database instead of folding every record again.

On the session: the exam's agent class, when the injection was recorded and whether it was under
verified two-way supervision, and the documentation score (how many required fields applied, how
many are missing). One ``record_reactions`` row per reaction as the record reads now.

They are a projection of the entries, never a second source: ``refresh`` folds the session's
entries exactly as the record view does (``store.lean_view``) and writes every fact again. It runs
in the transaction of every record action that writes an entry, and when the session ends (the
completeness of a record depends on the session too: a radiologist joined, a cancellation before
any injection asks fewer fields). A record completed after the end (findings within the week,
amendments) is written by an action, so it is refreshed as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.record.entries import Kind
from signaling.record.store import lean_view
from signaling.record.view import RecordView
from signaling.storage.models import RecordReaction, SessionEvent, SupervisionSession

# The agent class of an exam whose agent the facility's formulary no longer classes.
OTHER_AGENT = "other"
# What the fold reads (not the state changes and link records around them).
RECORD_KINDS = tuple(k.value for k in Kind)


@dataclass(frozen=True)
class ReactionFacts:
    entry_id: int
    onset_at: datetime
    reaction_type: str | None
    severity: str | None
    premedicated: bool | None  # on the reaction or, failing that, on the exam
    intervened_at: datetime | None


@dataclass(frozen=True)
class RecordFacts:
    agent_class: str | None  # iodinated, gadolinium, other; None: no exam saved
    injected_at: datetime | None
    injection_verified: bool | None  # None: no injection recorded
    documentation_required: int
    documentation_missing: int
    reactions: tuple[ReactionFacts, ...] = ()

    def columns(self) -> dict[str, Any]:
        """The session's columns, by name."""
        return {
            "agent_class": self.agent_class,
            "injected_at": self.injected_at,
            "injection_verified": self.injection_verified,
            "documentation_required": self.documentation_required,
            "documentation_missing": self.documentation_missing,
        }

    def reaction_rows(self, session_id: str) -> list[dict[str, Any]]:
        return [
            {
                "entry_id": r.entry_id,
                "session_id": session_id,
                "onset_at": r.onset_at,
                "reaction_type": r.reaction_type,
                "severity": r.severity,
                "premedicated": r.premedicated,
                "intervened_at": r.intervened_at,
            }
            for r in self.reactions
        ]


def facts_of(view: RecordView) -> RecordFacts:
    """The facts of one record view (pure)."""
    exam = view.exam
    if exam.agent is not None:
        agent_class: str | None = exam.agent.agent_class.value
    else:
        agent_class = OTHER_AGENT if exam.recorded_at is not None else None
    injection = view.injection
    return RecordFacts(
        agent_class=agent_class,
        injected_at=injection.at if injection else None,
        injection_verified=injection.verified if injection else None,
        documentation_required=len(view.completeness.required),
        documentation_missing=len(view.completeness.missing),
        reactions=tuple(
            ReactionFacts(
                entry_id=r.seq,
                onset_at=r.onset_at,
                reaction_type=r.type.value if r.type else None,
                severity=r.severity.value if r.severity else None,
                premedicated=r.premedicated if r.premedicated is not None else exam.premedicated,
                intervened_at=r.first_action_at,
            )
            for r in view.reactions
        ),
    )


def facts_from(s: SupervisionSession, entries: Sequence[SessionEvent]) -> RecordFacts:
    """The facts of ``s`` from its entries, oldest first (pure)."""
    return facts_of(lean_view(s, entries))


async def refresh(db: AsyncSession, s: SupervisionSession) -> RecordFacts:
    """Write the facts of ``s`` again from its record, in the caller's transaction (the caller
    commits). ``s`` is the session as loaded now (state, outcome, join)."""
    await db.flush()
    entries = (
        await db.scalars(
            select(SessionEvent)
            .where(SessionEvent.session_id == s.id, SessionEvent.kind.in_(RECORD_KINDS))
            .order_by(SessionEvent.id)
        )
    ).all()
    facts = facts_from(s, entries)
    for name, value in facts.columns().items():
        setattr(s, name, value)
    await db.execute(delete(RecordReaction).where(RecordReaction.session_id == s.id))
    rows = facts.reaction_rows(s.id)
    if rows:
        await db.execute(insert(RecordReaction), rows)
    await db.flush()
    return facts
