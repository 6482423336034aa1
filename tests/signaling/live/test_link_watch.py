"""The link watch's view of whether the radiologist's media is gone, the evidence the server's re-page
rule counts from (time as a parameter: the watch's clock is the test's)."""

from __future__ import annotations

import pytest

from media.link import REPORT_STALE_S
from signaling.live.link_watch import HEARTBEAT_S, LinkTicker, LinkWatch, describe
from tests.signaling.live.test_link import stats


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def second(watch: LinkWatch, clock: Clock, n: int, *, radiologist_arrives: bool) -> None:
    """One second: both pages report; the technologist's counters stop if nothing arrives."""
    clock.now += 1.0
    watch.report("radiologist", stats(n))
    watch.report("technologist", stats(n) if radiologist_arrives else stats(2))
    watch.tick()


def test_the_radiologist_is_gone_once_nothing_new_arrives_and_back_with_the_media() -> None:
    """Gone (lost) once the technologist's counters stop for 2 s; back as soon as they move; the
    other direction stays live throughout."""
    clock = Clock()
    watch = LinkWatch(clock=clock)
    for n in range(1, 3):
        second(watch, clock, n, radiologist_arrives=True)
    assert not watch.gone("radiologist")
    seen = []
    for n in range(3, 8):  # gone from n=3 on: lost once nothing new arrives for 2 s
        second(watch, clock, n, radiologist_arrives=False)
        seen.append(watch.gone("radiologist"))
        assert not watch.gone("technologist")
    assert seen[0] is False  # a second without news is not a loss yet
    assert seen[-1] is True
    second(watch, clock, 8, radiologist_arrives=True)
    assert not watch.gone("radiologist")


def test_a_black_camera_is_recorded_as_black_not_frozen() -> None:
    """The record's line calls a camera the server sees sending black "black"; a still picture
    stays "frozen"."""
    views = {
        "technologist": {
            "state": "frozen",
            "causes": ["video_black"],
            "video": False,
            "audio": True,
            "server_checked": True,
        },
        "radiologist": {
            "state": "frozen",
            "causes": ["video_frozen"],
            "video": False,
            "audio": True,
            "server_checked": True,
        },
    }
    assert describe(views, False, True) == (
        "technologist: black (video_black); radiologist: frozen (video_frozen)"
    )


class Member:
    """A socket as the ticker sees it: counts its ticks, next due ``every`` after each."""

    def __init__(self, clock: Clock, every: float, fails: bool = False) -> None:
        self.clock, self.every, self.fails, self.ticks = clock, every, fails, 0

    def tick_link(self, now: float) -> float:
        self.ticks += 1
        if self.fails:
            raise RuntimeError("a broken watch")
        return now + self.every


def test_the_ticker_runs_a_watch_on_evidence_and_when_due_only() -> None:
    """A poked watch runs at the next tick; then only once its own next moment has come; one that
    fails does not stop the others; a removed one never runs again."""
    clock = Clock()
    ticker = LinkTicker(clock=clock)
    quiet, broken = Member(clock, every=1.0), Member(clock, every=1.0, fails=True)
    ticker.poke(quiet)
    ticker.poke(broken)
    assert ticker.tick() == 2
    assert (quiet.ticks, broken.ticks) == (1, 1)
    for _ in range(9):  # 0.9 s of ticks: not due yet
        clock.now += 0.1
        ticker.tick()
    assert quiet.ticks == 1
    clock.now += 0.15
    ticker.tick()
    assert quiet.ticks == 2
    ticker.poke(quiet)  # evidence: at once, not a second later
    ticker.tick()
    assert quiet.ticks == 3
    ticker.remove(quiet)
    ticker.poke(broken)
    clock.now += 10
    ticker.tick()
    assert quiet.ticks == 3
    assert broken.ticks >= 2
    assert len(ticker) == 1


def test_a_watch_is_due_at_its_next_change_or_heartbeat() -> None:
    """With both pages reporting, the watch is next due when a report would go stale; once the
    pages stop, after the loss is told, only the heartbeat is left."""
    clock = Clock()
    watch = LinkWatch(clock=clock)
    second(watch, clock, 1, radiologist_arrives=True)
    assert watch.next_due() == pytest.approx(clock.now + REPORT_STALE_S)
    clock.now += 10
    assert watch.tick() is not None  # lost, told
    assert watch.next_due() == pytest.approx(clock.now + HEARTBEAT_S)
