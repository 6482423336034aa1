"""Paging health over rows inserted directly, against hand-computed figures, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.reports import paging_health
from signaling.reports.shape import Report
from tests.signaling.reports.rows import (
    T0,
    Directory,
    accept,
    directory,
    page,
    repage,
    session,
    timer,
)


def near(seconds: float) -> object:
    """SQLite reads times to the millisecond (julianday)."""
    return pytest.approx(seconds, abs=0.01)


def cards(report: Report) -> dict[str, tuple[object, object]]:
    return {c.key: (c.value, c.previous) for c in report.cards}


def rows(report: Report, table: str) -> list[dict[str, object]]:
    t = report.table(table)
    return [dict(zip((c.key for c in t.columns), row, strict=True)) for row in t.rows]


async def week_of_paging(db: AsyncSession, d: Directory) -> None:
    """Three ended sessions at NORTH and LAKE this week, one still open, one the week before, one
    at a facility outside the scope."""
    diaz, patel, cap, boss = (d.user[u] for u in ("drdiaz", "drpatel", "drexpired", "super"))
    a = T0 + timedelta(hours=1)
    sa = await session(db, d, "NORTH", a, joined=20, ended=1800, radiologist="drdiaz")
    await page(db, sa, a, diaz, "in_app", "sent", sent=0.2)
    await page(db, sa, a, diaz, "sms", "sent", sent=0.5)
    await page(db, sa, a, diaz, "voice", "failed", sent=0.5, detail="voicemail: not reached")
    await page(db, sa, a, patel, "sms", "failed", detail="carrier: undelivered", tier=1)
    await page(db, sa, a, patel, "in_app", "cancelled", detail="completed", tier=1)
    await page(db, sa, a, cap, "-", "skipped", detail="at caseload cap (1 of 1)")
    await accept(db, sa, a, diaz, "sms", 12.5, "joined", paged=0.5)
    await timer(db, sa, a, "tier", 0, "fired")
    await timer(db, sa, a, "tier", 1, "skipped_empty")
    await timer(db, sa, a, "tier", 2, "cancelled")
    await timer(db, sa, a, "exhausted", None, "cancelled")
    await repage(db, sa, a, "media_lost", 600, rejoined=640)

    b = T0 + timedelta(hours=2)
    sb = await session(db, d, "NORTH", b, ended=180)
    await page(db, sb, b, diaz, "in_app", "sent", sent=0.1)
    await page(db, sb, b, diaz, "sms", "sent", sent=0.3)
    await page(db, sb, b, patel, "in_app", "sent", sent=10.1, tier=1)
    await page(db, sb, b, boss, "in_app", "sent", sent=60, purpose="alert", tier=-1)
    await page(db, sb, b, boss, "sms", "skipped", detail="no sms for this supervisor", purpose="alert", tier=-1)  # fmt: skip
    await accept(db, sb, b, patel, "web", 20.1, "released", paged=10.1)
    await accept(db, sb, b, diaz, "sms", 30.3, "session_ended", paged=0.3)
    await timer(db, sb, b, "tier", 0, "fired")
    await timer(db, sb, b, "tier", 1, "fired")
    await timer(db, sb, b, "tier", 2, "skipped_empty")
    await timer(db, sb, b, "exhausted", None, "exhausted")

    c = T0 + timedelta(hours=3)
    sc = await session(db, d, "LAKE", c, joined=9, radiologist="drdiaz")
    await page(db, sc, c, diaz, "in_app", "sent", sent=0.2)
    await accept(db, sc, c, diaz, "web", 5.2, "joined", paged=0.2)
    await timer(db, sc, c, "tier", 0, "fired")

    still = T0 + timedelta(hours=4)
    so = await session(db, d, "NORTH", still, ended=None)
    await page(db, so, still, diaz, "sms", "failed", detail="carrier: failed")

    e = T0 - timedelta(days=1)
    se = await session(db, d, "NORTH", e, joined=15, radiologist="drdiaz")
    await page(db, se, e, diaz, "sms", "failed", detail="carrier: failed")
    await page(db, se, e, diaz, "in_app", "sent", sent=0.0)
    await accept(db, se, e, diaz, "web", 8.0, "joined", paged=0.0)

    w = T0 + timedelta(hours=5)
    sw = await session(db, d, "WEST", w, ended=100)
    await page(db, sw, w, diaz, "voice", "failed", sent=1, detail="voicemail: not reached")
    await db.commit()


async def test_pages_accepts_tiers_and_repages_are_counted_as_computed_by_hand(
    db: AsyncSession,
) -> None:
    """Every outcome per channel, accepts without a join, page-to-accept per channel, empty tiers
    and re-pages, against the week before; the open session and the other facility left out."""
    d = await directory(db)
    await week_of_paging(db, d)
    report = await paging_health.report(db, d.scope("NORTH", "LAKE"), T0)
    assert report.key == "paging_health"
    assert report.facilities == ("Lakeside Imaging", "North Imaging Center")
    assert cards(report) == {
        "pages": (8, 2),
        "delivered": (0.75, 0.5),
        "failed": (1, 1),
        "voicemail": (1, 0),
        "accept_without_join": (2, 0),
        "page_to_accept_median_s": (near(11.0), near(8.0)),
        "empty_tiers": (2, 0),
        "repages_media_lost": (1, 0),
    }
    by_channel = {(r["paged"], r["channel"]): r for r in rows(report, "channels")}
    assert list(by_channel) == [
        ("radiologists", "in_app"),
        ("radiologists", "sms"),
        ("radiologists", "voice"),
        ("supervisors' alerts", "in_app"),
        ("supervisors' alerts", "sms"),
    ]
    in_app = by_channel[("radiologists", "in_app")]
    assert (in_app["pages"], in_app["delivered"], in_app["cancelled"]) == (5, 4, 1)
    assert in_app["delivered_share"] == 1.0
    assert in_app["accepts"] == 2
    assert in_app["accept_median_s"] == near(7.5)
    assert in_app["accept_p90_s"] == near(9.5)
    sms = by_channel[("radiologists", "sms")]
    assert (sms["pages"], sms["delivered"], sms["failed"], sms["voicemail"]) == (3, 2, 1, 0)
    assert sms["delivered_share"] == pytest.approx(2 / 3)
    assert sms["accept_median_s"] == near(21.0)
    assert sms["accept_p90_s"] == near(28.2)
    voice = by_channel[("radiologists", "voice")]
    assert (voice["pages"], voice["voicemail"], voice["failed"], voice["delivered_share"]) == (
        1,
        1,
        0,
        0.0,
    )
    assert voice["accepts"] == 0
    assert voice["accept_median_s"] is None
    alerts = by_channel[("supervisors' alerts", "sms")]
    assert (alerts["pages"], alerts["skipped"], alerts["accepts"]) == (1, 1, None)

    assert rows(report, "accepts") == [
        {"channel": "in_app", "accepts": 2, "joined": 1, "without_join": 1, "taken_not_live": 0,
         "released": 1, "superseded": 0, "standing_at_end": 0},
        {"channel": "sms", "accepts": 2, "joined": 1, "without_join": 1, "taken_not_live": 0,
         "released": 0, "superseded": 0, "standing_at_end": 1},
    ]  # fmt: skip
    assert rows(report, "empty_tiers") == [
        {"tier": "tier 2", "skipped_empty": 1, "of_sessions": pytest.approx(1 / 3)},
        {"tier": "tier 3", "skipped_empty": 1, "of_sessions": pytest.approx(1 / 3)},
    ]
    assert rows(report, "repages") == [
        {"reason": "media_lost", "repages": 1, "sessions": 1, "rejoined": 1,
         "rejoin_median_s": near(40.0), "rejoin_p90_s": near(40.0)},
    ]  # fmt: skip
    assert rows(report, "skipped") == [{"reason": "at caseload cap", "pages": 1}]
    assert "1 session still open, left out." in report.notes


async def test_nothing_at_all_gives_zeros_and_no_rows(db: AsyncSession) -> None:
    """A period with no session: counts are zero, shares and times are absent, tables empty."""
    d = await directory(db)
    report = await paging_health.report(db, d.scope("NORTH"), T0)
    assert cards(report) == {
        "pages": (0, 0),
        "delivered": (None, None),
        "failed": (0, 0),
        "voicemail": (0, 0),
        "accept_without_join": (0, 0),
        "page_to_accept_median_s": (None, None),
        "empty_tiers": (0, 0),
        "repages_media_lost": (0, 0),
    }
    assert all(not t.rows for t in report.tables)
    assert not any("still open" in n for n in report.notes)


async def test_all_failed_delivers_nothing(db: AsyncSession) -> None:
    """Every page failed or went to voicemail: none delivered, nobody accepted, the session found
    no one."""
    d = await directory(db)
    diaz = d.user["drdiaz"]
    r = T0 + timedelta(hours=9)
    sid = await session(db, d, "NORTH", r, ended=300)
    await page(db, sid, r, diaz, "sms", "failed", detail="carrier: undelivered")
    await page(db, sid, r, diaz, "voice", "failed", sent=1.0, detail="voicemail: not reached")
    await page(db, sid, r, diaz, "in_app", "failed", detail="RuntimeError: socket gone")
    await db.commit()
    report = await paging_health.report(db, d.scope("NORTH"), T0)
    got = cards(report)
    assert got["pages"] == (3, 0)
    assert got["delivered"] == (0.0, None)
    assert got["failed"] == (2, 0)
    assert got["voicemail"] == (1, 0)
    assert got["page_to_accept_median_s"] == (None, None)
    assert [r["delivered_share"] for r in rows(report, "channels")] == [0.0, 0.0, 0.0]
