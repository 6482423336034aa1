"""One supervision session from request to end, as the service would have left it: the session
row (its times, outcome, cancel reason and stored coverage), its paging (``paging_run``), its
accepts and re-page, and its record's entries (``record``).

The story of a session: the technologist requests supervision and paging starts; someone takes it
and their call is verified, or the technologist gives up waiting (cancelled, no coverage) or
cancels for a reason of their own (before or after the join); once joined, the exam, checklist and
injection are recorded, the patient is watched for some minutes and the session is completed. Now
and then the radiologist's media is lost for good: paging starts again and they (or another)
come back.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from signaling.reports.history.cast import Cast, RoomFacts, SiteFacts
from signaling.reports.history.entry import Entry
from signaling.reports.history.paging_run import Pager, Taken
from signaling.reports.history.paging_state import Paging
from signaling.reports.history.reaction import react
from signaling.reports.history.record import MONITOR_OFF, Record, Recorder
from signaling.reports.history.spec import HistorySpec
from signaling.reports.history.times import at
from signaling.sessions.coverage import CLIENT_ONLY, UNCHECKED, VERIFIED, summarize
from signaling.sessions.state import CancelReason

LOST = "technologist: live; radiologist: lost (nothing_arrives)"
REPAGE_AFTER_S = 15.0  # STANDBY_REPAGE_AFTER_S
NOTES = (
    "patient felt unwell in the waiting room",
    "scheduling conflict",
    "interpreter not available",
)


@dataclass
class Story:
    session: dict[str, Any]
    entries: list[Entry]
    paging: Paging
    accepts: list[tuple[Any, ...]] = field(default_factory=list)
    repages: list[tuple[Any, ...]] = field(default_factory=list)
    ended: float = 0.0


class Storyteller:
    """Tells sessions for one history: one random stream, so the same seed tells the same."""

    def __init__(self, cast: Cast, spec: HistorySpec, rng: random.Random) -> None:
        self.cast, self.spec, self.rng = cast, spec, rng
        self.pager = Pager(cast, spec, rng)
        self.recorder = Recorder(spec, rng)
        self.cancels = tuple((v / 1000.0, k) for k, v in spec.cancels_per_1000.items())

    def tell(self, site: SiteFacts, room: RoomFacts, requested: float, accession: str) -> Story:
        rng = self.rng
        session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        tech = rng.choice(site.technologists)
        reason, cancel_at = self._planned_cancel(requested)
        give_up = requested + rng.uniform(150.0, 720.0)
        paging = Paging(session_id, site, room.name, requested)
        record = Record()
        record.add(Entry("transition", requested, tech, to_state="requested"))
        record.add(Entry("transition", requested, tech, from_state="requested", to_state="paging"))
        waits_until = min(give_up, cancel_at) if cancel_at is not None else give_up
        taken = self.pager.run(paging, requested, waits_until)
        # Half the technologists save the exam while paging goes on; the rest once joined.
        early_exam = requested + rng.uniform(15.0, 150.0) if rng.random() < 0.45 else None
        row: dict[str, Any] = {"radiologist_id": None, "accepted_at": None, "joined_at": None}
        repages: list[tuple[Any, ...]] = []
        links: list[tuple[float, str]] = []
        state_before = "joined"
        if taken is None:  # the technologist gave up waiting, or cancelled first
            ended, state_before = waits_until, "paging"
            if reason is None or cancel_at is None or cancel_at > give_up:
                reason = CancelReason.NO_COVERAGE.value
            self.pager.end(paging, ended, "cancelled")
        elif cancel_at is not None:  # cancelled after the join, before any injection
            self._joined(record, row, taken, tech, first=True)
            ended = max(cancel_at, taken.joined + rng.uniform(20.0, 120.0))
            links = self.recorder.link(record, site, tech, taken.joined + 0.8, ended)
        else:
            reason = None
            self._joined(record, row, taken, tech, first=True)
            if early_exam is not None:
                self.recorder.exam(record, site, room.modality, tech, early_exam)
            verified = taken.joined + rng.uniform(0.3, 1.5)
            taken, verified, repages = self._maybe_repaged(
                record, row, paging, taken, tech, verified, links
            )
            ended = self._exam_to_end(record, site, room, tech, taken, verified, links)
        if reason is not None and early_exam is not None and early_exam < ended - 1.0:
            self.recorder.exam(record, site, room.modality, tech, early_exam)
        ended_by = tech
        if reason is None and rng.random() < 0.65 and row["radiologist_id"] is not None:
            ended_by = row["radiologist_id"]
        record.add(Entry("transition", ended, ended_by, from_state=state_before, to_state="ended"))
        row |= self._row(site, room, session_id, tech, requested, accession, reason, ended)
        row |= {"ended_by_id": ended_by, "coverage": self._coverage(site, links, ended)}
        if row["joined_at"] is not None:
            row["radiologist_live_at"] = at(ended - rng.uniform(0.0, 2.0))
        row |= {
            "agent_class": record.agent.agent_class if record.agent else None,
            "injected_at": at(record.injected),
            "injection_verified": record.verified,
        }
        for person, via, moment in paging.accepted:
            record.add(Entry("accepted", moment, person.id, via))
        accepts = [
            (session_id, a.user.id, a.via, at(a.at), at(a.ended), a.end_reason)
            for a in paging.accepts.values()
        ]
        return Story(row, record.entries, paging, accepts, repages, ended)

    def _planned_cancel(self, requested: float) -> tuple[str | None, float | None]:
        rng, draw, total = self.rng, self.rng.random(), 0.0
        for share, reason in self.cancels:
            total += share
            if draw < total:
                if reason == CancelReason.REQUESTED_IN_ERROR.value:
                    return reason, requested + rng.uniform(5.0, 60.0)
                return reason, requested + rng.uniform(40.0, 900.0)
        return None, None

    def _joined(
        self, record: Record, row: dict[str, Any], taken: Taken, tech: int, *, first: bool
    ) -> None:
        """The take and the call coming up: ICE once, both sides' media, the transition."""
        rng, rad = self.rng, taken.user.id
        record.add(Entry("joined_request", taken.take, rad, taken.via))
        earlier = taken.joined - rng.uniform(0.0, 1.2)
        first_side, last_side = (tech, rad) if rng.random() < 0.5 else (rad, tech)
        if first:
            ice = min(taken.take + rng.uniform(0.8, 2.5), earlier - 0.2)
            ice = max(ice, taken.take + 0.1)
            record.add(Entry("ice_connected", ice, first_side, _role(first_side, tech)))
            row["ice_connected_at"] = at(ice)
            row["joined_at"] = at(taken.joined)
        record.add(Entry("media_verified", earlier, first_side, _role(first_side, tech)))
        record.add(Entry("media_verified", taken.joined, last_side, _role(last_side, tech)))
        record.add(
            Entry("transition", taken.joined, last_side, from_state="paging", to_state="joined")
        )
        media = {first_side: earlier, last_side: taken.joined}
        row |= {
            "radiologist_id": rad,
            "accepted_at": at(taken.accepted),
            "technologist_media_at": at(media[tech]),
            "radiologist_media_at": at(media[rad]),
        }

    def _maybe_repaged(
        self,
        record: Record,
        row: dict[str, Any],
        paging: Paging,
        taken: Taken,
        tech: int,
        verified: float,
        links: list[tuple[float, str]],
    ) -> tuple[Taken, float, list[tuple[Any, ...]]]:
        """Now and then the radiologist's media is lost for good before the injection: paging
        again, and a join that answers it. The taker and the moment the link is verified again."""
        rng = self.rng
        if rng.random() >= self.spec.repage_share:
            return taken, verified, []
        suffix = "" if paging.site.monitor_media else MONITOR_OFF
        lost = verified + rng.uniform(30.0, 150.0)
        moment = lost + REPAGE_AFTER_S
        for change in ((verified, VERIFIED + suffix), (lost, LOST + suffix)):
            links.append(change)
            record.add(Entry("link", change[0], tech, change[1]))
        rad = taken.user.id
        detail = f"radiologist {rad}: video and audio gone for {REPAGE_AFTER_S:.0f} s"
        record.add(Entry("media_lost", moment, None, detail))
        record.add(Entry("transition", moment, None, from_state="joined", to_state="paging"))
        paging.repaged += 1
        base = 1 + max(t.round for t in paging.timers if t.round is not None)
        back = (taken.user, moment + rng.uniform(15.0, 60.0))
        again = self.pager.run(
            paging,
            moment + rng.uniform(0.01, 0.06),
            moment + 900.0,
            base_round=base,
            returning=back,
        )
        assert again is not None  # the returning radiologist comes back before anyone gives up
        self._joined(record, row, again, tech, first=False)
        repage = (
            paging.session_id,
            at(moment),
            "media_lost",
            detail,
            again.user.id,
            at(again.joined),
        )
        return again, again.joined + rng.uniform(0.3, 1.5), [repage]

    def _exam_to_end(
        self,
        record: Record,
        site: SiteFacts,
        room: RoomFacts,
        tech: int,
        taken: Taken,
        verified: float,
        links: list[tuple[float, str]],
    ) -> float:
        """Exam, checklist, injection, watching the patient, any reaction; when it ended."""
        rng, rad = self.rng, taken.user.id
        if record.exam_at is None:
            self.recorder.exam(record, site, room.modality, tech, verified + rng.uniform(5.0, 60.0))
        exam_at = record.exam_at if record.exam_at is not None else verified
        injected = max(verified + rng.uniform(30.0, 240.0), exam_at + rng.uniform(30.0, 90.0))
        watched = min(max(rng.lognormvariate(math.log(540.0), 0.45), 180.0), 2100.0)
        changes = self.recorder.link(record, site, tech, verified, injected + watched)
        links.extend(changes)
        gaps = list(zip(changes[1::2], changes[2::2], strict=False))
        why = None
        allowed = not site.setup.require_verified_injection
        if allowed and rng.random() < self.spec.unverified_injection_share:
            if gaps:
                (start, detail), _ = gaps[0]
                injected, why = start + 0.5, f"the link is not verified: {detail}"
            else:
                why = "the radiologist's media was last seen 9 s ago"
        else:
            for (start, _), (back, _) in gaps:
                if start <= injected < back:
                    injected = back + 2.0
        checked = min(exam_at + rng.uniform(5.0, 40.0), injected - 3.0)
        self.recorder.checklist(record, site, tech, max(checked, exam_at + 1.0))
        self.recorder.injection(record, tech, rad, injected, why)
        finished = react(self.spec, rng, record, tech, rad)
        ended = max(injected + watched, changes[-1][0] + 1.0)
        if finished is not None:
            ended = max(ended, finished + rng.uniform(60.0, 300.0))
        return ended

    def _row(
        self,
        site: SiteFacts,
        room: RoomFacts,
        session_id: str,
        tech: int,
        requested: float,
        accession: str,
        reason: str | None,
        ended: float,
    ) -> dict[str, Any]:
        note = self.rng.choice(NOTES) if reason == CancelReason.OTHER.value else None
        return {
            "id": session_id,
            "facility_id": site.id,
            "room_id": room.id,
            "technologist_id": tech,
            "accession_number": accession,
            "state": "ended",
            "outcome": "cancelled" if reason else "completed",
            "cancel_reason": reason,
            "cancel_note": note,
            "requested_at": at(requested),
            "paging_at": at(requested),
            "ended_at": at(ended),
            "patient_digest": None,
        }

    @staticmethod
    def _coverage(site: SiteFacts, links: list[tuple[float, str]], ended: float) -> dict[str, Any]:
        """As ``sessions.coverage.coverage_of`` stores it when the session ends."""
        events = [(at(moment), detail) for moment, detail in sorted(links)]
        monitored = site.monitor_media and any(
            CLIENT_ONLY not in d and UNCHECKED not in d for _, d in events
        )
        return summarize(events, at(ended), monitored=monitored)


def _role(user_id: int, tech: int) -> str:
    return "technologist" if user_id == tech else "radiologist"
