"""One worker's answer to a scrape: the database's counts, every worker's figures, what answered.

A dependency that does not answer in time costs only the families it feeds: the answer is still
200, with ``standby_dependency_up{dependency=...} 0`` (see README, *Metrics*). A 503 would make
Prometheus drop the whole scrape, and with it the per-worker figures that matter most then (the
pager's lateness grows while the database is away), and would look the same as Standby itself down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import redis.asyncio as aioredis

from paging.store import database_unavailable
from signaling.metrics import service_counts
from signaling.metrics.board import RedisBoard
from signaling.metrics.exposition import (
    dependency_family,
    render,
    service_families,
    worker_families,
)
from signaling.metrics.worker_figures import WorkerFigures
from signaling.storage.database import SessionFactory

log = logging.getLogger(__name__)

# Both inside Prometheus's default scrape timeout (10 s). The database's scans take about 1.5 s
# over a million sessions and three million pages (README, *Metrics*).
DATABASE_TIMEOUT_S = 5.0
REDIS_TIMEOUT_S = 2.0


class Scraper:
    """Built once per worker; ``text(now)`` for each scrape."""

    def __init__(
        self,
        db: SessionFactory,
        board: RedisBoard | None,
        own: Callable[[float], WorkerFigures],
    ) -> None:
        self.db = db
        self.board = board  # None: no Redis, this worker is the only one
        self.own = own
        self._missing: set[str] = set()  # dependencies that did not answer the last scrape

    async def publish(self, clock: Callable[[], float], stopping: asyncio.Event) -> None:
        """This worker's figures on the board until ``stopping`` is set (``RedisBoard.run``),
        then the board closed; returns at once when there is no board."""
        if self.board is None:
            return
        try:
            await self.board.run(self.own, clock, stopping)
        finally:
            await self.board.close()

    async def text(self, now: float) -> bytes:
        """The exposition at epoch second ``now``."""
        families = []
        up: dict[str, bool] = {}
        counts = await self._counts()
        up["database"] = counts is not None
        if counts is not None:
            families += service_families(counts)
        mine = self.own(now)
        workers = {mine.worker: mine}  # this worker's own figures are the freshest
        if self.board is not None:
            others = await self._others(self.board)
            up["redis"] = others is not None
            for figures in others or []:
                workers.setdefault(figures.worker, figures)
        families += worker_families(workers.values(), now)
        families.append(dependency_family(up))
        for dependency, answered in up.items():
            self._note(dependency, answered)
        return render(families)

    async def _counts(self) -> service_counts.ServiceCounts | None:
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT_S), self.db() as db, db.begin():
                return await service_counts.read(db)
        except Exception as exc:
            if not (isinstance(exc, TimeoutError) or database_unavailable(exc)):
                raise
            return None

    @staticmethod
    async def _others(board: RedisBoard) -> list[WorkerFigures] | None:
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_S):
                return await board.read_all()
        except (aioredis.RedisError, OSError, TimeoutError):
            return None

    def _note(self, dependency: str, answered: bool) -> None:
        """One line when a dependency stops answering scrapes, one when it is back."""
        if not answered and dependency not in self._missing:
            self._missing.add(dependency)
            log.warning("metrics: %s does not answer; scrapes leave out its figures", dependency)
        elif answered and dependency in self._missing:
            self._missing.discard(dependency)
            log.warning("metrics: %s answers again; scrapes are whole", dependency)
