"""Migration 0010 back-fills the record's facts from the entries already written, as the record's
own fold reads them (``signaling.record.facts``), and goes back down cleanly."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.store import pages
from signaling.record.facts import facts_from
from signaling.storage.database import alembic_config, make_engine, make_session_factory
from signaling.storage.models import (
    Facility,
    RecordReaction,
    Room,
    SessionAccept,
    SessionEvent,
    SupervisionSession,
    User,
)

T = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


async def _session(
    db: AsyncSession,
    entries: list[tuple[str, float, dict[str, Any]]],
    coverage: dict[str, Any] | None = None,
) -> str:
    """A session at NORTH written as rows of revision 0009, with its record entries."""
    facility = await db.scalar(select(Facility.id).where(Facility.code == "NORTH"))
    room = await db.scalar(select(Room.id).where(Room.facility_id == facility))
    tech = await db.scalar(select(User.id).where(User.username == "tech"))
    sid = str(uuid.uuid4())
    table = SupervisionSession.__table__
    await db.execute(
        insert(table).values(
            id=sid, facility_id=facility, room_id=room, technologist_id=tech,
            accession_number="A1", state="ended", outcome="completed", requested_at=at(0),
            joined_at=at(10), ended_at=at(1200), coverage=coverage,
        )
    )  # fmt: skip
    ids: list[int] = []
    for kind, seconds, body in entries:
        body = {k: (ids[v] if k in ("reaction", "target") else v) for k, v in body.items()}
        result = await db.execute(
            insert(SessionEvent.__table__)
            .values(session_id=sid, kind=kind, at=at(seconds), body=body, actor_id=tech)
            .returning(SessionEvent.__table__.c.id)
        )
        ids.append(int(result.scalar_one()))
    return sid


async def test_the_facts_of_entries_written_before_0010_are_back_filled(database_url: str) -> None:
    """Down to 0009, a record written (an exam amended to another agent, a verified injection, a
    reaction completed by findings and answered), an exam with an agent no longer in the
    formulary, a session with no record but a stored coverage and an accept by SMS; up again: each
    has the facts the record's fold gives, the coverage's figures and the accept's first page."""
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0009_reports")
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as db, db.begin():
            full = await _session(db, [
                ("exam", 30, {"agent": "iohexol-350", "volume_ml": 100, "premedicated": False}),
                ("injection", 60, {"verified": True, "link": "verified two-way live"}),
                ("reaction", 300, {"onset_at": at(290).isoformat(), "severity": "mild"}),
                ("intervention", 320, {"reaction": 2, "how": "acknowledged"}),
                ("reaction_findings", 400, {"reaction": 2, "severity": "moderate", "premedicated": True}),
                ("amendment", 900, {"target": 0, "target_kind": "exam", "before": {"agent": "iohexol-350"},
                                    "changes": {"agent": "gadobutrol"}, "reason": "wrong agent picked"}),
            ])  # fmt: skip
            unknown = await _session(db, [("exam", 30, {"agent": "retired-agent", "volume_ml": 5})])
            live = {"measured": True, "verified_live_s": 1180.5, "gap_s": 9.5, "gap_count": 2,
                    "gaps": []}  # fmt: skip
            bare = await _session(db, [], coverage=live)
            diaz = await db.scalar(select(User.id).where(User.username == "drdiaz"))
            for channel, sent in (("sms", 2.0), ("in_app", 1.0), ("sms", 6.0)):
                await db.execute(
                    insert(pages).values(
                        key=f"{bare}/{channel}/{sent}", session_id=bare, user_id=diaz,
                        user_name="Dr Ray Diaz", channel=channel, purpose="page", tier=0,
                        round=0, status="sent", created_at=at(0), due_at=at(0), attempts=1,
                        sent_at=at(sent),
                    )
                )  # fmt: skip
            await db.execute(
                insert(SessionAccept.__table__).values(
                    session_id=bare, user_id=diaz, via="sms", accepted_at=at(5)
                )
            )
        await asyncio.to_thread(command.upgrade, config, "head")
        async with make_session_factory(engine)() as db:
            rows = {
                s.id: s
                for s in await db.scalars(
                    select(SupervisionSession).where(
                        SupervisionSession.id.in_([full, unknown, bare])
                    )
                )
            }
            s = rows[full]
            assert (s.agent_class, s.injected_at, s.injection_verified) == (
                "gadolinium",
                at(60),
                True,
            )
            # the documentation score is the record's own rules: scored when the record next changes
            assert (s.documentation_required, s.documentation_missing) == (None, None)
            (reaction,) = await db.scalars(
                select(RecordReaction).where(RecordReaction.session_id == full)
            )
            assert (reaction.onset_at, reaction.severity, reaction.reaction_type) == (
                at(290), "moderate", None,
            )  # fmt: skip
            assert (reaction.premedicated, reaction.intervened_at) == (True, at(320))
            assert (rows[unknown].agent_class, rows[unknown].injected_at) == ("other", None)
            assert (rows[bare].agent_class, rows[bare].injection_verified) == (None, None)
            # the coverage's figures as columns; the accept's first SMS page before it
            assert (rows[bare].verified_live_s, rows[bare].link_gap_count) == (1180.5, 2)
            assert (rows[full].verified_live_s, rows[full].link_gap_count) == (None, None)
            paged_at = await db.scalar(
                select(SessionAccept.paged_at).where(SessionAccept.session_id == bare)
            )
            assert paged_at == at(2.0)

            # the same as the record's own fold reads them
            entries = (
                await db.scalars(
                    select(SessionEvent)
                    .where(SessionEvent.session_id == full)
                    .order_by(SessionEvent.id)
                )
            ).all()
            own = facts_from(s, entries)
            assert (own.agent_class, own.injected_at, own.injection_verified) == (
                s.agent_class, s.injected_at, s.injection_verified,
            )  # fmt: skip
            (r,) = own.reactions
            assert (r.entry_id, r.onset_at, r.severity, r.reaction_type, r.premedicated) == (
                reaction.entry_id, reaction.onset_at, reaction.severity, reaction.reaction_type,
                reaction.premedicated,
            )  # fmt: skip
            assert r.intervened_at == reaction.intervened_at
    finally:
        await engine.dispose()
