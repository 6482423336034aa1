"""The document's sections in plain words (the Composition's narratives), and the words the
resources share: the exact agent, a reaction's kind, an outcome, an escalation, a recommendation.
Names, never ids; times in the facility's zone and UTC."""

from __future__ import annotations

from signaling.record.fhir.context import Export
from signaling.record.view import (
    Agent,
    Escalation,
    Reaction,
    ReactionOutcome,
    ReactionType,
    Recommendation,
)

ESCALATION_WORDS: dict[Escalation, str] = {
    Escalation.CODE_TEAM: "code team called",
    Escalation.EMS: "EMS called",
    Escalation.ED: "sent to the emergency department",
}
RECOMMENDATION_WORDS: dict[Recommendation, str] = {
    Recommendation.NONE: "none",
    Recommendation.SWITCH_AGENT: "switch to another agent",
    Recommendation.PREMEDICATE: "premedicate",
    Recommendation.AVOID_CLASS: "avoid this class of contrast",
}
OUTCOME_WORDS: dict[ReactionOutcome, str] = {
    ReactionOutcome.RESOLVED_ON_SITE: "resolved on site",
    ReactionOutcome.TRANSFERRED_ED: "transferred to the emergency department",
    ReactionOutcome.ADMITTED: "admitted",
    ReactionOutcome.DIED: "died",
}


def agent_words(agent: Agent) -> str:
    """The exact product as people name it: brand, generic and concentration."""
    return f"{agent.product} ({agent.generic} {agent.concentration})"


def reaction_words(reaction: Reaction) -> str:
    """ "Allergic-like contrast reaction, moderate"."""
    kind = {
        ReactionType.ALLERGIC_LIKE: "Allergic-like",
        ReactionType.PHYSIOLOGIC: "Physiologic",
        None: "Unclassified",
    }[reaction.type]
    severity = f", {reaction.severity.value}" if reaction.severity else ", severity not recorded"
    return f"{kind} contrast reaction{severity}"


def exam_lines(ex: Export) -> list[str]:
    view = ex.view
    lines = [
        f"{view.modality} with contrast at {view.facility_name} ({view.facility_state}), "
        f"room {view.room}. Accession number {view.exam.accession_number}.",
        "Standby keeps no patient identifier: the facility links this record to its patient "
        "by the accession number, the Procedure's identifier (type ACSN).",
    ]
    for item in view.checklist:
        if not item.confirmed:
            lines.append(f"Checklist: {item.label}: not confirmed.")
        else:
            by = f" by {item.by.name}" if item.by else ""
            at = f" {ex.when(item.at)}" if item.at else ""
            lines.append(f"Checklist: {item.label}: confirmed{by}{at}.")
    return lines


def supervision_lines(ex: Export) -> list[str]:
    view = ex.view
    lines = [f"Technologist: {view.technologist.name}."]
    if view.radiologist is not None:
        license_ = view.radiologist_license
        held = (
            f", licensed in {license_.state} (number {license_.number}, "
            f"expires {license_.expires_on.isoformat()})"
            if license_
            else ", no license on record for this state"
        )
        lines.append(f"Supervising radiologist: {view.radiologist.name}{held}.")
    else:
        lines.append("No radiologist joined.")
    lines.append(f"Requested {ex.when(view.requested_at)}.")
    if view.joined_at is not None:
        latency = ""
        if view.join_latency_ms is not None:
            latency = f" ({view.join_latency_ms / 1000:.1f} s after the request)"
        lines.append(
            f"Joined with verified two-way audio and video {ex.when(view.joined_at)}{latency}."
        )
    if view.injection is not None:
        at = ex.when(view.injection.at)
        lines.append(
            f"Injection {at}, under verified two-way live supervision."
            if view.injection.verified
            else f"Injection {at}, NOT under verified two-way live supervision: "
            f"{view.injection.link}."
        )
    for gap in view.link_gaps:
        end = ex.when(gap.end) if gap.end is not None else "the end of the session"
        lines.append(f"Link gap {ex.when(gap.start)} to {end}: {gap.cause}, {gap.seconds:.0f} s.")
    if view.ended_at is not None:
        reason = f" ({view.cancel_reason})" if view.cancel_reason else ""
        lines.append(f"Ended {ex.when(view.ended_at)}: {view.outcome or 'ended'}{reason}.")
    if view.chain_head:
        lines.append(f"Record chain: {view.chain_length} entries sealed, head {view.chain_head}.")
    return lines


