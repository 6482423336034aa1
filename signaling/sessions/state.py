"""The supervision session state machine, written out.

    requested --page--> paging --join--> joined --end(completed)--> ended
        |                  |                |
        `------------------`--end(cancelled, reason)---------------> ended

``requested`` is the moment the technologist asked; ``paging`` the moment radiologists were told;
``joined`` the moment the server holds both participants' reports that remote video is decoding and
remote audio arriving. ``ended`` is final.
"""

from __future__ import annotations

from enum import StrEnum

from signaling.common.errors import IllegalTransition


class SessionState(StrEnum):
    REQUESTED = "requested"
    PAGING = "paging"
    JOINED = "joined"
    ENDED = "ended"


class SessionEvent(StrEnum):
    PAGE = "page"
    JOIN = "join"
    COMPLETE = "complete"
    CANCEL = "cancel"
    MEDIA_LOST = "media_lost"  # the radiologist's media stayed gone: page again


class Outcome(StrEnum):
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class CancelReason(StrEnum):
    EXAM_CANCELLED = "exam_cancelled"
    PATIENT_DECLINED = "patient_declined"
    NO_RADIOLOGIST = "no_radiologist"
    TECHNICAL_PROBLEM = "technical_problem"
    REQUESTED_IN_ERROR = "requested_in_error"
    OTHER = "other"


_TRANSITIONS: dict[tuple[SessionState, SessionEvent], SessionState] = {
    (SessionState.REQUESTED, SessionEvent.PAGE): SessionState.PAGING,
    (SessionState.PAGING, SessionEvent.JOIN): SessionState.JOINED,
    (SessionState.JOINED, SessionEvent.MEDIA_LOST): SessionState.PAGING,
    (SessionState.JOINED, SessionEvent.COMPLETE): SessionState.ENDED,
    (SessionState.REQUESTED, SessionEvent.CANCEL): SessionState.ENDED,
    (SessionState.PAGING, SessionEvent.CANCEL): SessionState.ENDED,
    (SessionState.JOINED, SessionEvent.CANCEL): SessionState.ENDED,
}


def next_state(current: SessionState, event: SessionEvent) -> SessionState:
    """The state after ``event``; raises IllegalTransition naming what was expected."""
    try:
        return _TRANSITIONS[(current, event)]
    except KeyError:
        allowed = sorted(state for (state, ev) in _TRANSITIONS if ev is event)
        raise IllegalTransition(
            expected=f"a session in {' or '.join(allowed)} to {event.value}", arrived=current.value
        ) from None
