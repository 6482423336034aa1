"""A reaction summons help through the record's own routes (issue 10 item 4): a moderate reaction
with no radiologist on the line pages every tier at once on every channel through the fake Twilio; a
mild one does not; a radiologist verified live in the session is alerted instead; one whose media
is gone is taken off the session so whoever is paged can join.

GULF (tests/directory.yaml) pages Dr Bay, Dr Cove and Dr Dune at T+0, Dr Reef at T+4 s."""

from __future__ import annotations

import asyncio

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.clock import utc_now
from signaling.storage.models import SupervisionSession
from tests.fakes.twilio_server import FakeTwilio
from tests.live import LiveServer, api, connect, login
from tests.signaling.helpers import get_session, join_request
from tests.signaling.pager.test_stat import (
    ACCESSION,
    BAY,
    COVE,
    DUNE,
    REEF,
    gulf_request,
    stat_sms,
)
from tests.signaling.record.test_record import view


async def test_a_moderate_reaction_with_nobody_on_the_line_pages_every_tier_at_once(
    phone_server: LiveServer, fake_twilio: FakeTwilio, db_session: AsyncSession
) -> None:
    """The technologist records a moderate reaction before anyone joined: every radiologist of every
    tier gets the STAT SMS and call at once (Dr Reef's tier would have waited), the record says
    when, and the SMS carries no accession number."""
    tech, sid = await gulf_request(phone_server)
    for number in (BAY, COVE, DUNE):
        await fake_twilio.expect_sms(number)
    async with api(phone_server, tech) as client:
        opened = await client.post(f"/api/sessions/{sid}/reactions", json={"severity": "moderate"})
    assert opened.status_code == 201, opened.text
    assert opened.json()["stat_paged"] is True
    for number in (BAY, COVE, DUNE, REEF):
        message = await asyncio.wait_for(stat_sms(fake_twilio, number), timeout=3)
        assert "contrast reaction at Gulf Coast Imaging" in message.body
        assert ACCESSION not in message.body
        await asyncio.wait_for(fake_twilio.expect_call(number), timeout=3)
    record = await view(db_session, sid)
    (reaction,) = record.reactions
    assert reaction.stat_paged_at is not None


async def test_a_mild_reaction_pages_nobody_and_a_later_moderate_one_does(
    phone_server: LiveServer, fake_twilio: FakeTwilio
) -> None:
    """Mild: recorded, nobody paged. Severity raised to moderate on the same reaction: the STAT
    goes out then."""
    tech, sid = await gulf_request(phone_server)
    async with api(phone_server, tech) as client:
        mild = await client.post(f"/api/sessions/{sid}/reactions", json={"severity": "mild"})
        assert mild.json()["stat_paged"] is False
        raised = await client.post(
            f"/api/sessions/{sid}/reactions/{mild.json()['reaction']}/findings",
            json={"severity": "moderate"},
        )
    assert raised.json()["stat_paged"] is True
    await asyncio.wait_for(stat_sms(fake_twilio, REEF), timeout=3)


async def test_a_radiologist_whose_media_is_gone_is_taken_off_and_everyone_is_paged(
    phone_server: LiveServer, fake_twilio: FakeTwilio, db_session: AsyncSession
) -> None:
    """Dr Bay joined, but her media has not been seen for a minute: a severe reaction takes her off
    the session (back to paging, she may join again) and pages every tier, her included."""
    tech, sid = await gulf_request(phone_server)
    bay = await login(phone_server, "drbay")
    await join_request(phone_server, bay, sid)
    await db_session.execute(
        update(SupervisionSession)
        .where(SupervisionSession.id == sid)
        .values(
            state="joined", joined_at=utc_now(), radiologist_live_at=utc_now().replace(year=2025)
        )
    )
    await db_session.commit()
    async with api(phone_server, tech) as client:
        opened = await client.post(f"/api/sessions/{sid}/reactions", json={"severity": "severe"})
    assert opened.json()["stat_paged"] is True
    session = await get_session(phone_server, tech, sid)
    assert session["state"] == "paging"
    assert session["radiologist"] is None
    await asyncio.wait_for(stat_sms(fake_twilio, REEF), timeout=3)


