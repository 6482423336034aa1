"""Generate a history into the database, day by day in time order (as a running service writes it,
so rows lie in the tables in the order of their requests), in bulk, inside the caller's
transaction (the caller commits)."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports.history import entry
from signaling.reports.history.cast import load_cast
from signaling.reports.history.session import Story, Storyteller
from signaling.reports.history.spec import HistorySpec
from signaling.reports.history.volume import arrivals, hours, weights
from signaling.reports.history.writer import Bulk

log = logging.getLogger(__name__)

LAST_REQUEST = timedelta(hours=3)  # before the end, so every session has ended by then
FLUSH_EVERY = 4000  # sessions


@dataclass(frozen=True)
class Generated:
    sessions: int
    rows: dict[str, int]  # per table

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


async def generate(
    db: AsyncSession, spec: HistorySpec, progress: Callable[[int], None] | None = None
) -> Generated:
    """Write ``spec``'s history for the directory as it stands (caller commits); ``progress`` is
    told the sessions written so far after each batch."""
    cast = await load_cast(db, spec.facilities, spec.start, spec.end)
    rng = random.Random(spec.seed)
    teller = Storyteller(cast, spec, rng)
    bulk = await Bulk.open(db)
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
    written = 0
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
                        accession = f"{spec.accession_prefix}{site.code}-{numbers[site.id]:06d}"
                        story = teller.tell(site, room, requested, accession)
                        busy[room.id] = story.ended
                        if story.ended < end:
                            stories.append(story)
        stories.sort(key=lambda s: s.paging.requested)
        for story in stories:
            _add(bulk, story, spec.seal)
        written += len(stories)
        if bulk.pending >= FLUSH_EVERY:
            await bulk.flush()
            if progress is not None:
                progress(written)
    await bulk.close()
    log.info("history: %d sessions, %d rows", written, sum(bulk.counts.values()))
    return Generated(written, dict(bulk.counts))


def _add(bulk: Bulk, story: Story, seal: bool) -> None:
    session_id = story.session["id"]
    bulk.add_session(story.session)
    for table, rows in story.paging.rows().items():
        bulk.add(table, rows)
    bulk.add("session_accepts", story.accepts)
    bulk.add("session_repages", story.repages)
    first = bulk.take_ids(len(story.entries))
    events, head = entry.write(story.entries, session_id, first, seal)
    bulk.add("session_events", events)
    if head is not None:
        bulk.add("record_chains", [head])
