"""The supervision session state machine refuses what is not written out."""

from __future__ import annotations

import pytest

from signaling.common.errors import IllegalTransition
from signaling.sessions.state import (
    CancelReason,
    SessionEvent,
    SessionState,
    cancel_reason_of,
    next_state,
)


def test_the_happy_path() -> None:
    """requested -> paging -> joined -> ended."""
    state = SessionState.REQUESTED
    for event in (SessionEvent.PAGE, SessionEvent.JOIN, SessionEvent.COMPLETE):
        state = next_state(state, event)
    assert state is SessionState.ENDED


@pytest.mark.parametrize(
    "state", [SessionState.REQUESTED, SessionState.PAGING, SessionState.JOINED]
)
def test_cancel_from_every_open_state(state: SessionState) -> None:
    """A session can be cancelled until it has ended."""
    assert next_state(state, SessionEvent.CANCEL) is SessionState.ENDED


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (SessionState.ENDED, SessionEvent.CANCEL),
        (SessionState.ENDED, SessionEvent.JOIN),
        (SessionState.REQUESTED, SessionEvent.JOIN),
        (SessionState.PAGING, SessionEvent.COMPLETE),
        (SessionState.JOINED, SessionEvent.PAGE),
    ],
)
def test_illegal_transitions_name_what_was_expected(
    state: SessionState, event: SessionEvent
) -> None:
    """An illegal transition says which states allow the event and which state arrived."""
    with pytest.raises(IllegalTransition) as refused:
        next_state(state, event)
    assert refused.value.arrived == state.value
    assert event.value in refused.value.expected


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ("no_radiologist", CancelReason.NO_COVERAGE),  # the name before issue 10
        ("technical_problem", CancelReason.EQUIPMENT),
        ("no_coverage", CancelReason.NO_COVERAGE),
        ("clinical", CancelReason.CLINICAL),
        ("other", CancelReason.OTHER),
        (None, None),
        ("typed-by-hand", "typed-by-hand"),  # never written by Standby: shown as it is
    ],
)
def test_stored_cancel_reasons_read_as_todays(stored: str | None, read: str | None) -> None:
    """Old names read as their new ones; what no release wrote is given back, not relabelled."""
    assert cancel_reason_of(stored) == read


def test_the_old_names_are_accepted_but_not_offered() -> None:
    """``CancelReason("no_radiologist")`` is NO_COVERAGE, but the set lists only today's names."""
    assert CancelReason("no_radiologist") is CancelReason.NO_COVERAGE
    assert CancelReason("technical_problem") is CancelReason.EQUIPMENT
    assert [r.value for r in CancelReason] == [
        "no_coverage",
        "patient_declined",
        "clinical",
        "equipment",
        "exam_cancelled",
        "requested_in_error",
        "other",
    ]
    with pytest.raises(ValueError, match="bored"):
        CancelReason("bored")
