"""The supervision session state machine refuses what is not written out."""

from __future__ import annotations

import pytest

from signaling.common.errors import IllegalTransition
from signaling.sessions.state import SessionEvent, SessionState, next_state


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
