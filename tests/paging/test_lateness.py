"""The pager's lateness tally: each value in the first bucket at or above it, cumulative counts."""

from __future__ import annotations

import pytest

from paging.lateness import BOUNDS_S, Lateness


def test_values_land_in_the_first_bucket_at_or_above_them() -> None:
    """0.05 s is in the 0.05 s bucket (<=), early counts as 0, past the last bound only in +Inf."""
    tally = Lateness((0.05, 1.0, 10.0))
    for seconds in (0.05, -2.0, 0.051, 1.0, 9.99, 60.0):
        tally.observe(seconds)
    snapshot = tally.snapshot()
    assert snapshot.bounds == (0.05, 1.0, 10.0)
    assert snapshot.cumulative == (2, 4, 5, 6)
    assert snapshot.count == 6
    assert snapshot.sum_s == pytest.approx(0.05 + 0 + 0.051 + 1.0 + 9.99 + 60.0)


def test_a_fresh_tally_has_every_bucket_at_zero() -> None:
    snapshot = Lateness().snapshot()
    assert snapshot.bounds == BOUNDS_S
    assert snapshot.cumulative == (0,) * (len(BOUNDS_S) + 1)
    assert snapshot.sum_s == 0.0


@pytest.mark.parametrize("bounds", [(), (1.0, 0.5), (1.0, 1.0), (1.0, float("inf"))])
def test_bounds_must_be_finite_distinct_and_ascending(bounds: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="ascending"):
        Lateness(bounds)
