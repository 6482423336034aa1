"""Paging health, coverage and reactions through the reports API of the real service: JSON and
CSV for a supervisor's own facility, nothing of another's."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from signaling.clock import utc_now
from tests.live import LiveServer, api, login
from tests.signaling.reports.rows import directory, page, reaction, session


async def seed(db: AsyncSession) -> int:
    """Yesterday at NORTH: an injected exam with a severe reaction answered in 45 s, and a session
    that nobody covered; at PORT, another facility, an injected exam with a mild reaction."""
    d = await directory(db)
    yesterday = utc_now().replace(hour=15, minute=0, second=0, microsecond=0) - timedelta(days=1)
    injected = {"agent_class": "iodinated", "injection_verified": True}
    north = await session(
        db, d, "NORTH", yesterday, joined=20, radiologist="drdiaz",
        injected_at=yesterday + timedelta(seconds=90), **injected,
    )  # fmt: skip
    await reaction(db, north, yesterday, onset=300, severity="severe", intervened=345)
    await page(db, north, yesterday, d.user["drdiaz"], "sms", "sent", sent=0.5)
    later = yesterday + timedelta(hours=1)
    empty = await session(db, d, "NORTH", later, ended=200)
    await page(db, empty, later, d.user["drdiaz"], "voice", "failed", detail="voicemail: x")
    port = await session(
        db, d, "PORT", yesterday, joined=10, injected_at=yesterday + timedelta(seconds=60),
        **injected,
    )  # fmt: skip
    await reaction(db, port, yesterday, onset=100, severity="mild", intervened=130)
    await db.commit()
    return d.facility["PORT"]


async def test_the_three_reports_for_a_supervisor_of_their_own_facility(
    server: LiveServer, db_session: AsyncSession
) -> None:
    """The NORTH supervisor reads each report as JSON and a table as CSV: NORTH's figures only;
    asking for PORT is refused."""
    port_id = await seed(db_session)
    token = await login(server, "super")
    async with api(server, token) as client:
        got = {k: await client.get(f"/api/reports/{k}") for k in ("paging_health", "coverage", "reactions")}  # fmt: skip
        cancelled = await client.get("/api/reports/coverage/cancellations.csv")
        port = await client.get("/api/reports/reactions", params={"facility": port_id})
    for key, response in got.items():
        assert response.status_code == 200, response.text
        assert response.json()["key"] == key
        assert response.json()["facilities"] == ["North Imaging Center"]
    cards = {
        key: {c["key"]: c["value"] for c in response.json()["cards"]}
        for key, response in got.items()
    }
    assert cards["reactions"]["injections"] == 1  # PORT's is not counted
    assert cards["reactions"]["severe_per_1000"] == 1000.0
    assert cards["reactions"]["onset_to_intervention_p50_s"] == 45.0
    assert cards["coverage"]["sessions"] == 2
    assert cards["coverage"]["no_coverage_per_1000"] == 500.0
    assert (cards["paging_health"]["pages"], cards["paging_health"]["voicemail"]) == (2, 1)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(cancelled.text.lstrip("\ufeff"))))
    assert table[0][0] == "Reason"  # the column labels head the CSV
    assert [row[0] for row in table[1:]] == ["no_coverage"]
    assert port.status_code == 403, port.text
