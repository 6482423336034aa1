"""What the pager needs from a phone carrier: send an SMS, place a call, and one error type.

The pager decides what to do with a failure from ``CarrierError.retryable``: a retryable error
(the carrier was unreachable, timed out, throttled us or failed on its side) may succeed if the
same page is sent again shortly; a non-retryable one (bad credentials, an invalid number, a
number that replied STOP) will fail the same way every time.

Errors::

    Exception
    └── CarrierError            .retryable, .status (HTTP, if any), .code (carrier's own, if any)
"""

from __future__ import annotations

from typing import Protocol


class CarrierError(Exception):
    """The carrier did not accept a message or call; ``retryable`` says whether to try again."""

    def __init__(
        self, message: str, *, retryable: bool, status: int | None = None, code: int | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.code = code


class Carrier(Protocol):
    """Outbound SMS and voice. Both return the carrier's id for the message or call.

    A returned id means the carrier *queued* it; delivery and answering arrive later as signed
    status callbacks, and they are evidence, never acknowledgement.
    """

    async def send_sms(self, to: str, body: str, status_callback: str) -> str: ...

    async def place_call(
        self, to: str, twiml_url: str, status_callback: str, machine_detection: bool = True
    ) -> str: ...
