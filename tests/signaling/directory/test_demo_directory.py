"""The demo's own directory: what `make demo` loads must show the README's story."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.resources import files

from paging.schedule import on_call
from signaling.directory.file import parse_directory


def test_every_demo_facility_has_a_licensed_radiologist_on_call_at_every_hour() -> None:
    """*On call now* names someone at each demo site, any hour of a week, and that person is
    licensed in the site's state and privileged there (so the page is not a skip)."""
    demo = parse_directory(files("signaling").joinpath("demo_directory.yaml").read_text())
    people = {u.username: u for u in demo.users}
    start = datetime(2026, 12, 7, 0, 30, tzinfo=UTC)
    for facility in demo.facilities:
        schedules = [s for s in demo.schedules if facility.code in s.facilities]
        assert schedules, f"{facility.code} has no on-call schedule"
        for hour in range(7 * 24):
            now = start + timedelta(hours=hour)
            names = {name for s in schedules for name in on_call(s, now)}
            assert names, f"nobody on call at {facility.code} at {now:%a %H:%M} UTC"
            for name in names:
                person = people[name]
                assert facility.code in person.privileges
                assert facility.state in {lic.state for lic in person.licenses}
