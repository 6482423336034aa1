"""Contrast reactions in the history, at the literature's rates per 1,000 injections by agent class
(``spec.REACTIONS_PER_1000``), with the entries the pages write for one: the onset in one tap, the
radiologist's first action, signs, vital signs, treatments, escalation, and the outcome completed
later; some with a field left out (documentation is not always complete) and a few amended.

Treatments are what a record says was given, for realistic records; Standby itself never
suggests a dose.
"""

from __future__ import annotations

import math
import random
from typing import Any

from signaling.record.entries import Kind
from signaling.reports.history.entry import Entry
from signaling.reports.history.record import Record, pick
from signaling.reports.history.spec import ALLERGIC_LIKE_SHARE, SEVERITY_SHARES, HistorySpec
from signaling.reports.history.times import iso

SIGNS = {
    ("allergic_like", "mild"): (
        "hives_limited",
        "itching",
        "skin_swelling_limited",
        "scratchy_throat",
        "congestion",
        "sneezing",
    ),
    ("allergic_like", "moderate"): (
        "hives_diffuse",
        "erythema",
        "facial_swelling",
        "throat_tightness",
        "hoarseness",
        "wheeze",
    ),
    ("allergic_like", "severe"): (
        "dyspnea",
        "laryngeal_edema",
        "stridor",
        "hypoxia",
        "bronchospasm",
        "hypotension",
        "anaphylactic_shock",
    ),
    ("physiologic", "mild"): (
        "nausea",
        "vomiting",
        "flushing",
        "headache",
        "dizziness",
        "anxiety",
        "altered_taste",
    ),
    ("physiologic", "moderate"): ("vomiting", "chest_pain", "hypertension", "vasovagal"),
    ("physiologic", "severe"): ("arrhythmia", "hypertension", "seizure", "vasovagal"),
}
TREATMENTS = {
    ("allergic_like", "mild"): (("diphenhydramine", "25 mg", "PO"),),
    ("allergic_like", "moderate"): (
        ("diphenhydramine", "50 mg", "IV"),
        ("oxygen", "6 L/min", "mask"),
    ),
    ("allergic_like", "severe"): (
        ("epinephrine 1 mg/mL", "0.3 mg", "IM"),
        ("oxygen", "10 L/min", "mask"),
        ("normal saline", "1000 mL", "IV"),
    ),
    ("physiologic", "mild"): (("ondansetron", "4 mg", "IV"),),
    ("physiologic", "moderate"): (
        ("normal saline", "500 mL", "IV"),
        ("oxygen", "4 L/min", "nasal cannula"),
    ),
    ("physiologic", "severe"): (
        ("oxygen", "10 L/min", "mask"),
        ("normal saline", "1000 mL", "IV"),
        ("atropine", "0.6 mg", "IV"),
    ),
}
GIVEN_BY = ("RN Maria Lee", "RN James Ortiz", "RN Priya Shah", "RN Tom Becker")
NO_TREATMENT = "No treatment needed: observed until resolved"


def react(
    spec: HistorySpec, rng: random.Random, record: Record, tech: int, radiologist: int
) -> float | None:
    """A reaction after the injection at the agent's rate; the moment its record is done."""
    agent = record.agent
    if agent is None or record.injected is None:
        return None
    rate = spec.reactions_per_1000.get(agent.agent_class, 0.0) / 1000.0
    if rng.random() >= rate:
        return None
    kind = "allergic_like" if rng.random() < ALLERGIC_LIKE_SHARE else "physiologic"
    shares = SEVERITY_SHARES.get(agent.agent_class, SEVERITY_SHARES["iodinated"])
    severity = pick(rng, tuple((v, k) for k, v in shares.items()))
    onset = record.injected + min(max(rng.expovariate(1 / 240.0), 20.0), 2400.0)
    return Reaction(rng, record, tech, radiologist, kind, severity).write(onset)


