"""The session's times as the printout shows them: each in the facility's time zone with UTC to
the millisecond beside it, and the timeline of every timestamp in order (request, each page,
accept, join with its latency judged, link gaps, injection, reactions, end), in words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from signaling.record import words
from signaling.record.view import LinkGap, Reaction, RecordView

CHANNEL_WORDS = {"in_app": "in app", "sms": "SMS", "voice": "voice call"}


@dataclass(frozen=True)
class Clock:
    """Formats a record's times: local to the facility, and UTC to the millisecond. A time on a
    different day than the request carries its date."""

    zone: tzinfo
    zone_name: str
    local_day: date
    utc_day: date

    @classmethod
    def of(cls, view: RecordView) -> Clock:
        try:
            zone: tzinfo = ZoneInfo(view.facility_timezone)
            name = view.facility_timezone
        except (ZoneInfoNotFoundError, ValueError):
            zone, name = UTC, f"UTC (time zone {view.facility_timezone!r} unknown)"
        return cls(zone, name, view.requested_at.astimezone(zone).date(), view.requested_at.date())

    def local(self, at: datetime | None) -> str:
        if at is None:
            return ""
        moment = at.astimezone(self.zone)
        return f"{_day(moment, self.local_day)}{moment:%H:%M:%S}"

    def utc(self, at: datetime | None) -> str:
        if at is None:
            return ""
        moment = at.astimezone(UTC)
        return f"{_day(moment, self.utc_day)}{moment:%H:%M:%S}.{moment.microsecond // 1000:03d}"

    def both(self, at: datetime | None) -> str:
        """``"09:24:10 (15:24:10.000 UTC)"``."""
        if at is None:
            return "not recorded"
        return f"{self.local(at)} ({self.utc(at)} UTC)"

    def day_words(self) -> str:
        return f"{self.local_day:%A} {self.local_day.day} {self.local_day:%B %Y}"


def _day(moment: datetime, reference: date) -> str:
    """The date to print before a time: none on the reference day, the year only in another."""
    if moment.date() == reference:
        return ""
    return f"{moment:%d %b} " if moment.year == reference.year else f"{moment:%d %b %Y} "


@dataclass(frozen=True)
class Row:
    """One line of the printed timeline."""

    at: datetime
    what: str
    detail: str = ""
    tone: str = ""  # "bad" marks a line a reader must not miss


def _gap_row(gap: LinkGap, clock: Clock) -> Row:
    until = f", until {clock.local(gap.end)}" if gap.end else ", still open when the session ended"
    return Row(
        gap.start,
        "Link gap: " + words.cause(gap.cause),
        f"{words.seconds(gap.seconds)}{until}",
        "bad",
    )


def _reaction_rows(reaction: Reaction, number: int) -> list[Row]:
    kind = " ".join(
        part
        for part in (words.enum_words(reaction.severity, ""), words.enum_words(reaction.type, ""))
        if part
    )
    rows = [Row(reaction.onset_at, f"Reaction {number} onset", kind or "type not recorded", "bad")]
    if reaction.stat_paged_at:
        rows.append(Row(reaction.stat_paged_at, "STAT page: every tier at once"))
    if reaction.first_action_at:
        rows.append(
            Row(
                reaction.first_action_at,
                f"Radiologist's first action: {reaction.first_action or 'action'}",
                f"{words.person(reaction.first_action_by)}, "
                f"{words.seconds(reaction.onset_to_action_s)} after onset",
            )
        )
    return rows


def timeline(view: RecordView, clock: Clock) -> list[Row]:
    """Every timestamp of the session in order: request, pages, accept, join, link gaps,
    injection, reactions, end."""
    rows = [Row(view.requested_at, "Supervision requested", words.person(view.technologist))]
    for page in view.pages:
        channel = CHANNEL_WORDS.get(page.channel, page.channel).strip(" -")
        rows.append(
            Row(
                page.at,
                f"Paged {page.person}",
                f"{channel + ', ' if channel else ''}tier {page.tier}: "
                f"{page.outcome.replace('_', ' ')}",
            )
        )
    if view.accepted_at:
        rows.append(Row(view.accepted_at, "Accepted", words.person(view.radiologist)))
    if view.joined_at:
        rows.append(
            Row(
                view.joined_at,
                "Joined: two-way audio and video verified",
                join_latency_words(view),
            )
        )
    rows.extend(_gap_row(gap, clock) for gap in view.link_gaps)
    if view.injection:
        tone = "" if view.injection.verified else "bad"
        rows.append(Row(view.injection.at, "Injection", injection_words(view), tone))
    for number, reaction in enumerate(view.reactions, 1):
        rows.extend(_reaction_rows(reaction, number))
    if view.ended_at:
        ended = "Cancelled" if view.outcome == "cancelled" else "Ended"
        rows.append(Row(view.ended_at, ended, words.person(view.ended_by)))
    return sorted(rows, key=lambda row: row.at)


def join_latency_words(view: RecordView) -> str:
    """``"join latency 24.3 s: best in class"``."""
    verdict = words.VERDICT_WORDS[words.join_verdict(view.join_latency_ms)]
    if view.join_latency_ms is None:
        return f"join latency {verdict}"
    return f"join latency {words.seconds(view.join_latency_ms / 1000)}: {verdict}"


def injection_words(view: RecordView) -> str:
    injection = view.injection
    if injection is None:
        return "no injection recorded"
    if injection.verified:
        return "under verified two-way supervision"
    return f"not under verified two-way supervision: {injection.link}"
