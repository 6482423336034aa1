"""Published contrast reaction rates per 1,000 administrations, shown beside a facility's own as a
sanity check (never as a target): the one place they are kept, each with where it comes from.

Source: the project's domain notes (DOMAIN.md, "Contrast reactions" and "The reaction record in
detail"), quoting the ACR Manual on Contrast Media and the series named in each entry (Mayo Clinic
2009 for low-osmolar iodinated agents, a 2018 meta-analysis for gadolinium-based agents). Rates
depend on what is counted (all adverse effects, allergic-like only): read them as ranges.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReferenceRate:
    agent_class: str  # iodinated, gadolinium
    severity: str  # all, severe
    low: float  # per 1,000 administrations
    high: float
    source: str

    def words(self) -> str:
        span = f"{self.low:g}" if self.low == self.high else f"{self.low:g}-{self.high:g}"
        return f"{span} per 1,000 ({self.source})"


REFERENCE_RATES: tuple[ReferenceRate, ...] = (
    ReferenceRate(
        "iodinated",
        "all",
        1.5,
        6.4,
        "low-osmolar iodinated: all adverse reactions 1.5-2 (Mayo 2009: 1.53); allergic-like "
        "up to 6.4 in one large non-ionic series",
    ),
    ReferenceRate(
        "iodinated",
        "severe",
        0.13,
        0.2,
        "severe: about 0.13 (non-ionic series) to 0.2 (Mayo 2009)",
    ),
    ReferenceRate(
        "gadolinium",
        "all",
        0.4,
        0.92,
        "gadolinium-based: 0.4-0.9; allergic-like 0.92 (meta-analysis 2018)",
    ),
    ReferenceRate(
        "gadolinium",
        "severe",
        0.05,
        0.05,
        "severe: about 0.05 (meta-analysis 2018)",
    ),
)


def reference(agent_class: str | None, severity: str) -> ReferenceRate | None:
    """The published rate for one agent class and severity ("all", "severe"); None if none."""
    for r in REFERENCE_RATES:
        if r.agent_class == agent_class and r.severity == severity:
            return r
    return None