class Reaction:
    """One reaction's entries, in the order the pages write them."""

    def __init__(
        self, rng: random.Random, record: Record, tech: int, rad: int, kind: str, severity: str
    ) -> None:
        self.rng, self.record = rng, record
        self.tech, self.rad, self.kind, self.severity = tech, rad, kind, severity

    def write(self, onset: float) -> float:
        rng, record, tech, rad = self.rng, self.record, self.tech, self.rad
        by_rad = rng.random() < 0.15
        now = onset + rng.uniform(4.0, 40.0)
        known = rng.random() < 0.8  # type and severity at once, else with the findings
        opened = record.add(
            Entry(
                Kind.REACTION.value,
                now,
                rad if by_rad else tech,
                "reaction",
                {
                    "onset_at": iso(onset),
                    "type": self.kind if known else None,
                    "severity": self.severity if known else None,
                },
            )
        )
        acted = now if by_rad else now + rng.lognormvariate(math.log(7.0), 0.7)
        how = "reported" if by_rad else "acknowledged" if rng.random() < 0.85 else "note"
        self._on(opened, Kind.INTERVENTION, acted, rad, {"how": how})
        now = acted + rng.uniform(15.0, 90.0)
        signs = SIGNS[(self.kind, self.severity)]
        found: dict[str, Any] = {
            "manifestations": rng.sample(signs, min(len(signs), rng.randint(1, 3)))
        }
        if not known:
            found |= {"type": self.kind, "severity": self.severity}
        self._on(opened, Kind.FINDINGS, now, rad, found)
        serious = self.severity != "mild"
        for _ in range(0 if rng.random() < 0.05 else rng.randint(1, 3 if serious else 2)):
            now += rng.uniform(60.0, 420.0)
            self._on(opened, Kind.VITALS, now + 5, tech, self._vitals(now))
        now = self._treat(opened, onset, now)
        if self.severity == "severe" or (serious and rng.random() < 0.08):
            now += rng.uniform(60.0, 240.0)
            self._on(
                opened,
                Kind.ESCALATION,
                now + 10,
                tech,
                {"at": iso(now), "kind": "code_team" if self.severity == "severe" else "ed"},
            )
        now += rng.uniform(120.0, 900.0)
        self._on(opened, Kind.FINDINGS, now, rad, self._outcome())
        return now

    def _on(
        self, opened: Entry, kind: Kind, moment: float, actor: int, body: dict[str, Any]
    ) -> Entry:
        entry = Entry(
            kind.value, moment, actor, kind.value.replace("_", " "), body | {"reaction": 0}
        )
        entry.refers = opened
        return self.record.add(entry)

    def _vitals(self, moment: float) -> dict[str, Any]:
        rng = self.rng
        if self.severity == "severe":
            systolic, hr, spo2 = rng.randint(68, 88), rng.randint(112, 140), rng.randint(84, 91)
        else:
            systolic, hr, spo2 = rng.randint(104, 148), rng.randint(64, 108), rng.randint(94, 99)
        return {
            "at": iso(moment),
            "systolic": systolic,
            "diastolic": rng.randint(max(35, systolic - 70), max(40, systolic - 30)),
            "heart_rate": hr,
            "respiratory_rate": rng.randint(14, 28),
            "spo2": spo2,
        }

    def _treat(self, opened: Entry, onset: float, now: float) -> float:
        rng = self.rng
        options = TREATMENTS[(self.kind, self.severity)]
        if self.severity == "mild" and rng.random() < 0.6:
            self._on(opened, Kind.FINDINGS, now + 30, self.rad, {"note": NO_TREATMENT})
            return now + 30
        count = 1 if self.severity == "mild" else rng.randint(1, len(options))
        for drug, dose, route in options[:count]:
            given = max(onset + 30, now - rng.uniform(0, 120))
            now += rng.uniform(20.0, 180.0)
            body = {
                "at": iso(given),
                "drug": drug,
                "dose": dose,
                "route": route,
                "given_by": rng.choice(GIVEN_BY),
            }
            wrong = rng.random() < 0.03 and dose[0].isdigit()
            if wrong:
                body["dose"] = dose.replace(dose.split()[0], dose.split()[0] + "0", 1)
            treated = self._on(opened, Kind.TREATMENT, now, self.tech, body)
            if wrong:
                now += rng.uniform(60.0, 600.0)
                amendment = Entry(
                    Kind.AMENDMENT.value,
                    now,
                    self.tech,
                    "amendment",
                    {
                        "target": 0,
                        "target_kind": Kind.TREATMENT.value,
                        "before": {"dose": body["dose"]},
                        "changes": {"dose": dose},
                        "reason": f"dose mistyped: {dose} was given",
                    },
                )
                amendment.target = treated
                self.record.add(amendment)
        return now

    def _outcome(self) -> dict[str, Any]:
        rng, allergic = self.rng, self.kind == "allergic_like"
        if self.severity == "severe":
            outcome = pick(
                rng, ((0.6, "transferred_ed"), (0.25, "admitted"), (0.15, "resolved_on_site"))
            )
            advice = "avoid_class" if rng.random() < 0.4 else "switch_agent"
        elif self.severity == "moderate":
            outcome = "transferred_ed" if rng.random() < 0.05 else "resolved_on_site"
            advice = "switch_agent" if rng.random() < 0.7 else "premedicate"
        else:
            outcome = "resolved_on_site"
            advice = "switch_agent" if allergic and rng.random() < 0.3 else "none"
        body: dict[str, Any] = {
            "outcome": outcome,
            "allergy_recorded": allergic,
            "recommendation": advice if allergic else "none",
            "premedicated": False,
        }
        if rng.random() > 0.07:
            body["instructions"] = (
                "Told to return or call 911 for throat tightness, trouble breathing or a spreading "
                "rash; no driving today after sedating medication."
            )
        if rng.random() > 0.18:
            body["handoff"] = "Referring physician told by phone; patient left with family."
        if rng.random() < 0.05:
            body.pop("allergy_recorded")
        return body
