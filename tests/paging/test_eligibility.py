"""Who may supervise where: license in the site's state, active on the site's date, privileges."""

from __future__ import annotations

from datetime import date

from paging.eligibility import (
    Ineligibility,
    Radiologist,
    Site,
    StateLicense,
    eligible_sites,
    ineligibility,
)

TEXAS_SITE = Site(facility_id=1, state="TX")
TODAY = date(2026, 11, 22)


def radiologist(
    *licenses: StateLicense, privileged: frozenset[int] = frozenset({1}), active: bool = True
) -> Radiologist:
    return Radiologist(
        user_id=7, active=active, licenses=licenses, privileged_facility_ids=privileged
    )


def test_license_and_privileges_make_eligible() -> None:
    """An active Texas license plus privileges at the site: eligible."""
    assert (
        ineligibility(radiologist(StateLicense("TX", date(2027, 1, 1))), TEXAS_SITE, TODAY) is None
    )


def test_license_is_valid_through_its_expiry_date() -> None:
    """A license expiring today still counts today, not tomorrow."""
    person = radiologist(StateLicense("TX", TODAY))
    assert ineligibility(person, TEXAS_SITE, TODAY) is None
    assert ineligibility(person, TEXAS_SITE, date(2026, 11, 23)) is Ineligibility.LICENSE_EXPIRED


def test_license_in_another_state_does_not_count() -> None:
    """A New York license does not cover a Texas patient."""
    person = radiologist(StateLicense("NY", date(2030, 1, 1)))
    assert ineligibility(person, TEXAS_SITE, TODAY) is Ineligibility.NO_LICENSE


def test_privileges_are_per_facility() -> None:
    """Licensed in Texas but privileged elsewhere: not eligible here."""
    person = radiologist(StateLicense("TX", date(2030, 1, 1)), privileged=frozenset({2}))
    assert ineligibility(person, TEXAS_SITE, TODAY) is Ineligibility.NOT_PRIVILEGED


def test_inactive_accounts_are_never_eligible() -> None:
    """A disabled account is skipped whatever its licenses."""
    person = radiologist(StateLicense("TX", date(2030, 1, 1)), active=False)
    assert ineligibility(person, TEXAS_SITE, TODAY) is Ineligibility.INACTIVE


def test_eligible_sites_uses_each_sites_own_date() -> None:
    """Expiry is judged by each facility's local date."""
    person = radiologist(
        StateLicense("TX", TODAY), StateLicense("NY", TODAY), privileged=frozenset({1, 2})
    )
    sites = [TEXAS_SITE, Site(2, "NY")]
    assert eligible_sites(person, sites, {1: TODAY, 2: date(2026, 11, 23)}) == {1}
