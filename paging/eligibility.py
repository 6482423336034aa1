"""Who may supervise a contrast injection at a facility, decided from directory facts alone.

Pure functions: the caller loads the facts and passes ``today`` (in the facility's time zone), so the
same rule serves the radiologist console, the pager and the audit reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Ineligibility(StrEnum):
    """Why a radiologist may not supervise at a facility; stored with skipped pages."""

    INACTIVE = "inactive"
    NO_LICENSE = "no_license_in_state"
    LICENSE_EXPIRED = "license_expired"
    NOT_PRIVILEGED = "not_privileged_at_facility"


@dataclass(frozen=True)
class StateLicense:
    state: str
    expires_on: date


@dataclass(frozen=True)
class Radiologist:
    user_id: int
    active: bool
    licenses: tuple[StateLicense, ...]
    privileged_facility_ids: frozenset[int]


@dataclass(frozen=True)
class Site:
    facility_id: int
    state: str


def ineligibility(radiologist: Radiologist, site: Site, today: date) -> Ineligibility | None:
    """The first reason ``radiologist`` may not supervise at ``site`` on ``today``, or None if they may.

    A license is active through its expiry date. Interstate-compact licenses are ordinary state
    licenses here.
    """
    if not radiologist.active:
        return Ineligibility.INACTIVE
    in_state = [lic for lic in radiologist.licenses if lic.state == site.state]
    if not in_state:
        return Ineligibility.NO_LICENSE
    if all(lic.expires_on < today for lic in in_state):
        return Ineligibility.LICENSE_EXPIRED
    if site.facility_id not in radiologist.privileged_facility_ids:
        return Ineligibility.NOT_PRIVILEGED
    return None


def eligible_sites(
    radiologist: Radiologist, sites: Iterable[Site], today_at: dict[int, date]
) -> set[int]:
    """Facility ids among ``sites`` where ``radiologist`` may supervise (``today_at`` per facility)."""
    return {
        site.facility_id
        for site in sites
        if ineligibility(radiologist, site, today_at[site.facility_id]) is None
    }
