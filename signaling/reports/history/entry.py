"""A session's record entries as the history writes them (``session_events`` rows), numbered and
chained exactly as the service's sealer chains them (``signaling.record.chain``), so
``standby record verify`` finds every generated record intact.

The service gives an entry its id when it is written and the sealer its place in id order; the
history writes a session's entries in time order and gives them ids from a block it holds, so a
reaction's later entries can name the reaction's entry by id as the service's do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from signaling.record import chain
from signaling.reports.history.times import EPOCH, at


@dataclass
class Entry:
    kind: str
    at_s: float
    actor_id: int | None
    detail: str | None = None
    body: dict[str, Any] | None = None
    from_state: str | None = None
    to_state: str | None = None
    refers: Entry | None = None  # body["reaction"] is that entry's id
    target: Entry | None = None  # an amendment's body["target"] is that entry's id
    order: int = 0
    # given when the session's record is written
    id: int = 0
    session_id: str = ""
    seq: int | None = None
    digest: str | None = None
    at: datetime = EPOCH


def write(
    entries: list[Entry], session_id: str, first_id: int, sealed: bool
) -> tuple[list[tuple[Any, ...]], tuple[Any, ...] | None]:
    """The entries in time order as ``session_events`` rows (ids from ``first_id``), and the
    chain's head row (``record_chains``) when ``sealed``."""
    for n, e in enumerate(entries):
        e.order = n
    entries.sort(key=lambda e: (e.at_s, e.order))
    for n, e in enumerate(entries):
        e.id, e.session_id, e.at = first_id + n, session_id, at(e.at_s)
    for e in entries:
        if e.refers is not None:
            assert e.body is not None
            e.body["reaction"] = e.refers.id
        if e.target is not None:
            assert e.body is not None
            e.body["target"] = e.target.id
    head = chain.GENESIS
    if sealed:
        for n, e in enumerate(entries, start=1):
            e.seq = n
            e.digest = head = chain.digest(head, e)
    rows = [
        (
            e.id,
            session_id,
            e.kind,
            e.from_state,
            e.to_state,
            e.at,
            e.actor_id,
            e.detail,
            e.body,
            e.seq,
            e.digest,
        )
        for e in entries
    ]
    if not sealed or not entries:
        return rows, None
    last = entries[-1].at_s
    return rows, (session_id, len(entries), head, at(last + 0.4))
