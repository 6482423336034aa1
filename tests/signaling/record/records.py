"""Record views built by hand, as the record store will build them: a full session with a moderate
reaction and an amendment, a cancelled one nobody covered, and one whose injection was not under
verified two-way supervision."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from signaling.directory.exam_setup import DEFAULT_REQUIRED, STANDARD_CHECKLIST, AgentClass
from signaling.record.completeness import score
from signaling.record.view import (
    Agent,
    Amendment,
    ChecklistItem,
    Exam,
    Injection,
    LicenseLine,
    LinkGap,
    PageLine,
    Person,
    Reaction,
    ReactionOutcome,
    ReactionType,
    Recommendation,
    RecordView,
    Severity,
    TimelineLine,
    Treatment,
    Vitals,
)

T0 = datetime(2026, 3, 2, 15, 14, 5, 120_000, tzinfo=UTC)  # 09:14:05 in Chicago (CST)
TECH = Person(11, "Sam Ortiz", "RT(R)(CT)")
DIAZ = Person(21, "Ray Diaz", "MD")
NURSE = Person(12, "Lee Park", "RN")
OMNIPAQUE = Agent("OMNI350", AgentClass.IODINATED, "Omnipaque 350", "iohexol", "350 mgI/mL")
LICENSE = LicenseLine("TX", "Q48211", date(2027, 8, 31))
HEAD = "9f2c" + "0" * 56 + "beef"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def checklist(confirmed: bool = True) -> tuple[ChecklistItem, ...]:
    return tuple(
        ChecklistItem(
            code, label, confirmed, TECH if confirmed else None, at(240 + i) if confirmed else None
        )
        for i, (code, label) in enumerate(STANDARD_CHECKLIST)
    )


def exam(**changes: object) -> Exam:
    base = Exam(
        accession_number="A240113",
        modality="CT",
        agent=OMNIPAQUE,
        volume_ml=100.0,
        route="intravenous",
        iv_site="left antecubital",
        delivery="injector",
        rate_ml_s=3.0,
        premedicated=False,
        recorded_by=TECH,
        recorded_at=at(250),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def reaction(**changes: object) -> Reaction:
    """A moderate allergic-like reaction, fully documented."""
    base = Reaction(
        seq=31,
        onset_at=at(605),
        reported_by=TECH,
        type=ReactionType.ALLERGIC_LIKE,
        severity=Severity.MODERATE,
        manifestations=("hives_diffuse", "facial_swelling"),
        treatments=(
            Treatment(at(715), "diphenhydramine", "50 mg", "IV", "Lee Park, RN", TECH),
            Treatment(at(900), "cetirizine", "10 mg", "oral", "Lee Park, RN", TECH),
        ),
        vitals=(
            Vitals(at(660), NURSE, 128, 82, 96, 18, 97),
            Vitals(at(1200), NURSE, 124, 80, 84, 16, 98),
        ),
        outcome=ReactionOutcome.RESOLVED_ON_SITE,
        instructions="Return to the ED for any throat tightness; no driving today.",
        allergy_recorded=True,
        recommendation=Recommendation.SWITCH_AGENT,
        premedicated=False,
        handoff="Told Dr Hale (referrer) by phone; patient left with her husband.",
        first_action_at=at(647),
        first_action="acknowledged",
        first_action_by=DIAZ,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def full(**changes: object) -> RecordView:
    """A completed session: paged, joined in 24.7 s, injected under verified supervision, a
    moderate reaction treated and resolved, its severity amended from mild."""
    base = RecordView(
        session_id="7f3a9c2e41d8",
        facility_code="NORTH",
        facility_name="North Imaging Center",
        facility_state="TX",
        facility_timezone="America/Chicago",
        room="CT 2",
        modality="CT",
        technologist=TECH,
        radiologist=DIAZ,
        radiologist_license=LICENSE,
        state="ended",
        outcome="completed",
        cancel_reason=None,
        cancel_note=None,
        ended_by=DIAZ,
        requested_at=T0,
        accepted_at=at(14.2),
        joined_at=at(24.8),
        ended_at=at(2100),
        join_latency_ms=24_680,
        coverage={
            "measured": True,
            "evidence": "server and client",
            "from": "2026-03-02T15:14:29.920Z",
            "to": "2026-03-02T15:49:05.120Z",
            "verified_live_s": 2067.7,
            "gap_s": 7.5,
            "gap_count": 1,
            "gaps": [{"start": "2026-03-02T15:22:40.000Z", "seconds": 7.5, "causes": []}],
        },
        exam=exam(),
        checklist=checklist(),
        injection=Injection(at(306), TECH, True, "verified two-way live"),
        reactions=(reaction(),),
        amendments=(
            Amendment(
                seq=40,
                at=at(1500),
                by=DIAZ,
                reason="Facial swelling seen on review of the video",
                target_seq=31,
                changes={"severity": ("mild", "moderate")},
            ),
        ),
        pages=(
            PageLine(at(0.2), "Ray Diaz", "in_app", "delivered", 1),
            PageLine(at(0.9), "Ray Diaz", "sms", "delivered", 1),
            PageLine(at(10.3), "Priya Patel", "in_app", "delivered", 2),
            PageLine(at(14.2), "Ray Diaz", "in_app", "accepted", 1),
        ),
        link_gaps=(LinkGap(at(515), at(522.5), "radiologist:no_frames", 7.5),),
        timeline=(TimelineLine(31, at(605), "Reaction reported by Sam Ortiz", TECH),),
        chain_length=41,
        chain_head=HEAD,
        unsealed=0,
    )
    view = replace(base, **changes)  # type: ignore[arg-type]
    return replace(view, completeness=score(view, DEFAULT_REQUIRED))


def cancelled() -> RecordView:
    """Cancelled before the injection: nobody covered; no radiologist joined."""
    return full(
        radiologist=None,
        radiologist_license=None,
        state="ended",
        outcome="cancelled",
        cancel_reason="no_coverage",
        cancel_note="Nobody answered; patient rebooked for tomorrow 8:00",
        ended_by=TECH,
        accepted_at=None,
        joined_at=None,
        ended_at=at(125),
        join_latency_ms=None,
        coverage={"measured": False, "evidence": "server and client"},
        exam=exam(agent=None, volume_ml=None, rate_ml_s=None),
        checklist=checklist(confirmed=False),
        injection=None,
        reactions=(),
        amendments=(),
        pages=(
            PageLine(at(0.2), "Ray Diaz", "in_app", "delivered", 1),
            PageLine(at(0.9), "Ray Diaz", "voice", "voicemail", 1),
            PageLine(at(10.3), "Priya Patel", "sms", "failed", 2),
        ),
        link_gaps=(),
        timeline=(),
        chain_length=6,
        chain_head=HEAD,
        unsealed=2,
    )


UNVERIFIED_LINK = "radiologist: lost (nothing arrives) since 09:19:58"


def unverified() -> RecordView:
    """Injected while the radiologist's video and audio were not reaching the technologist."""
    return full(
        injection=Injection(at(306), TECH, False, UNVERIFIED_LINK),
        link_gaps=(LinkGap(at(293), at(340), "radiologist:nothing_arrives", 47.0),),
        reactions=(),
        amendments=(),
    )
