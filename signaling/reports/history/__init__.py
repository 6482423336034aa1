"""Synthetic supervision history: plausible sessions, the paging rows a real run leaves, each
session's record (chained as the sealer chains it) and its stored coverage, for the facilities and
people of the directory over a period. For the demo's story at first start
(``history.demo``) and for the reports' benchmark (``bench/reports_data.py``).

``generate(db, HistorySpec(start, end, ...))`` writes it in bulk inside the caller's transaction.
"""

from __future__ import annotations

from signaling.reports.history.generator import Generated, generate
from signaling.reports.history.spec import HistorySpec, Response, Slow

__all__ = ["Generated", "HistorySpec", "Response", "Slow", "generate"]