def contrast_lines(ex: Export) -> list[str]:
    exam = ex.view.exam
    if ex.view.injection is None:
        return ["No injection was recorded."]
    parts = [
        f"Agent: {agent_words(exam.agent) if exam.agent else 'product not recorded'}",
        f"volume {exam.volume_ml:g} mL" if exam.volume_ml is not None else "volume not recorded",
        f"route {exam.route}" if exam.route else "route not recorded",
        f"IV site {exam.iv_site}" if exam.iv_site else "IV site not recorded",
    ]
    if exam.rate_ml_s is not None:
        parts.append(f"rate {exam.rate_ml_s:g} mL/s")
    if exam.delivery:
        parts.append(f"by {exam.delivery}")
    return ["; ".join(parts) + "."]


def reaction_lines(ex: Export) -> list[str]:
    view = ex.view
    lines: list[str] = []
    if not view.reactions:
        lines.append("No contrast reaction was recorded.")
    for r in view.reactions:
        lines += _one_reaction(ex, r)
    for prior in view.prior_reactions:
        agent = agent_words(prior.agent) if prior.agent else "agent not recorded"
        lines.append(
            f"Prior reaction recorded in Standby: {prior.onset_at.date().isoformat()} at "
            f"{prior.facility}, {agent}, "
            f"{prior.type.value if prior.type else 'type not recorded'}, "
            f"{prior.severity.value if prior.severity else 'severity not recorded'}."
        )
    return lines


def _one_reaction(ex: Export, r: Reaction) -> list[str]:
    known = ex.book.manifestations
    signs = "; ".join(known[k].label if k in known else k for k in r.manifestations)
    lines = [
        f"{reaction_words(r)}, onset {ex.when(r.onset_at)}, reported by {r.reported_by.name}. "
        f"Signs: {signs or 'not recorded'}."
    ]
    if r.first_action_at is not None:
        who = r.first_action_by.name if r.first_action_by else "the radiologist"
        lines.append(
            f"First radiologist action ({r.first_action or 'action'}) by {who} "
            f"{ex.when(r.first_action_at)}, {r.onset_to_action_s:.0f} s after onset."
        )
    if r.stat_paged_at is not None:
        lines.append(f"Every tier paged at once {ex.when(r.stat_paged_at)}.")
    lines += [
        f"Treatment {ex.when(x.at)}: {x.drug} {x.dose} {x.route}, given by {x.given_by}."
        for x in r.treatments
    ]
    lines += [f"Escalation {ex.when(e.at)}: {ESCALATION_WORDS[e.kind]}." for e in r.escalations]
    if r.outcome is not None:
        lines.append(f"Outcome: {OUTCOME_WORDS[r.outcome]}.")
    if r.premedicated is not None:
        lines.append(
            "Premedicated: yes (a breakthrough reaction)."
            if r.premedicated
            else "Premedicated: no."
        )
    if r.instructions:
        lines.append(f"Instructions given: {r.instructions}")
    if r.handoff:
        lines.append(f"Handoff: {r.handoff}")
    if r.allergy_recorded is not None:
        done = "yes" if r.allergy_recorded else "no"
        lines.append(f"Allergy list updated with the specific agent: {done}.")
    if r.recommendation is not None:
        lines.append(f"Recommendation for next time: {RECOMMENDATION_WORDS[r.recommendation]}.")
    lines += [f"Note: {note}" for note in r.notes]
    return lines


def vital_lines(ex: Export) -> list[str]:
    lines = []
    for r in ex.view.reactions:
        for v in r.vitals:
            parts = []
            if v.systolic is not None or v.diastolic is not None:
                parts.append(f"BP {v.systolic or '?'}/{v.diastolic or '?'} mmHg")
            if v.heart_rate is not None:
                parts.append(f"HR {v.heart_rate}/min")
            if v.respiratory_rate is not None:
                parts.append(f"RR {v.respiratory_rate}/min")
            if v.spo2 is not None:
                parts.append(f"SpO2 {v.spo2} %")
            lines.append(f"{ex.when(v.at)}: {', '.join(parts) or 'none'}.")
    return lines


def amendment_lines(ex: Export) -> list[str]:
    lines = []
    for a in ex.view.amendments:
        changes = "; ".join(
            f"{name}: {before!r} became {after!r}" for name, (before, after) in a.changes.items()
        )
        lines.append(
            f"Amendment {ex.when(a.at)} by {a.by.name} to entry {a.target_seq} "
            f"({a.reason}): {changes}."
        )
    return lines
