"""The link watch's view of whether the radiologist's media is gone, the evidence the server's re-page
rule counts from (time as a parameter: the watch's clock is the test's)."""

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
