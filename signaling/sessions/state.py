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
    """Why a request was cancelled before it was done, so each cause can be counted ("cancelled
    because nobody covered" is ``no_coverage``).

    Names earlier releases stored (and clients may still send) are read as today's:
    ``CancelReason("no_radiologist")`` is ``NO_COVERAGE``. The database is not migrated; read a
    stored value through ``cancel_reason_of`` wherever it is shown."""

    NO_COVERAGE = "no_coverage"  # no radiologist covered the request
    PATIENT_DECLINED = "patient_declined"
    CLINICAL = "clinical"  # a clinical reason not to go ahead (e.g. renal function, pregnancy)
    EQUIPMENT = "equipment"  # scanner, injector, network or other equipment problem
    EXAM_CANCELLED = "exam_cancelled"
    REQUESTED_IN_ERROR = "requested_in_error"
    OTHER = "other"

    @classmethod
    def _missing_(cls, value: object) -> CancelReason | None:
        return _FORMER_NAMES.get(value) if isinstance(value, str) else None


# The one place that knows the old names: what was stored or sent before the rename.
_FORMER_NAMES: dict[str, CancelReason] = {
    "no_radiologist": CancelReason.NO_COVERAGE,
    "technical_problem": CancelReason.EQUIPMENT,
}


def cancel_reason_of(stored: str | None) -> str | None:
    """A stored ``cancel_reason`` as today's reason (a ``CancelReason``, old names mapped); None
    for none. A value no release ever wrote is given back as stored, never silently relabelled."""
    if stored is None:
        return None
    try:
        return CancelReason(stored)
    except ValueError:
        return stored


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
