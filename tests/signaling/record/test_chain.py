"""The record's hash chain (issue 10 item 5): every entry of a session sealed to the one before
within a second; ``verify`` (route and ``standby record verify``) names the first entry altered or
removed, a removed tail too; two sealers at once never seal the same entry twice."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.clock import utc_now
from signaling.record import chain
from signaling.storage.database import make_engine, make_session_factory
from signaling.storage.models import SessionEvent
from tests.live import LiveServer, api, login
from tests.signaling.helpers import open_session
from tests.signaling.test_cli import standby


async def a_recorded_session(server: LiveServer) -> tuple[str, str]:
    """A session with a few entries (requested, paging, a reaction and its findings, ended)."""
    tech = await login(server, "tech")
    session = await open_session(server, tech)
    async with api(server, tech) as client:
        opened = await client.post(f"/api/sessions/{session['id']}/reactions", json={})
        reaction = opened.json()["reaction"]
        await client.post(
            f"/api/sessions/{session['id']}/reactions/{reaction}/findings",
            json={"note": "itching on the forearm"},
        )
        ended = await client.post(
            f"/api/sessions/{session['id']}/end",
            json={"outcome": "cancelled", "reason": "patient_declined"},
        )
        assert ended.status_code == 200, ended.text
    return session["id"], tech


async def sealed(server: LiveServer, token: str, session_id: str) -> dict[str, Any]:
    """The verify answer once every entry is sealed (the sealer runs every 0.5 s)."""
    async with api(server, token) as client:
        for _ in range(50):
            answer: dict[str, Any] = (
                await client.get(f"/api/sessions/{session_id}/record/verify")
            ).json()
            if answer["unsealed"] == 0 and answer["length"] > 0:
                return answer
            await asyncio.sleep(0.1)
    raise AssertionError(f"entries still unsealed: {answer}")


async def test_entries_are_sealed_and_an_altered_one_is_named(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """Sealed within a second and intact; then one entry's words are changed in the database:
    verify names that entry, by number, kind and time."""
    session_id, tech = await a_recorded_session(server)
    intact = await sealed(server, tech, session_id)
    assert intact["intact"] is True
    assert intact["length"] >= 4
    target = await db_session.scalar(
        select(SessionEvent).where(
            SessionEvent.session_id == session_id, SessionEvent.kind == "reaction_findings"
        )
    )
    assert target is not None
    await db_session.execute(
        update(SessionEvent)
        .where(SessionEvent.id == target.id)
        .values(body={"note": "nothing happened", "reaction": target.body["reaction"]})  # type: ignore[index]
    )
    await db_session.commit()
    async with api(server, tech) as client:
        broken = (await client.get(f"/api/sessions/{session_id}/record/verify")).json()
    assert broken["intact"] is False
    assert broken["first_bad"] == target.seq
    assert f"entry {target.seq} (reaction_findings at" in broken["problem"]
    assert "was altered" in broken["problem"]


async def test_a_removed_entry_and_a_removed_tail_are_named(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """Deleting the last entry is noticed from the chain's head; deleting one in the middle from
    the gap in the numbering."""
    session_id, tech = await a_recorded_session(server)
    length = (await sealed(server, tech, session_id))["length"]
    await db_session.execute(
        delete(SessionEvent).where(
            SessionEvent.session_id == session_id, SessionEvent.seq == length
        )
    )
    await db_session.commit()
    async with api(server, tech) as client:
        tail = (await client.get(f"/api/sessions/{session_id}/record/verify")).json()
    assert tail["intact"] is False
    assert tail["problem"] == (
        f"entry {length} was removed (the chain holds {length} entries, {length - 1} are present)"
    )
    await db_session.execute(
        delete(SessionEvent).where(SessionEvent.session_id == session_id, SessionEvent.seq == 2)
    )
    await db_session.commit()
    async with api(server, tech) as client:
        middle = (await client.get(f"/api/sessions/{session_id}/record/verify")).json()
    assert middle["problem"] == "entry 2 was removed (the next one present is 3)"


async def test_standby_record_verify_checks_every_record_and_fails_on_a_broken_one(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """``standby record verify --all`` exits 0 while every chain is intact, 1 naming the broken
    session's first altered entry once one is not."""
    good, tech = await a_recorded_session(server)
    bad, _ = await a_recorded_session(server)
    await sealed(server, tech, good)
    await sealed(server, tech, bad)
    url = server.settings.database_url
    ok = await asyncio.to_thread(standby, url, "record", "verify", "--all")
    assert ok.returncode == 0, ok.stderr
    assert "2 records checked, 0 broken" in ok.stdout
    await db_session.execute(
        update(SessionEvent)
        .where(SessionEvent.session_id == bad, SessionEvent.seq == 1)
        .values(at=utc_now())
    )
    await db_session.commit()
    found = await asyncio.to_thread(standby, url, "record", "verify", "--all")
    assert found.returncode == 1
    assert f"{bad}: BROKEN: entry 1 (transition at" in found.stdout
    assert f"{good}: intact" in found.stdout
    one = await asyncio.to_thread(standby, url, "record", "verify", good)
    assert one.returncode == 0
    neither = await asyncio.to_thread(standby, url, "record", "verify")
    assert neither.returncode == 2
    assert "name a session, or --all" in neither.stderr


async def test_two_sealers_at_once_seal_each_entry_once(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """Several workers seal at the same moment (here: eight passes at once on the server's
    database, beside its own sealer): every entry gets one place, the chain stays intact."""
    session_ids = [(await a_recorded_session(server))[0] for _ in range(3)]
    engine = make_engine(server.settings.database_url)
    try:
        factory = make_session_factory(engine)
        await asyncio.gather(*(chain.seal(factory, utc_now()) for _ in range(8)))
        async with factory() as db:
            for session_id in session_ids:
                verdict = await chain.verify(db, session_id)
                assert verdict.intact, verdict.problem
                count = await db.scalar(
                    select(func.count())
                    .select_from(SessionEvent)
                    .where(SessionEvent.session_id == session_id)
                )
                assert verdict.length + verdict.unsealed == count
    finally:
        await engine.dispose()
