"""The synthetic participant's own contract: ICE configuration, refusals, and a clean close."""

from __future__ import annotations

import asyncio

import pytest

from media.participant import ParticipantClosed, ParticipantError, ice_configuration
from tests.live import LiveServer
from tests.media.calls import RADIOLOGIST, TECHNOLOGIST, open_call


def test_ice_configuration_is_always_explicit() -> None:
    """No ICE servers gives an explicit empty list (aiortc would otherwise use a public STUN)."""
    assert ice_configuration([]).iceServers == []
    (turn,) = ice_configuration(
        [{"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}]
    ).iceServers
    assert (turn.urls, turn.username, turn.credential) == ("turn:turn.example.org:3478", "u", "p")


async def test_participant_without_a_valid_login_is_refused_with_4401(server: LiveServer) -> None:
    """A socket with a bad cookie is closed 4401; connect() says so and leaves nothing running."""
    call = await open_call(server, accept=False)
    call.tech_token = "not-a-token"
    before = asyncio.all_tasks()
    with pytest.raises(ParticipantClosed) as refused:
        await call.participant(TECHNOLOGIST).connect()
    assert refused.value.code == 4401
    assert not {t for t in asyncio.all_tasks() - before if not t.done()}


async def test_radiologist_join_before_accept_raises_with_the_server_code(
    server: LiveServer,
) -> None:
    """Joining a request the radiologist has not accepted raises ParticipantError not_accepted."""
    call = await open_call(server, accept=False)
    async with call.participant(RADIOLOGIST) as rad:
        with pytest.raises(ParticipantError, match="not_accepted"):
            await rad.join(call.session_id)


async def test_close_leaves_no_task_behind(server: LiveServer) -> None:
    """After close() no task started for the call (ours or aiortc's) is left running."""
    call = await open_call(server)
    before = asyncio.all_tasks()
    tech, rad = call.participant(TECHNOLOGIST), call.participant(RADIOLOGIST)
    await tech.connect()
    await rad.connect()
    await tech.join(call.session_id)
    await rad.join(call.session_id)
    await asyncio.gather(tech.wait_for_media(timeout=15), rad.wait_for_media(timeout=15))
    await tech.close()
    await rad.close()
    await tech.close()  # twice is harmless
    assert not {t for t in asyncio.all_tasks() - before if not t.done()}
    assert tech.close_code is not None
    assert rad.close_code is not None
