"""One worker's switchboard: which local sockets sit in which room or lobby, and the bus channels.

Channels (under the bus prefix): ``session:<id>:<role>`` reaches that participant's socket wherever it
is connected, ``session:<id>`` both participants; ``lobby`` reaches every radiologist console;
``user:<id>`` every socket of one person;
``ack:<token>`` carries back that a page of the person showed a confirmed message (the page says
so through its socket: a socket that merely received it does not count).

A login that ends (logout, expiry, account disabled) is announced on its person's channel
(``login_ended``). Every worker remembers it for a while and drops any room message a socket of that
login published: the bus delivers in publish order, so nothing a socket sends after the announcement
reaches a peer, on any worker, even before its own worker has closed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from signaling.common.switchboard import Member
from signaling.live.bus import Bus

log = logging.getLogger(__name__)

TECHNOLOGIST, RADIOLOGIST = "technologist", "radiologist"
LOBBY = "lobby"
ACK_SETTLE_S = 0.2  # after the first worker's answer, how long others may still answer
LOGIN_ENDED = "login_ended"
# Long past any socket's own re-check of its login (``STANDBY_LOGIN_RECHECK_S``).
REMEMBER_ENDED_S = 600.0


def other(role: str) -> str:
    return RADIOLOGIST if role == TECHNOLOGIST else TECHNOLOGIST


def room_channel(session_id: str, role: str) -> str:
    return f"session:{session_id}:{role}"


def session_channel(session_id: str) -> str:
    return f"session:{session_id}"


class Hub:
    """The one ``Switchboard`` (``signaling.common.switchboard``) of a worker."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._rooms: dict[tuple[str, str], set[Member]] = defaultdict(set)
        self._lobby: set[Member] = set()
        self._users: dict[int, set[Member]] = defaultdict(set)
        self._acks: dict[str, asyncio.Queue[int]] = {}
        self._ended: dict[int, float] = {}  # login id -> when this worker heard it ended

    async def start(self) -> None:
        await self.bus.start(self._dispatch)

    async def _dispatch(self, channel: str, message: dict[str, Any]) -> None:
        if channel == LOBBY:
            for member in list(self._lobby):
                member.on_lobby(message)
            return
        parts = channel.split(":")
        if len(parts) == 2 and parts[0] == "ack":
            queue = self._acks.get(parts[1])
            if queue is not None:
                queue.put_nowait(int(message.get("reached", 0)))
            return
        if len(parts) == 2 and parts[0] == "user" and parts[1].isdigit():
            self._to_local_user(int(parts[1]), message)
            return
        if parts[0] != "session" or len(parts) not in (2, 3):
            log.warning("bus: message on unknown channel %s", channel)
            return
        if message.get("login") in self._ended:
            return  # sent by a socket whose login had already ended
        roles = parts[2:] or (TECHNOLOGIST, RADIOLOGIST)
        for role in roles:
            for member in list(self._rooms.get((parts[1], role), ())):
                try:
                    await member.on_room(message)
                except Exception:
                    log.exception("bus: a socket failed to take a %s message", message.get("kind"))

    def enter_room(self, session_id: str, role: str, member: Member) -> None:
        self._rooms[(session_id, role)].add(member)

    def leave_room(self, session_id: str, role: str, member: Member) -> None:
        members = self._rooms.get((session_id, role))
        if members is not None:
            members.discard(member)
            if not members:
                del self._rooms[(session_id, role)]

    def enter_user(self, user_id: int, member: Member) -> None:
        self._users[user_id].add(member)

    def leave_user(self, user_id: int, member: Member) -> None:
        members = self._users.get(user_id)
        if members is not None:
            members.discard(member)
            if not members:
                del self._users[user_id]

    def _to_local_user(self, user_id: int, message: dict[str, Any]) -> int:
        """Hand it to this worker's sockets of that person; how many there were."""
        if message.get("kind") == LOGIN_ENDED:
            self._remember_ended(message["logins"])
        members = list(self._users.get(user_id, ()))
        for member in members:
            member.on_user(message)
        return len(members)

    def _remember_ended(self, login_ids: Iterable[int]) -> None:
        now = time.monotonic()
        for login_id in login_ids:
            self._ended.setdefault(login_id, now)
        stale = [i for i, at in self._ended.items() if now - at > REMEMBER_ENDED_S]
        for login_id in stale:
            del self._ended[login_id]

    def has_ended(self, login_id: int) -> bool:
        """Whether this worker has heard that this login ended."""
        return login_id in self._ended

    async def to_user(self, user_id: int, message: dict[str, Any]) -> None:
        """Every socket of that person, on any worker (pages, "covered" notices)."""
        await self.bus.publish(f"user:{user_id}", message)

    async def to_user_confirmed(
        self, user_id: int, message: dict[str, Any], timeout_s: float
    ) -> int:
        """Every socket of that person, on any worker, with an ``ack`` token; how many of their
        pages confirmed showing it (0: no such page open): the first confirmation within
        ``timeout_s``, then any more within ``ACK_SETTLE_S``."""
        token = uuid.uuid4().hex
        queue: asyncio.Queue[int] = asyncio.Queue()
        self._acks[token] = queue
        reached = 0
        try:
            await self.bus.publish(f"user:{user_id}", message | {"ack": token})
            # The first answer, then a short while for other workers holding more of their pages.
            async with asyncio.timeout(timeout_s):
                reached += await queue.get()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ACK_SETTLE_S):
                    while True:
                        reached += await queue.get()
        except TimeoutError:
            pass
        finally:
            del self._acks[token]
        return reached

    async def confirm(self, token: str) -> None:
        """A page showed the message that carried ``ack`` ``token``: tell the worker waiting."""
        await self.bus.publish(f"ack:{token}", {"reached": 1})

    async def end_logins(self, user_id: int, login_ids: list[int], reason: str) -> None:
        """Close the sockets of these logins of one person, on every worker. This worker's close
        at once, whether or not the bus is up (BusUnavailable: the others' own re-check will)."""
        message = {"kind": LOGIN_ENDED, "logins": login_ids, "reason": reason}
        self._to_local_user(user_id, message)
        await self.to_user(user_id, message)

    def enter_lobby(self, member: Member) -> None:
        self._lobby.add(member)

    def leave_lobby(self, member: Member) -> None:
        self._lobby.discard(member)

    async def to_participant(self, session_id: str, role: str, message: dict[str, Any]) -> None:
        await self.bus.publish(room_channel(session_id, role), message)

    async def to_session(self, session_id: str, message: dict[str, Any]) -> None:
        """Both participants: one message on the session's own channel (every page's stats go
        to both sockets, a thousand a second at 500 sessions: one publish each, not two)."""
        await self.bus.publish(session_channel(session_id), message)

    async def to_lobby(self, message: dict[str, Any]) -> None:
        await self.bus.publish(LOBBY, message)

    def members(self) -> int:
        """Distinct local sockets in rooms or the lobby (a radiologist's socket may be in both)."""
        in_rooms = {id(m) for ms in self._rooms.values() for m in ms}
        in_users = {id(m) for ms in self._users.values() for m in ms}
        return len(in_rooms | in_users | {id(m) for m in self._lobby})
