"""What the service keeps beside a session's rows for the reports, for a generated session: the
record's facts (``signaling.record.facts``, folded from the generated entries by the record's own
code), the stored coverage's figures as columns (``signaling.sessions.coverage.figures``), and each
accept's first page on its channel (as ``signaling.sessions.supervision`` keeps it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from paging.engine import PAGING_PURPOSES
from signaling.record.facts import RECORD_KINDS, facts_from
from signaling.reports.history.cast import SiteFacts
from signaling.reports.history.entry import Entry
from signaling.reports.history.writer import COLUMNS
from signaling.sessions import coverage
from signaling.sessions.supervision import VIA_CHANNEL
from signaling.storage.models import Facility, Room, SessionEvent, SupervisionSession

REACTION_COLUMNS = COLUMNS["record_reactions"]
_PAGE = {name: i for i, name in enumerate(COLUMNS["paging_pages"])}
_SESSION_FIELDS = (
    "id",
    "technologist_id",
    "radiologist_id",
    "accession_number",
    "state",
    "outcome",
    "cancel_reason",
    "cancel_note",
    "requested_at",
    "accepted_at",
    "joined_at",
    "ended_at",
    "coverage",
)


class Places:
    """Each site's facility and rooms as the record's fold reads them (transient objects, made
    once)."""

    def __init__(self, sites: Sequence[SiteFacts]) -> None:
        self.facilities: dict[int, Facility] = {}
        self.rooms: dict[int, Room] = {}
        for site in sites:
            self.facilities[site.id] = Facility(
                id=site.id,
                code=site.code,
                name=site.name,
                state=site.state,
                timezone=site.zone.key,
                exam_setup=site.setup.model_dump(mode="json"),
            )
            for room in site.rooms:
                self.rooms[room.id] = Room(id=room.id, name=room.name, modality=room.modality)


def kept(
    places: Places, row: dict[str, Any], entries: list[Entry]
) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """The session's columns the service keeps for the reports, and its ``record_reactions`` rows
    (``entries`` numbered already)."""
    s = SupervisionSession(
        facility=places.facilities[row["facility_id"]],
        room=places.rooms[row["room_id"]],
        **{name: row.get(name) for name in _SESSION_FIELDS},
    )
    # A generated entry has what the fold reads of a SessionEvent (kind, at, actor, body, id).
    record = cast("list[SessionEvent]", [e for e in entries if e.kind in RECORD_KINDS])
    facts = facts_from(s, record)
    columns = facts.columns() | (coverage.figures(row["coverage"]) if row.get("coverage") else {})
    reactions = [tuple(r[c] for c in REACTION_COLUMNS) for r in facts.reaction_rows(str(row["id"]))]
    return columns, reactions


def with_page_times(
    accepts: list[tuple[Any, ...]], page_rows: list[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """Each accept row with its first page: the earliest page sent to that person on the
    accept's channel before it (None: none)."""
    firsts: dict[tuple[int, str], list[datetime]] = {}
    for p in page_rows:
        sent = p[_PAGE["sent_at"]]
        if sent is not None and p[_PAGE["purpose"]] in PAGING_PURPOSES:
            firsts.setdefault((p[_PAGE["user_id"]], p[_PAGE["channel"]]), []).append(sent)
    found = []
    for a in accepts:
        _, user, via, accepted = a[0], a[1], a[2], a[3]
        sent = [t for t in firsts.get((user, VIA_CHANNEL.get(via, via)), []) if t <= accepted]
        found.append((*a, min(sent) if sent else None))
    return found
