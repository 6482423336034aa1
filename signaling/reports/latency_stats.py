"""What a group of ended sessions says about join latency: how many, percentiles of the measured
joins, and how many fell in each band (unmeasured included, a failure in every denominator).

PostgreSQL's are computed from the packed facts with numpy (``fact_groups``); SQLite's rows are
summed up here (``of_latencies``) the same way."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from signaling.reports.percentiles import percentile_cont
from signaling.reports.scope import Band, band_of

QUANTILES = (0.5, 0.9, 0.95)


@dataclass(frozen=True)
class LatencyStats:
    """``p50``..``max`` over measured joins (None when none was measured); ``bands`` counts every
    session, unmeasured included."""

    sessions: int = 0
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    max: float | None = None
    bands: dict[Band, int] = field(default_factory=dict)

    def count(self, band: Band) -> int:
        return self.bands.get(band, 0)

    def share(self, band: Band) -> float | None:
        """Fraction of the sessions in ``band``; None for no sessions."""
        return self.count(band) / self.sessions if self.sessions else None

    @property
    def share_over_90_or_unmeasured(self) -> float | None:
        if not self.sessions:
            return None
        return (self.count(Band.OVER_90) + self.count(Band.UNMEASURED)) / self.sessions


def seconds(value: float | None) -> float | None:
    """Seconds as reports show them: to the millisecond (the two databases agree to far better)."""
    return None if value is None else round(float(value), 3)


def of_latencies(latencies: Iterable[float | None]) -> LatencyStats:
    """Stats of ended sessions given each one's latency (None: unmeasured)."""
    values = list(latencies)
    measured = sorted(v for v in values if v is not None)
    bands: dict[Band, int] = {}
    for v in values:
        band = band_of(v)
        bands[band] = bands.get(band, 0) + 1
    p50, p90, p95 = (seconds(percentile_cont(measured, q)) for q in QUANTILES)
    return LatencyStats(
        sessions=len(values),
        p50=p50,
        p90=p90,
        p95=p95,
        max=seconds(measured[-1]) if measured else None,
        bands=bands,
    )
