"""Latency stats of a scope's sessions under several groupings, from the packed facts
(``latency_facts``) with numpy: the same rows and numbers as SQLite's path
(``latency_groups._in_python``) and PostgreSQL's ``percentile_cont``, the same interpolation on
the same doubles, in a fraction of the time (a year of fifty facilities: one sort by latency, then
one stable sort of small group numbers per grouping).

Local times are computed here in each facility's zone (``zoneinfo``): the offset changes found day
by day over the period, then to the second."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports import latency_facts, latency_stats
from signaling.reports.breakdowns import Key
from signaling.reports.latency_stats import QUANTILES, LatencyStats
from signaling.reports.scope import Band, Scope
from signaling.reports.session_facts import BIN_S, LAST_BIN
from signaling.storage.models import Facility, Room

Grouping = tuple[str, ...]
Groups = dict[Grouping, dict[Key, LatencyStats]]

SECOND_US = 1_000_000
DAY_US = 86_400 * SECOND_US
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
BANDS = (Band.UNDER_30, Band.S30_60, Band.S60_90, Band.OVER_90, Band.UNMEASURED)


def _offset_us(zone: ZoneInfo, utc_us: int) -> int:
    moment = datetime.fromtimestamp(utc_us // SECOND_US, UTC).astimezone(zone)
    offset = moment.utcoffset()
    return int(offset.total_seconds()) * SECOND_US if offset is not None else 0


def local_us(zone: ZoneInfo, utc_us: np.ndarray) -> np.ndarray:
    """Microseconds of local wall time for each UTC instant (as PostgreSQL's ``timezone()``)."""
    if not len(utc_us):
        return utc_us
    first = int(utc_us.min()) // DAY_US - 1
    last = int(utc_us.max()) // DAY_US + 2
    starts = [first * DAY_US]
    offsets = [_offset_us(zone, starts[0])]
    for day in range(first + 1, last + 1):
        at = day * DAY_US
        offset = _offset_us(zone, at)
        if offset != offsets[-1]:
            low, high = (day - 1) * DAY_US // SECOND_US, at // SECOND_US  # seconds
            while high - low > 1:  # the first second of the new offset
                middle = (low + high) // 2
                if _offset_us(zone, middle * SECOND_US) == offset:
                    high = middle
                else:
                    low = middle
            starts.append(high * SECOND_US)
            offsets.append(offset)
    which = np.searchsorted(np.array(starts, dtype=np.int64), utc_us, side="right") - 1
    return utc_us + np.array(offsets, dtype=np.int64)[which]


def _lookup(values: np.ndarray, table: dict[int, int]) -> np.ndarray:
    """``table[v]`` for each value (-1 where absent), looked up once per distinct value."""
    distinct, which = np.unique(values, return_inverse=True)
    return np.array([table.get(int(v), -1) for v in distinct], dtype=np.int64)[which.reshape(-1)]


class Columns:
    """The scope's sessions as parallel arrays of small integer codes, one per field a grouping
    or a filter reads (``code``: the local times and the rest derived when first asked for), and
    each session's latency in seconds and band. Sessions stay in order of facility."""

    def __init__(
        self, facts: dict[int, np.ndarray], zones: dict[int, str], modality: dict[int, str]
    ) -> None:
        ids = sorted(facts)
        records = (
            np.concatenate([facts[i] for i in ids]) if ids else np.empty(0, latency_facts.DTYPE)
        )
        self.zones = zones
        self.modality = modality
        self.modalities = sorted(set(modality.values()))
        self.facility = np.repeat(np.array(ids, dtype=np.int64), [len(facts[i]) for i in ids])
        self.requested_us = records["requested_us"].astype(np.int64)
        latency_us = records["latency_us"].astype(np.int64)
        measured = latency_us >= 0
        # Seconds as PostgreSQL's date_part('epoch', interval) gives them: microseconds / 1e6.
        self.latency = np.where(measured, latency_us / 1e6, np.nan)
        with np.errstate(invalid="ignore"):
            self.band = np.select(
                [~measured, self.latency < 30.0, self.latency < 60.0, self.latency < 90.0],
                [4, 0, 1, 2],
                default=3,
            )
        self.codes: dict[str, np.ndarray] = {
            "facility_id": self.facility,
            "room_id": records["room_id"].astype(np.int64),
            "radiologist_id": records["radiologist_id"].astype(np.int64),
            "tier": records["tier"].astype(np.int64),
            "via": records["via"].astype(np.int64),
            "outcome": records["outcome"].astype(np.int64),
        }

    def code(self, field: str) -> np.ndarray:
        """Each session's code for ``field`` (derived fields computed once, when first read)."""
        found = self.codes.get(field)
        if found is None:
            self.codes.update(self._derived(field))
            found = self.codes[field]
        return found

    def _derived(self, field: str) -> dict[str, np.ndarray]:
        measured = ~np.isnan(self.latency)
        if field == "modality":
            table = {r: self.modalities.index(m) for r, m in self.modality.items()}
            return {field: _lookup(self.codes["room_id"], table)}
        if field == "joined":
            return {field: measured.astype(np.int64)}
        if field == "bin":
            with np.errstate(invalid="ignore"):
                binned = np.clip(np.floor(np.nan_to_num(self.latency) / BIN_S), 0, LAST_BIN)
            return {field: np.where(measured, binned, -1).astype(np.int64)}
        local = self._local()
        day = local // DAY_US
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        month = day.astype("datetime64[D]").astype("datetime64[M]").astype("datetime64[D]")
        return {
            "hour": (local // (3600 * SECOND_US)) % 24,
            "weekday": weekday,
            "week": day - weekday,
            "month": month.astype(np.int64),
        }

    def _local(self) -> np.ndarray:
        local = np.empty_like(self.requested_us)
        if not len(local):
            return local
        ids, starts = np.unique(self.facility, return_index=True)
        ends = [*starts[1:].tolist(), len(self.facility)]
        for fid, start, end in zip(ids.tolist(), starts.tolist(), ends, strict=True):
            local[start:end] = local_us(ZoneInfo(self.zones[fid]), self.requested_us[start:end])
        return local

    @property
    def n(self) -> int:
        return len(self.band)

    def keep(self, mask: np.ndarray) -> None:
        """Only the sessions where ``mask`` is true."""
        self.latency, self.band = self.latency[mask], self.band[mask]
        self.facility, self.requested_us = self.facility[mask], self.requested_us[mask]
        self.codes = {f: values[mask] for f, values in self.codes.items()}

    def value(self, field: str, code: int) -> Any:
        """A field's code as the key the report reads (None where the session has none)."""
        if field == "joined":
            return bool(code)
        if field in ("week", "month"):
            return date.fromordinal(EPOCH_ORDINAL + code)
        if field == "modality":
            return self.modalities[code] if code >= 0 else None
        if field == "via":
            return latency_facts.VIAS[code] if code >= 0 else None
        if field in ("radiologist_id", "tier", "bin") and code < 0:
            return None
        return code


def _stats(
    columns: Columns, number: np.ndarray, count: int, order: np.ndarray, ordered: np.ndarray
) -> list[LatencyStats]:
    """Each group's stats (``number``: each session's group, 0 .. count-1; ``order``: the
    measured sessions' indexes by latency, ``ordered`` their latencies). Percentiles as
    ``percentiles.percentile_cont``."""
    sessions = np.bincount(number, minlength=count)
    bands = np.bincount(number * 5 + columns.band, minlength=count * 5).reshape(count, 5)
    # Each group's latencies in order: a stable sort of the group numbers of the sessions in
    # latency order (a radix sort when the numbers fit 16 bits).
    by_group = number[order]
    measured = np.bincount(by_group, minlength=count)
    if count > 1:
        within = np.argsort(by_group.astype(np.int16 if count < 2**15 else np.int64), kind="stable")
        values = ordered[within]
    else:
        values = ordered
    starts = np.cumsum(measured) - measured
    last = max(len(values) - 1, 0)
    figures: list[list[float]] = []
    tops = (starts + measured - 1).clip(0, last)
    for q in QUANTILES:
        position = q * (measured - 1)
        low = np.floor(position)
        high = np.ceil(position)
        if len(values):
            at_low = values[(starts + low.astype(np.int64)).clip(0, last)]
            at_high = values[(starts + high.astype(np.int64)).clip(0, last)]
            figures.append((at_low + (at_high - at_low) * (position - low)).tolist())
        else:
            figures.append([0.0] * count)
    top = values[tops].tolist() if len(values) else [0.0] * count
    out = []
    for g, (n, m, counts) in enumerate(
        zip(sessions.tolist(), measured.tolist(), bands.tolist(), strict=True)
    ):
        has = m > 0
        out.append(
            LatencyStats(
                sessions=n,
                p50=latency_stats.seconds(figures[0][g]) if has else None,
                p90=latency_stats.seconds(figures[1][g]) if has else None,
                p95=latency_stats.seconds(figures[2][g]) if has else None,
                max=latency_stats.seconds(top[g]) if has else None,
                bands={b: c for b, c in zip(BANDS, counts, strict=True) if c},
            )
        )
    return out


def _numbered(columns: Columns, grouping: Grouping) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Each session's group number under ``grouping`` (0 .. keys - 1, in the order of the keys'
    codes) and each group's codes. The codes are small ranges: one combined integer per session
    and a count of each (no sort)."""
    if not grouping:
        return np.zeros(columns.n, dtype=np.int64), [()]
    combined = np.zeros(columns.n, dtype=np.int64)
    lows, sizes = [], []
    for field in grouping:
        codes = columns.code(field)
        low = int(codes.min()) if columns.n else 0
        size = (int(codes.max()) - low + 1) if columns.n else 1
        combined = combined * size + (codes - low)
        lows.append(low)
        sizes.append(size)
    present = np.flatnonzero(np.bincount(combined, minlength=1))
    lookup = np.zeros(int(present[-1]) + 1 if len(present) else 1, dtype=np.int64)
    lookup[present] = np.arange(len(present))
    number = lookup[combined]
    keys = []
    for value in present.tolist():
        parts = []
        for low, size in zip(reversed(lows), reversed(sizes), strict=True):
            value, part = divmod(value, size)
            parts.append(part + low)
        keys.append(tuple(reversed(parts)))
    return number, keys


def group(columns: Columns, groupings: Sequence[Grouping]) -> Groups:
    """Each grouping's keys that have sessions, with their stats (the total's ``()`` always)."""
    order = np.flatnonzero(~np.isnan(columns.latency))
    order = order[np.argsort(columns.latency[order], kind="stable")]
    ordered = columns.latency[order]
    groups: Groups = {}
    for grouping in groupings:
        number, keys = _numbered(columns, grouping)
        stats = _stats(columns, number, len(keys), order, ordered)
        groups[grouping] = {
            tuple(columns.value(f, c) for f, c in zip(grouping, key, strict=True)): st
            for key, st in zip(keys, stats, strict=True)
            if st.sessions or not grouping
        }
    return groups


async def grouped(db: AsyncSession, scope: Scope, groupings: Sequence[Grouping]) -> Groups:
    """PostgreSQL: each grouping's stats over ``scope``'s ended sessions (filters applied)."""
    ids = sorted(scope.facility_ids)
    zones: dict[int, str] = {
        fid: zone
        for fid, zone in await db.execute(
            select(Facility.id, Facility.timezone).where(Facility.id.in_(ids))
        )
    }
    modality: dict[int, str] = {
        rid: m
        for rid, m in await db.execute(
            select(Room.id, Room.modality).where(Room.facility_id.in_(ids))
        )
    }
    facts = await latency_facts.read(db, ids, scope.period.start, scope.period.end)
    columns = Columns(facts, zones, modality)
    f = scope.filters
    mask = np.ones(columns.n, dtype=bool)
    if f.room_ids is not None:
        mask &= np.isin(columns.code("room_id"), sorted(f.room_ids))
    if f.modality is not None:
        wanted = columns.modalities.index(f.modality) if f.modality in columns.modalities else -2
        mask &= columns.code("modality") == wanted
    if f.radiologist_id is not None:
        mask &= columns.code("radiologist_id") == f.radiologist_id
    if f.outcome is not None:
        outcomes = latency_facts.OUTCOMES
        mask &= columns.code("outcome") == (
            outcomes.index(f.outcome) if f.outcome in outcomes else -2
        )
    if f.band is not None:
        mask &= columns.band == BANDS.index(f.band)
    if not mask.all():
        columns.keep(mask)
    return group(columns, groupings)
