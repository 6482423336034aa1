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
from functools import cache
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


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


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
    or a filter reads, and each session's latency in seconds and band."""

    def __init__(
        self, facts: dict[int, np.ndarray], zones: dict[int, str], modality: dict[int, str]
    ) -> None:
        ids = sorted(facts)
        parts = [facts[i] for i in ids]
        records = np.concatenate(parts) if parts else np.empty(0, latency_facts.DTYPE)
        facility = np.concatenate(
            [np.full(len(facts[i]), i, dtype=np.int64) for i in ids] or [np.empty(0, np.int64)]
        )
        local = np.concatenate(
            [local_us(_zone(zones[i]), facts[i]["requested_us"].astype(np.int64)) for i in ids]
            or [np.empty(0, np.int64)]
        )
        self.modalities = sorted(set(modality.values()))
        latency_us = records["latency_us"].astype(np.int64)
        measured = latency_us >= 0
        # Seconds as PostgreSQL's date_part('epoch', interval) gives them: microseconds / 1e6.
        self.latency = np.where(measured, latency_us / 1e6, np.nan)
        day = local // DAY_US
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        month = day.astype("datetime64[D]").astype("datetime64[M]").astype("datetime64[D]")
        with np.errstate(invalid="ignore"):
            latency_bin = np.clip(np.floor(self.latency / BIN_S), 0, LAST_BIN)
        rooms = records["room_id"].astype(np.int64)
        self.codes: dict[str, np.ndarray] = {
            "facility_id": facility,
            "room_id": rooms,
            "modality": _lookup(rooms, {r: self.modalities.index(m) for r, m in modality.items()}),
            "radiologist_id": records["radiologist_id"].astype(np.int64),
            "tier": records["tier"].astype(np.int64),
            "via": records["via"].astype(np.int64),
            "outcome": records["outcome"].astype(np.int64),
            "joined": measured.astype(np.int64),
            "hour": (local // (3600 * SECOND_US)) % 24,
            "weekday": weekday,
            "week": day - weekday,
            "month": month.astype(np.int64),
            "bin": np.where(measured, np.nan_to_num(latency_bin), -1).astype(np.int64),
        }
        self.band = np.select(
            [~measured, self.latency < 30.0, self.latency < 60.0, self.latency < 90.0],
            [4, 0, 1, 2],
            default=3,
        )

    @property
    def n(self) -> int:
        return len(self.band)

    def keep(self, mask: np.ndarray) -> None:
        """Only the sessions where ``mask`` is true."""
        self.latency, self.band = self.latency[mask], self.band[mask]
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
    columns: Columns, group: np.ndarray, count: int, order: np.ndarray
) -> list[LatencyStats]:
    """Each group's stats (``group``: each session's group number, 0 .. count-1; ``order``: the
    measured sessions' indexes by latency). Percentiles as ``percentiles.percentile_cont``."""
    sessions = np.bincount(group, minlength=count)
    bands = np.bincount(group * 5 + columns.band, minlength=count * 5).reshape(count, 5)
    by_group = group[order]
    within = np.argsort(by_group, kind="stable")  # each group's latencies, in order
    values = columns.latency[order][within]
    measured = np.bincount(by_group, minlength=count)
    starts = np.cumsum(measured) - measured
    last = max(len(values) - 1, 0)
    figures: list[np.ndarray] = []
    for q in QUANTILES:
        position = q * (measured - 1)
        low = np.floor(position)
        high = np.ceil(position)
        at_low = values[np.clip(starts + low.astype(np.int64), 0, last)] if len(values) else low
        at_high = values[np.clip(starts + high.astype(np.int64), 0, last)] if len(values) else low
        figures.append(at_low + (at_high - at_low) * (position - low))
    top = values[np.clip(starts + measured - 1, 0, last)] if len(values) else np.zeros(count)
    out = []
    for g in range(count):
        has = bool(measured[g])
        p50, p90, p95 = (latency_stats.seconds(float(f[g])) if has else None for f in figures)
        out.append(
            LatencyStats(
                sessions=int(sessions[g]),
                p50=p50,
                p90=p90,
                p95=p95,
                max=latency_stats.seconds(float(top[g])) if has else None,
                bands={b: int(c) for b, c in zip(BANDS, bands[g], strict=True) if c},
            )
        )
    return out


def group(columns: Columns, groupings: Sequence[Grouping]) -> Groups:
    """Each grouping's keys that have sessions, with their stats (the total's ``()`` always)."""
    order = np.flatnonzero(~np.isnan(columns.latency))
    order = order[np.argsort(columns.latency[order], kind="stable")]
    groups: Groups = {}
    for grouping in groupings:
        if not grouping:
            number = np.zeros(columns.n, dtype=np.int64)
            keys = np.zeros((1, 0), dtype=np.int64)
        else:
            stacked = np.stack([columns.codes[f] for f in grouping], axis=1)
            keys, number = np.unique(stacked, axis=0, return_inverse=True)
        stats = _stats(columns, number.reshape(-1).astype(np.int64), len(keys), order)
        groups[grouping] = {
            tuple(columns.value(f, int(c)) for f, c in zip(grouping, keys[g], strict=True)): st
            for g, st in enumerate(stats)
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
        mask &= np.isin(columns.codes["room_id"], sorted(f.room_ids))
    if f.modality is not None:
        wanted = columns.modalities.index(f.modality) if f.modality in columns.modalities else -2
        mask &= columns.codes["modality"] == wanted
    if f.radiologist_id is not None:
        mask &= columns.codes["radiologist_id"] == f.radiologist_id
    if f.outcome is not None:
        outcomes = latency_facts.OUTCOMES
        mask &= columns.codes["outcome"] == (
            outcomes.index(f.outcome) if f.outcome in outcomes else -2
        )
    if f.band is not None:
        mask &= columns.band == BANDS.index(f.band)
    if not mask.all():
        columns.keep(mask)
    return group(columns, groupings)
