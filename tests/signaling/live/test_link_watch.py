"""The link watch's re-page timer: how long the radiologist's media has been gone, told once per loss
(time as a parameter: the watch's clock is the test's)."""

from __future__ import annotations

from signaling.live.link_watch import LinkWatch, describe
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


def test_a_loss_is_overdue_once_past_the_window_and_again_only_after_it_came_back() -> None:
    clock = Clock()
    watch = LinkWatch(clock=clock)
    for n in range(1, 3):
        second(watch, clock, n, radiologist_arrives=True)
    assert watch.overdue("radiologist", 5.0) is None
    told = []
    for n in range(3, 12):  # gone from n=3 on: lost once nothing new arrives for 2 s
        second(watch, clock, n, radiologist_arrives=False)
        told.append(watch.overdue("radiologist", 5.0))
    overdue = [t for t in told if t is not None]
    assert len(overdue) == 1  # once per loss
    assert 5.0 <= overdue[0] < 6.0
    assert watch.overdue("technologist", 5.0) is None  # the other direction is fine
    for n in range(12, 14):  # back
        second(watch, clock, n, radiologist_arrives=True)
    assert watch.overdue("radiologist", 5.0) is None
    for n in range(14, 24):  # gone again: a new loss, told again
        second(watch, clock, n, radiologist_arrives=False)
        if watch.overdue("radiologist", 5.0) is not None:
            break
    else:
        raise AssertionError("a second loss was never overdue")


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
