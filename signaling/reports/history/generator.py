"""Generate a history into the database, day by day in time order (as a running service writes it,
so rows lie in the tables in the order of their requests), in bulk, inside the caller's
transaction (the caller commits).

Telling the sessions is pure Python; writing them is mostly the database's work. The next batch is
told in a worker thread while the current one is written, so the two overlap (the thread is the
only one that touches the random stream: the same seed still makes the same history).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports import latency_facts, marks
from signaling.reports.history import entry, facts, premarks
from signaling.reports.history.cast import Cast, load_cast
from signaling.reports.history.session import Story, Storyteller
from signaling.reports.history.spec import HistorySpec
from signaling.reports.history.volume import arrivals, hours, weights
from signaling.reports.history.writer import TABLES, Bulk

log = logging.getLogger(__name__)

LAST_REQUEST = timedelta(hours=3)  # before the end, so every session has ended by then
BATCH = 1000  # sessions written at once (about 40,000 rows)


@dataclass(frozen=True)
class Generated:
    sessions: int
    rows: dict[str, int]  # per table
    marks_corrected: int = 0  # sent pages whose interruption mark the load could not know
    marks_s: float = 0.0  # the pass that found them (``marks.mark_all``)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


async def generate(
    db: AsyncSession, spec: HistorySpec, progress: Callable[[int], None] | None = None
) -> Generated:
    """Write ``spec``'s history for the directory as it stands (caller commits); ``progress`` is
    told the sessions written so far after each batch."""
    cast = await load_cast(db, spec.facilities, spec.start, spec.end)
    bulk = await Bulk.open(db)
    batches = iter(_Batches(cast, spec, bulk.next_event_id, bulk.columns["supervision_sessions"]))
    written = 0
    batch = await asyncio.to_thread(next, batches, None)
    while batch is not None:
        following = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
        try:
            await bulk.write(batch.rows)
        finally:
            upcoming = await following  # never leave the thread running on its own
        written += batch.sessions
        if progress is not None:
            progress(written)
        batch = upcoming
    await bulk.close()
    started = time.perf_counter()
    corrected = await marks.mark_all(db)
    await latency_facts.rebuild(db)
    marks_s = time.perf_counter() - started
    log.info(
        "history: %d sessions, %d rows, %d pages' marks put right after the load in %.1f s",
        written,
        sum(bulk.counts.values()),
        corrected,
        marks_s,
    )
    return Generated(written, dict(bulk.counts), corrected, marks_s)


@dataclass
class _Batch:
    sessions: int = 0
    rows: dict[str, list[tuple[Any, ...]]] = field(
        default_factory=lambda: {name: [] for name in TABLES}
    )


class _Batches:
    """The history's sessions in batches of rows, day by day (pure: no database)."""

    def __init__(
        self, cast: Cast, spec: HistorySpec, first_event_id: int, session_columns: tuple[str, ...]
    ) -> None:
        self.cast, self.spec = cast, spec
        self.next_id = first_event_id
        self.session_columns = session_columns
        self.rng = random.Random(spec.seed)
        self.teller = Storyteller(cast, spec, self.rng)
        self.places = facts.Places(cast.sites)
        self.marker = premarks.PageMarker()

    def __iter__(self) -> Iterator[_Batch]:
        spec, cast, rng = self.spec, self.cast, self.rng
        utc_hours = hours(spec.start, spec.end)
        share = {site.id: weights(site.zone, utc_hours) for site in cast.sites}
        scale = spec.per_room_weekday
        if spec.sessions is not None:
            expected = sum(len(site.rooms) * sum(share[site.id]) for site in cast.sites)
            scale = spec.sessions / expected if expected else 0.0
        first = spec.start.timestamp()
        last = (spec.end - LAST_REQUEST).timestamp()
        end = spec.end.timestamp()
        busy: dict[int, float] = {}
        numbers = dict.fromkeys((site.id for site in cast.sites), 0)
        batch = _Batch()
        for day in range(0, len(utc_hours), 24):
            stories: list[Story] = []
            for site in cast.sites:
                for room in site.rooms:
                    for hour in range(day, min(day + 24, len(utc_hours))):
                        start = utc_hours[hour].timestamp()
                        for requested in arrivals(rng, scale * share[site.id][hour], start):
                            if room.id in busy and requested < busy[room.id]:
                                requested = busy[room.id] + rng.uniform(60.0, 300.0)
                            if requested < first or requested >= last:
                                continue
                            numbers[site.id] += 1
                            number = f"{spec.accession_prefix}{site.code}-{numbers[site.id]:06d}"
                            story = self.teller.tell(site, room, requested, number)
                            busy[room.id] = story.ended
                            if story.ended < end:
                                stories.append(story)
            stories.sort(key=lambda s: s.paging.requested)
            for story in stories:
                self._add(batch, story)
            if batch.sessions >= BATCH:
                yield batch
                batch = _Batch()
        if batch.sessions:
            yield batch

    def _add(self, batch: _Batch, story: Story) -> None:
        rows, session_id = batch.rows, story.session["id"]
        events, head = entry.write(story.entries, session_id, self.next_id, self.spec.seal)
        self.next_id += len(events)
        columns, reactions = facts.kept(self.places, story.session, story.entries)
        found = premarks.session_marks(
            story.session, story.paging.pages, story.accepts, story.session.get("ended_at")
        )
        session = story.session | columns | found
        rows["supervision_sessions"].append(tuple(session.get(c) for c in self.session_columns))
        pager = story.paging.rows()
        flags = self.marker.page_marks(story.paging.pages)
        pager["paging_pages"] = [
            (*row, *flag) for row, flag in zip(pager["paging_pages"], flags, strict=True)
        ]
        for table, pager_rows in pager.items():
            rows[table].extend(pager_rows)
        rows["session_accepts"].extend(facts.with_page_times(story.accepts, pager["paging_pages"]))
        rows["session_repages"].extend(story.repages)
        rows["session_events"].extend(events)
        rows["record_reactions"].extend(reactions)
        if head is not None:
            rows["record_chains"].append(head)
        batch.sessions += 1