async def test_a_radiologist_live_in_the_session_is_alerted_not_re_paged(
    phone_server: LiveServer, fake_twilio: FakeTwilio, db_session: AsyncSession
) -> None:
    """Dr Bay is joined and her media arrives: a moderate reaction reaches her socket as a reaction
    alert naming who reported it; nobody else is paged; her acknowledgement is her first action."""
    tech, sid = await gulf_request(phone_server)
    bay = await login(phone_server, "drbay")
    await join_request(phone_server, bay, sid)
    await db_session.execute(
        update(SupervisionSession)
        .where(SupervisionSession.id == sid)
        .values(state="joined", joined_at=utc_now(), radiologist_live_at=utc_now())
    )
    await db_session.commit()
    async with connect(phone_server, bay) as r:
        await r.send({"type": "join", "session_id": sid})
        await r.expect("joined")
        async with api(phone_server, tech) as client:
            opened = await client.post(
                f"/api/sessions/{sid}/reactions", json={"severity": "moderate"}
            )
        assert opened.json()["stat_paged"] is False
        alert = await r.expect("reaction_alert")
        assert alert["session_id"] == sid
        assert alert["severity"] == "moderate"
        reaction = opened.json()["reaction"]
        async with api(phone_server, bay) as client:
            acked = await client.post(f"/api/sessions/{sid}/reactions/{reaction}/acknowledge")
        assert acked.status_code == 200
    record = await view(db_session, sid)
    assert record.reactions[0].first_action == "acknowledged"
    assert record.reactions[0].stat_paged_at is None


async def test_a_radiologist_whose_page_was_away_is_alerted_when_it_joins_again(
    phone_server: LiveServer, fake_twilio: FakeTwilio, db_session: AsyncSession
) -> None:
    """The reaction is reported while Dr Bay's socket is down: the alert at onset reaches nobody,
    so her page gets it when it joins the session again; once she acknowledged, a rejoin brings
    no alert."""
    tech, sid = await gulf_request(phone_server)
    bay = await login(phone_server, "drbay")
    await join_request(phone_server, bay, sid)
    await db_session.execute(
        update(SupervisionSession)
        .where(SupervisionSession.id == sid)
        .values(state="joined", joined_at=utc_now(), radiologist_live_at=utc_now())
    )
    await db_session.commit()
    async with api(phone_server, tech) as client:
        opened = await client.post(f"/api/sessions/{sid}/reactions", json={"severity": "severe"})
    assert opened.status_code == 201, opened.text
    reaction = opened.json()["reaction"]
    async with connect(phone_server, bay) as r:
        await r.send({"type": "join", "session_id": sid})
        await r.expect("joined")
        alert = await r.expect("reaction_alert")
        assert (alert["seq"], alert["severity"]) == (reaction, "severe")
        assert alert["reported_by"] == "Gil Gulf"
        async with api(phone_server, bay) as client:
            acked = await client.post(f"/api/sessions/{sid}/reactions/{reaction}/acknowledge")
        assert acked.status_code == 200
    async with connect(phone_server, bay) as r:
        await r.send({"type": "join", "session_id": sid})
        await r.expect("joined")
        await r.send({"type": "ping"})
        await r.expect("pong")
    assert "reaction_alert" not in [m["type"] for m in r.seen]


async def test_a_reaction_after_the_server_re_paged_a_lost_radiologist_still_pages_every_tier(
    phone_server: LiveServer, fake_twilio: FakeTwilio, db_session: AsyncSession
) -> None:
    """Dr Bay's media is gone long enough that the server's re-page rule took her off and paged
    the first tier again; a severe reaction then still pages every tier at once (Dr Reef's tier
    would have waited)."""
    tech, sid = await gulf_request(phone_server)
    bay = await login(phone_server, "drbay")
    await join_request(phone_server, bay, sid)
    await db_session.execute(
        update(SupervisionSession)
        .where(SupervisionSession.id == sid)
        .values(
            state="joined", joined_at=utc_now(), radiologist_live_at=utc_now().replace(year=2025)
        )
    )
    await db_session.commit()
    for _ in range(200):  # the server's sweep re-pages her within seconds
        session = await get_session(phone_server, tech, sid)
        if session["state"] == "paging":
            break
        await asyncio.sleep(0.1)
    assert session["state"] == "paging", session
    async with api(phone_server, tech) as client:
        opened = await client.post(f"/api/sessions/{sid}/reactions", json={"severity": "severe"})
    assert opened.json()["stat_paged"] is True
    await asyncio.wait_for(stat_sms(fake_twilio, REEF), timeout=3)
