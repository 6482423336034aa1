"""The switchboard as the rooms below transport see it: publish to a session's participants, a
person or the radiologist lobby, on whatever worker they are connected; and hear a session's room.

``signaling.live.hub.Hub`` is the one implementation; the root builds it and hands it in (to the
pager, the media monitors, the session notices), so no domain imports ``live``.
"""

from __future__ import annotations

from typing import Any, Protocol


class Member(Protocol):
    """What the switchboard delivers to: a participant socket, or a media monitor hearing a room."""

    async def on_room(self, message: dict[str, Any]) -> None: ...

    def on_lobby(self, message: dict[str, Any]) -> None: ...

    def on_user(self, message: dict[str, Any]) -> None: ...


class Switchboard(Protocol):
    async def to_session(self, session_id: str, message: dict[str, Any]) -> None:
        """Both participants of a session."""

    async def to_participant(self, session_id: str, role: str, message: dict[str, Any]) -> None:
        """One participant of a session (``technologist`` or ``radiologist``)."""

    async def to_user(self, user_id: int, message: dict[str, Any]) -> None:
        """Every socket of one person."""

    async def to_user_confirmed(
        self, user_id: int, message: dict[str, Any], timeout_s: float
    ) -> int:
        """Every socket of one person, with an ``ack`` token added; how many of their open pages
        confirmed (``confirm``) within ``timeout_s`` that they showed it (0: none)."""

    async def confirm(self, token: str) -> None:
        """A page showed a message sent by ``to_user_confirmed`` with this ``ack`` token: count it
        for the sender, on whatever worker it waits."""

    async def to_lobby(self, message: dict[str, Any]) -> None:
        """Every radiologist console."""

    async def end_logins(self, user_id: int, login_ids: list[int], reason: str) -> None:
        """Close every socket of these logins of one person, on any worker (``reason``: an
        ``accounts.logins.Ended``). Raises BusUnavailable when only this worker's could be."""

    def has_ended(self, login_id: int) -> bool:
        """Whether this worker has heard that this login ended."""

    def enter_room(self, session_id: str, role: str, member: Member) -> None: ...

    def leave_room(self, session_id: str, role: str, member: Member) -> None: ...

    def enter_user(self, user_id: int, member: Member) -> None: ...

    def leave_user(self, user_id: int, member: Member) -> None: ...

    def enter_lobby(self, member: Member) -> None: ...

    def leave_lobby(self, member: Member) -> None: ...

    def members(self) -> int:
        """Distinct local members in rooms, the lobby or a person's channel."""
