"""The metric families a scrape shows, from what was read, in Prometheus's text format.

Service-wide families come from the database (``service_counts``) and are the same whichever worker
answers; per-worker families carry a ``worker`` label and come from every worker's figures
(``board``). ``standby_dependency_up`` says, per dependency, whether this scrape could read it: a
family whose source did not answer is left out rather than shown as zeros.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from prometheus_client import generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from signaling.metrics.service_counts import LATENCY_BOUNDS_S, ServiceCounts
from signaling.metrics.worker_figures import WorkerFigures


def _le(bound: float) -> str:
    """A bucket's ``le`` as Prometheus's own clients write it: ``5.0``, ``0.025``."""
    return repr(float(bound))


def _buckets(bounds: Sequence[float], cumulative: Sequence[int]) -> list[tuple[str, float]]:
    labels = [_le(bound) for bound in bounds] + ["+Inf"]
    return list(zip(labels, (float(n) for n in cumulative), strict=True))


def service_families(counts: ServiceCounts) -> list[Metric]:
    latency = HistogramMetricFamily(
        "standby_join_latency_seconds",
        "Request to verified two-way media (the join), per facility, over every session ever "
        "joined; under 30 s best in class, over 90 s a risk",
        labels=["facility"],
    )
    for facility, tally in sorted(counts.join_latency.items()):
        latency.add_metric(
            [facility], _buckets(LATENCY_BOUNDS_S, tally.cumulative), sum_value=tally.sum_s
        )
    unmeasured = CounterMetricFamily(
        "standby_sessions_unmeasured",
        "Sessions that ended without a join, per facility: a failure, never missing data",
        labels=["facility"],
    )
    for facility, n in sorted(counts.unmeasured.items()):
        unmeasured.add_metric([facility], n)
    ended = CounterMetricFamily(
        "standby_sessions_ended",
        "Sessions that ended, per facility and outcome (completed, cancelled)",
        labels=["facility", "outcome"],
    )
    for (facility, outcome), n in sorted(counts.ended.items()):
        ended.add_metric([facility, outcome], n)
    open_sessions = GaugeMetricFamily(
        "standby_sessions_open",
        "Sessions not ended, per facility and state (requested, paging, joined)",
        labels=["facility", "state"],
    )
    for (facility, state), n in sorted(counts.open_sessions.items()):
        open_sessions.add_metric([facility, state], n)
    pages = GaugeMetricFamily(
        "standby_pages",
        "Pages the pager has written, by channel, purpose (page, stat, alert) and where each "
        "stands now (pending, sending, sent, failed, voicemail, skipped, cancelled). Pages are "
        "kept, but one moves from sent to failed or voicemail when the carrier says so: a gauge, "
        "read with delta(), not rate()",
        labels=["channel", "purpose", "outcome"],
    )
    for (channel, purpose, outcome), n in sorted(counts.pages.items()):
        pages.add_metric([channel, purpose, outcome], n)
    return [latency, unmeasured, ended, open_sessions, pages]


def worker_families(workers: Iterable[WorkerFigures], now: float) -> list[Metric]:
    lateness = HistogramMetricFamily(
        "standby_pager_timer_lateness_seconds",
        "How late each worker's pager took up a due timer (a tier, a STAT round, the final "
        "action) after its due time",
        labels=["worker"],
    )
    monitors = GaugeMetricFamily(
        "standby_media_monitors", "Media monitors in use on each worker", labels=["worker"]
    )
    monitors_max = GaugeMetricFamily(
        "standby_media_monitors_max",
        "Media monitors each worker may run at once (STANDBY_MONITOR_MAX)",
        labels=["worker"],
    )
    age = GaugeMetricFamily(
        "standby_worker_figures_age_seconds",
        "How old each worker's figures were when this scrape read them",
        labels=["worker"],
    )
    for figures in sorted(workers, key=lambda f: f.worker):
        snapshot = figures.timer_lateness
        lateness.add_metric(
            [figures.worker],
            _buckets(snapshot.bounds, snapshot.cumulative),
            sum_value=snapshot.sum_s,
        )
        monitors.add_metric([figures.worker], figures.monitors)
        monitors_max.add_metric([figures.worker], figures.monitors_max)
        age.add_metric([figures.worker], max(0.0, now - figures.at))
    return [lateness, monitors, monitors_max, age]


def dependency_family(up: Mapping[str, bool]) -> Metric:
    family = GaugeMetricFamily(
        "standby_dependency_up",
        "1 if this scrape could read the dependency (database, redis), 0 if it did not answer: "
        "the families it feeds are then left out",
        labels=["dependency"],
    )
    for dependency, answered in sorted(up.items()):
        family.add_metric([dependency], 1.0 if answered else 0.0)
    return family


class _Families:
    """A collector of the families already built for this scrape."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def render(families: Sequence[Metric]) -> bytes:
    """The families in Prometheus's text format 0.0.4."""
    return generate_latest(_Families(families))
