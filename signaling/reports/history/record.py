"""What a session's record says, as the technologist's and radiologist's pages write it
(``signaling.record.actions``): the exam with an agent from the facility's formulary, the
checklist, the injection and whether the radiologist was verified live at it, and the link's
changes. Reactions are in ``reaction``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from signaling.directory.exam_setup import FormularyAgent
from signaling.record.entries import Kind
from signaling.reports.history.cast import SiteFacts
from signaling.reports.history.entry import Entry
from signaling.reports.history.spec import HistorySpec
from signaling.sessions.coverage import VERIFIED

MONITOR_OFF = " [client evidence only: media monitor off]"
IV_SITES = (
    "right antecubital, 20 G",
    "left antecubital, 20 G",
    "right antecubital, 22 G",
    "left forearm, 22 G",
    "right hand, 22 G",
    "power-injectable port",
)
GAPS = (  # what the technologist's link watch writes when the link is not verified
    (0.40, "technologist: live; radiologist: lost (nothing_arrives)"),
    (0.20, "technologist: live; radiologist: frozen (video_frozen)"),
    (0.15, "technologist: degraded (high_loss); radiologist: live"),
    (0.15, "technologist: live; radiologist: degraded (low_fps)"),
    (0.10, "technologist: live; radiologist: degraded (audio_silent)"),
)


@dataclass
class Record:
    """The entries of one session's record, and what the reports read from it."""

    entries: list[Entry] = field(default_factory=list)
    agent: FormularyAgent | None = None
    exam_at: float | None = None
    injected: float | None = None
    verified: bool | None = None
    last: float = 0.0  # the latest entry's moment

    def add(self, entry: Entry) -> Entry:
        self.entries.append(entry)
        self.last = max(self.last, entry.at_s)
        return entry


class Recorder:
    def __init__(self, spec: HistorySpec, rng: random.Random) -> None:
        self.spec, self.rng = spec, rng

    def link(
        self, record: Record, site: SiteFacts, tech: int, start: float, end: float
    ) -> list[tuple[float, str]]:
        """The link's changes from ``start`` (verified) to ``end``: a few gaps; (moment, detail)."""
        rng, suffix = self.rng, "" if site.monitor_media else MONITOR_OFF
        changes = [(start, VERIFIED + suffix)]
        count = sum(1 for _ in range(3) if rng.random() < 0.12)
        for gap_start in sorted(rng.uniform(start + 20, end - 15) for _ in range(count)):
            if gap_start <= changes[-1][0] + 2 or end - start < 60:
                continue
            seconds = min(rng.lognormvariate(math.log(6.0), 0.8), 120.0, end - gap_start - 1)
            changes.append((gap_start, pick(rng, GAPS) + suffix))
            changes.append((gap_start + max(seconds, 1.0), VERIFIED + suffix))
        for moment, detail in changes:
            record.add(Entry("link", moment, tech, detail))
        return changes

    def exam(
        self, record: Record, site: SiteFacts, modality: str, tech: int, moment: float
    ) -> None:
        rng = self.rng
        agents = site.agents(modality)
        if not agents:
            return
        agent = record.agent = rng.choice(agents)
        record.exam_at = moment
        if agent.agent_class == "gadolinium":
            volume = rng.choice((6.0, 7.0, 7.5, 8.0, 9.0, 10.0))
            if not agent.concentration.startswith("1 "):
                volume *= 2
        else:
            volume = rng.choice((75.0, 80.0, 90.0, 100.0, 100.0, 120.0))
        injector = rng.random() < (0.93 if agent.agent_class == "iodinated" else 0.85)
        rates = (2.5, 3.0, 3.5, 4.0, 5.0) if agent.agent_class == "iodinated" else (1.0, 1.5, 2.0)
        body = {
            "agent": agent.code,
            "volume_ml": volume,
            "route": "intravenous",
            "iv_site": rng.choice(IV_SITES) if rng.random() > 0.04 else None,
            "delivery": "injector" if injector else "hand",
            "rate_ml_s": rng.choice(rates) if injector else None,
            "premedicated": rng.random() < 0.035,
            "patient_given": False,
        }
        record.add(Entry(Kind.EXAM.value, moment, tech, "exam", body))

    def checklist(self, record: Record, site: SiteFacts, tech: int, moment: float) -> None:
        items = [code for code, _ in site.setup.checklist_items()]
        if self.rng.random() < 0.025:
            items.remove(self.rng.choice(items))
        record.add(
            Entry(Kind.CHECKLIST.value, moment, tech, "checklist", {"confirmed": sorted(items)})
        )

    def injection(
        self, record: Record, tech: int, radiologist: int, moment: float, why: str | None
    ) -> None:
        """``why`` None: verified two-way live at that second; else why not, in words."""
        body = {
            "verified": why is None,
            "link": (VERIFIED if why is None else why)[:200],
            "radiologist_id": radiologist if why is None else None,
            "exam_saved": record.agent is not None,
        }
        record.injected, record.verified = moment, why is None
        record.add(Entry(Kind.INJECTION.value, moment, tech, "injection", body))


def pick(rng: random.Random, weighted: tuple[tuple[float, str], ...]) -> str:
    draw, total = rng.random() * sum(w for w, _ in weighted), 0.0
    for weight, value in weighted:
        total += weight
        if draw < total:
            return value
    return weighted[-1][1]
