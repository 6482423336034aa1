"""A session's paging as it stands while the history runs it (``paging_run``), and the rows it
leaves in the pager's tables (``paging.store``): the run, its timers, its outbox of pages, the
carrier events its accepts were claimed by. Kept across a re-page: new rounds, the same rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from signaling.reports.history.cast import Person, SiteFacts
from signaling.reports.history.times import at


@dataclass
class Timer:
    kind: str  # tier, exhausted
    tier: int | None
    round: int | None
    due: float
    order: int
    done: float | None = None
    outcome: str | None = None


@dataclass
class Accept:
    user: Person
    via: str  # web, sms, voice
    at: float
    ended: float | None = None
    end_reason: str | None = None


@dataclass
class Page:
    """One outbox row while the run is under way (finished into the table's row at the end)."""

    key: str
    user: Person
    channel: str
    purpose: str
    tier: int
    round: int
    status: str
    created: float
    sent: float | None = None
    detail: str | None = None
    ref: str | None = None


@dataclass
class Paging:
    """A session's paging as it stands: kept across a re-page (new rounds, same rows)."""

    session_id: str
    site: SiteFacts
    room_name: str
    requested: float
    timers: list[Timer] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    inbound: list[tuple[Any, ...]] = field(default_factory=list)
    accepts: dict[int, Accept] = field(default_factory=dict)
    accepted: list[tuple[Person, str, float]] = field(default_factory=list)  # every accept made
    held_until: float | None = None
    stopped: float | None = None
    stop_reason: str | None = None
    repaged: int = 0
    alerted: bool = False

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """The pager's rows: ``paging_runs``, ``paging_timers``, ``paging_pages``,
        ``paging_inbound`` (columns in ``writer.COLUMNS`` order)."""
        run = (
            self.session_id,
            self.site.id,
            self.site.snapshot,
            at(self.requested),
            "stopped" if self.stopped is not None else "active",
            at(self.held_until),
            at(self.stopped),
            self.stop_reason,
            self.repaged,
        )
        timer_rows = [
            (self.session_id, t.kind, t.tier, t.round, at(t.due), at(t.done), t.outcome)
            for t in self.timers
        ]
        return {
            "paging_runs": [run],
            "paging_timers": timer_rows,
            "paging_pages": [self._page_row(p) for p in self.pages],
            "paging_inbound": self.inbound,
        }

    def _page_row(self, p: Page) -> tuple[Any, ...]:
        mobile = p.user.mobile if p.channel in ("sms", "voice") else None
        created = at(p.created)
        return (
            p.key,
            self.session_id,
            p.user.id,
            p.user.name,
            p.channel,
            p.purpose,
            p.tier,
            p.round,
            p.status,
            p.detail,
            mobile if p.status != "skipped" else None,
            created,
            created,
            None,
            0 if p.status == "skipped" else 1,
            at(p.sent),
            p.ref,
            None,
            None,
        )
