"""A worker's figures as other workers read them from the board: the same back, or refused."""

from __future__ import annotations

import json

import pytest

from paging.lateness import Lateness
from signaling.metrics.worker_figures import WorkerFigures


def figures() -> WorkerFigures:
    tally = Lateness((0.1, 1.0))
    for seconds in (0.02, 0.4, 3.0):
        tally.observe(seconds)
    return WorkerFigures("host-a:4242", 1_790_000_000.5, tally.snapshot(), 3, 40)


def test_figures_come_back_as_they_were_written() -> None:
    again = WorkerFigures.from_json(figures().to_json())
    assert again == figures()
    assert again.timer_lateness.cumulative == (1, 2, 3)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "{}",
        json.dumps(json.loads(figures().to_json()) | {"monitors": "many"}),
        json.dumps(json.loads(figures().to_json()) | {"at": "NaN"}),
        figures().to_json().replace('"cumulative":[1,2,3]', '"cumulative":[1,2]'),
        figures().to_json().replace('"cumulative":[1,2,3]', '"cumulative":[3,2,1]'),
    ],
)
def test_anything_else_under_the_key_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a worker's figures"):
        WorkerFigures.from_json(text)
