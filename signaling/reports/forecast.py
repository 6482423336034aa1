"""The coverage forecast (issue 11 item 5): for the next 14 days, every hour in which a facility has
no eligible radiologist on call, merged into holes with why, so a hole is fixed before a patient
waits in it; and the thin hours, where one person stands between a facility and a hole.

Report key ``forecast``. It ignores the scope's period (a forecast looks ahead from ``now``) and
reads the scope's facilities only; who counts as on call and eligible is ``on_call_hours``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports.on_call_hours import FacilityHours, Hour, first_hour, on_call_hours
from signaling.reports.scope import Scope
from signaling.reports.shape import Card, Column, Report, Table, Value

KEY = "forecast"
DAYS = 14
HOURS = DAYS * 24

RUN_COLUMNS = (
    Column("facility", "Facility"),
    Column("starts", "Starts (local)"),
    Column("ends", "Ends (local)"),
    Column("hours", "Hours", "count"),
)
NOTES = (
    "Looks ahead 14 days from now, hour by hour in each facility's own time: the day clocks "
    "spring forward has no 02:00, the day they fall back has 01:00 twice (told apart by the UTC "
    "offset). The report's period is not used.",
    "On call: the people on the schedules a facility's escalation policy names or that name the "
    "facility, and the people its policy names directly. A pool tier is not counted: it pages "
    "whoever is privileged there, on call or not.",
    "Eligible, as the pager judges when a tier fires: an active radiologist with a license in "
    "the facility's state (valid through its expiry date, by the facility's calendar), "
    "privileges at the facility and a caseload cap above zero. An hour's count is the fewest "
    "eligible at any moment of it.",
    "The live caseload cap is a moment-to-moment thing no forecast knows: someone counted here "
    "is skipped if they already supervise as many sessions as their cap when a page goes out, "
    "so a thin hour is a hole whenever its one radiologist is busy.",
)


async def report(db: AsyncSession, scope: Scope, now: datetime) -> Report:
    """The forecast for ``scope.facility_ids`` over the 14 days from the hour ``now`` is in.

    Tables ``holes`` (facility, starts, ends, hours, why), ``hours`` (facility, date, hour,
    offset, eligible) and ``thin`` (facility, starts, ends, hours, radiologist); local times are
    ISO 8601 with their UTC offset; ``ends`` is exclusive.
    """
    cover = await on_call_hours(db, scope.facility_ids, now, HOURS)
    holes = runs(cover, lambda hour: not hour.eligible)
    thin = runs(cover, _thin)
    empty_hours = sum(len(run) for _, run in holes)
    # In UTC: aware times in one zone compare by their wall clocks, the repeated hour's fold ignored.
    now = now.astimezone(UTC)
    first = min((run[0].start.astimezone(UTC) for _, run in holes), default=None)
    cards = (
        Card(
            "facilities_with_hole",
            "Facilities with a hole",
            len({f.facility_id for f, _ in holes}),
            None,
            "count",
            "lower",
        ),
        Card("empty_hours", f"Empty hours in {DAYS} days", empty_hours, None, "count", "lower"),
        Card(
            "first_hole_in",
            "First hole starts in",
            None if first is None else max(0.0, (first - now).total_seconds()),
            None,
            "seconds",
            "higher",
        ),
        Card(
            "thin_hours",
            "Hours with one eligible radiologist",
            sum(len(run) for _, run in thin),
            None,
            "count",
            "lower",
        ),
    )
    begin = first_hour(now, UTC)
    notes: tuple[str, ...] = NOTES
    if first is not None:
        where, start = next((f.name, r[0].start) for f, r in holes if r[0].start == first)
        notes += (f"The first hole: {where} from {_local(start)}.",)
    return Report(
        key=KEY,
        title=f"Coverage forecast: the next {DAYS} days",
        start=begin,
        end=begin + timedelta(hours=HOURS),
        facilities=tuple(f.name for f in cover),
        cards=cards,
        tables=(_holes_table(holes), _hours_table(cover), _thin_table(thin)),
        notes=notes,
    )


def runs(
    cover: Sequence[FacilityHours], keep: Callable[[Hour], bool]
) -> list[tuple[FacilityHours, list[Hour]]]:
    """Each facility's consecutive hours for which ``keep`` holds, merged, in order."""
    found: list[tuple[FacilityHours, list[Hour]]] = []
    for facility in cover:
        current: list[Hour] = []
        for hour in (*facility.hours, None):
            if hour is not None and keep(hour):
                current.append(hour)
            elif current:
                found.append((facility, current))
                current = []
    return found


def thin_table(cover: Sequence[FacilityHours]) -> Table:
    """The thin hours, exactly one eligible radiologist on call, merged into runs with who it is
    (more than one name when the one person changes within a run)."""
    return _thin_table(runs(cover, _thin))


def _thin_table(thin: list[tuple[FacilityHours, list[Hour]]]) -> Table:
    rows: list[tuple[Value, ...]] = []
    for facility, run in thin:
        names = dict.fromkeys(hour.eligible[0] for hour in run)
        rows.append((*_run_cells(facility, run), ", ".join(names)))
    return Table(
        "thin",
        "Hours with one eligible radiologist",
        (*RUN_COLUMNS, Column("radiologist", "The one eligible")),
        tuple(rows),
    )


def _thin(hour: Hour) -> bool:
    return len(hour.eligible) == 1


def _holes_table(holes: list[tuple[FacilityHours, list[Hour]]]) -> Table:
    rows = tuple(
        (*_run_cells(facility, run), "; ".join(dict.fromkeys(w for h in run for w in h.why)))
        for facility, run in holes
    )
    return Table(
        "holes", "Hours with nobody eligible on call", (*RUN_COLUMNS, Column("why", "Why")), rows
    )


def _hours_table(cover: Sequence[FacilityHours]) -> Table:
    rows = tuple(
        (
            facility.name,
            hour.start.date().isoformat(),
            hour.start.hour,
            _offset(hour.start),
            len(hour.eligible),
        )
        for facility in cover
        for hour in facility.hours
    )
    return Table(
        "hours",
        "Eligible radiologists on call, hour by hour",
        (
            Column("facility", "Facility"),
            Column("date", "Date (local)"),
            Column("hour", "Hour (local)"),
            Column("offset", "UTC offset"),
            Column("eligible", "Eligible on call", "count"),
        ),
        rows,
    )


def _run_cells(facility: FacilityHours, run: list[Hour]) -> tuple[Value, ...]:
    return (facility.name, _local(run[0].start), _local(run[-1].end), len(run))


def _offset(moment: datetime) -> str:
    """``-05:00``: which of the two 01:00s it is on the night the clocks fall back."""
    offset = moment.utcoffset()
    minutes = 0 if offset is None else int(offset.total_seconds()) // 60
    hours, rest = divmod(abs(minutes), 60)
    return f"{'-' if minutes < 0 else '+'}{hours:02d}:{rest:02d}"


def _local(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes")
