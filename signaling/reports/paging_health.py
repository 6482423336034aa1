"""Paging health: what became of the pages (delivered, failed, voicemail, skipped, cancelled) per
channel, accepts that never became a join, how long a page takes to be accepted on each channel,
tiers that fired with nobody in them, and re-pages after a radiologist's link was lost; cards
against the previous period. What each figure counts: ``paging_figures``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports import sessions_in, tuning
from signaling.reports.paging_figures import Figures, figures
from signaling.reports.scope import Scope
from signaling.reports.selection import BEFORE, NOW, open_note, share
from signaling.reports.shape import Card, Column, Report, Table, Value

KEY = "paging_health"
TITLE = "Paging health"
OUTCOMES = ("delivered", "failed", "voicemail", "skipped", "cancelled", "in_flight")
CHANNELS = ("in_app", "sms", "voice")
NOT_PAGED = "-"  # the channel of a person skipped as a whole (ineligible, at their cap)
ACCEPT_OUTCOMES = ("joined", "taken_not_live", "released", "superseded", "standing_at_end")


def _cards(now: Figures, before: Figures) -> tuple[Card, ...]:
    def delivered(f: Figures) -> float | None:
        return share(f.page_total("delivered"), f.attempted)

    def media_lost(f: Figures) -> int:
        return f.repages.get("media_lost", {}).get("repages", 0)

    return (
        Card("pages", "Pages sent to radiologists", now.attempted, before.attempted, "count"),
        Card("delivered", "Delivered", delivered(now), delivered(before), "share", "higher"),
        Card(
            "failed",
            "Failed (carrier)",
            now.page_total("failed"),
            before.page_total("failed"),
            "count",
            "lower",
        ),
        Card(
            "voicemail",
            "Voicemail (not reached)",
            now.page_total("voicemail"),
            before.page_total("voicemail"),
            "count",
            "lower",
        ),
        Card(
            "accept_without_join",
            "Accepts without a join",
            now.without_join,
            before.without_join,
            "count",
            "lower",
        ),
        Card(
            "page_to_accept_median_s",
            "Page to accept, median",
            now.to_accept_all[0],
            before.to_accept_all[0],
            "seconds",
            "lower",
        ),
        Card(
            "empty_tiers",
            "Empty tiers skipped",
            now.empty_tiers,
            before.empty_tiers,
            "count",
            "lower",
        ),
        Card(
            "repages_media_lost",
            "Re-pages after a lost link",
            media_lost(now),
            media_lost(before),
            "count",
            "lower",
        ),
    )


def _channel_table(f: Figures) -> Table:
    rows: list[tuple[Value, ...]] = []
    paged = {ch for (g, ch) in f.pages if ch != NOT_PAGED} | set(f.accepts)
    order = [c for c in CHANNELS if c in paged] + sorted(paged - set(CHANNELS))
    for group in ("page", "alert"):
        for channel in order:
            counts = f.pages.get((group, channel))
            if counts is None and not (group == "page" and channel in f.accepts):
                continue
            counts = counts or {}
            attempted = sum(counts.get(o, 0) for o in ("delivered", "failed", "voicemail"))
            accepts = sum(f.accepts.get(channel, {}).values()) if group == "page" else None
            median, p90 = f.to_accept.get(channel, [None, None]) if group == "page" else (None,) * 2
            rows.append(
                (
                    "radiologists" if group == "page" else "supervisors' alerts",
                    channel,
                    sum(counts.values()),
                    *(counts.get(o, 0) for o in OUTCOMES),
                    share(counts.get("delivered", 0), attempted),
                    accepts,
                    median,
                    p90,
                )
            )
    return Table(
        "channels",
        "Pages per channel and outcome",
        (
            Column("paged", "Paged"),
            Column("channel", "Channel"),
            Column("pages", "Pages", "count"),
            *(Column(o, o.replace("_", " ").capitalize(), "count") for o in OUTCOMES),
            Column("delivered_share", "Delivered of sent", "share"),
            Column("accepts", "Accepts through it", "count"),
            Column("accept_median_s", "Page to accept, median", "seconds"),
            Column("accept_p90_s", "Page to accept, p90", "seconds"),
        ),
        tuple(rows),
    )


def _accept_table(f: Figures) -> Table:
    order = [c for c in CHANNELS if c in f.accepts] + sorted(set(f.accepts) - set(CHANNELS))
    rows: list[tuple[Value, ...]] = []
    for channel in order:
        counts = f.accepts[channel]
        total = sum(counts.values())
        rows.append(
            (
                channel,
                total,
                counts.get("joined", 0),
                total - counts.get("joined", 0),
                *(counts.get(o, 0) for o in ACCEPT_OUTCOMES[1:]),
            )
        )
    return Table(
        "accepts",
        "Accepts and what became of them",
        (
            Column("channel", "Accepted through"),
            Column("accepts", "Accepts", "count"),
            Column("joined", "Joined", "count"),
            Column("without_join", "Without a join", "count"),
            Column("taken_not_live", "Taken, never live", "count"),
            Column("released", "Handed back", "count"),
            Column("superseded", "Another joined first", "count"),
            Column("standing_at_end", "Still standing at the end", "count"),
        ),
        tuple(rows),
    )


def _tier_table(f: Figures) -> Table:
    rows = []
    for (kind, tier), empty in sorted(f.tiers.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        name = "STAT (every tier)" if kind == "stat" else f"tier {(tier or 0) + 1}"
        rows.append((name, empty, share(empty, f.sessions)))
    return Table(
        "empty_tiers",
        "Tiers that fired with nobody in them (skipped at once, never waited out)",
        (
            Column("tier", "Tier"),
            Column("skipped_empty", "Empty, skipped", "count"),
            Column("of_sessions", "Of sessions", "share"),
        ),
        tuple(rows),
    )


def _repage_table(f: Figures) -> Table:
    rows = []
    for reason in sorted(f.repages):
        counts = f.repages[reason]
        median, p90 = f.to_rejoin.get(reason, [None, None])
        rows.append(
            (reason, counts["repages"], counts["sessions"], counts["rejoined"], median, p90)
        )
    return Table(
        "repages",
        "Paging again after a radiologist was lost",
        (
            Column("reason", "Why"),
            Column("repages", "Re-pages", "count"),
            Column("sessions", "Sessions", "count"),
            Column("rejoined", "Joined again", "count"),
            Column("rejoin_median_s", "To the next join, median", "seconds"),
            Column("rejoin_p90_s", "To the next join, p90", "seconds"),
        ),
        tuple(rows),
    )


def _skip_table(f: Figures) -> Table:
    rows = tuple(sorted(f.skip_reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    return Table(
        "skipped",
        "Why people were not paged",
        (Column("reason", "Reason"), Column("pages", "Skipped", "count")),
        rows,
    )


async def report(db: AsyncSession, scope: Scope, now: datetime) -> Report:
    """Paging health of ``scope`` (ended sessions requested in its period), cards against the
    previous period of the same length."""
    await tuning.for_aggregates(db)
    both = await figures(db, scope)
    current, before = both[NOW], both[BEFORE]
    notes = [
        "Delivered: the carrier or the radiologist's console took the page; a delivery receipt "
        "is evidence, not an answer. Voicemail is never counted as reached.",
        "Page to accept: from the first page to that person on the channel they accepted "
        "through (in-app for the console) to the accept.",
    ]
    return Report(
        key=KEY,
        title=TITLE,
        start=scope.period.start,
        end=scope.period.end,
        facilities=await sessions_in.facility_names(db, scope),
        cards=_cards(current, before),
        tables=(
            _channel_table(current),
            _accept_table(current),
            _tier_table(current),
            _repage_table(current),
            _skip_table(current),
        ),
        notes=(*notes, *await open_note(db, scope)),
    )
