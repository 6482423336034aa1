"""The printable supervision record (issue 10 item 6): one session in plain words, names not ids,
as HTML that prints on one page, as PDF (WeasyPrint) and as JSON for machines.

All three read the ``RecordView`` and nothing else. The HTML is one self-contained document: inline
CSS, no script, nothing fetched. Every value a person typed (names, notes, reasons, amended values)
goes through Jinja2's autoescape. Times are shown in the facility's time zone with UTC beside them;
the JSON has ISO-8601 UTC times to the millisecond and enums as their values.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from signaling.clock import iso_ms
from signaling.record import words
from signaling.record.completeness import missing_words
from signaling.record.timeline import Clock, injection_words, join_latency_words, timeline
from signaling.record.view import Person, Reaction, RecordView


def coverage_words(coverage: dict[str, object] | None) -> str:
    if coverage is None:
        return "not available yet"
    evidence = f"evidence: {coverage.get('evidence', 'unknown')}"
    if not coverage.get("measured"):
        return f"not measured: the link was never verified two-way live ({evidence})"
    live, gaps = _number(coverage.get("verified_live_s")), _number(coverage.get("gap_s"))
    count = coverage.get("gap_count", 0)
    share = coverage_share(coverage)
    share_words = f" ({share:.1%})" if share is not None else ""
    return (
        f"verified two-way live {words.seconds(live)} of {words.seconds(live + gaps)}"
        f"{share_words}; {count} gap{'' if count == 1 else 's'} totalling {words.seconds(gaps)}; "
        f"{evidence}"
    )


def _number(item: object) -> float:
    return float(item) if isinstance(item, int | float) else 0.0


def coverage_share(coverage: dict[str, object] | None) -> float | None:
    """Verified live seconds over the measured span, or None when nothing was measured."""
    if not coverage or not coverage.get("measured"):
        return None
    live, gaps = _number(coverage.get("verified_live_s")), _number(coverage.get("gap_s"))
    return live / (live + gaps) if live + gaps > 0 else None


def completeness_words(view: RecordView) -> str:
    c = view.completeness
    present = len(c.required) - len(c.missing)
    counted = f"{present} of {len(c.required)} required fields"
    if c.complete:
        return f"complete ({counted})"
    return f"{c.score:.0%} complete ({counted}); missing: {', '.join(missing_words(c))}"


def chain_words(view: RecordView) -> str:
    if view.chain_head is None:
        sealed = "no entry sealed yet"
    else:
        sealed = (
            f"{view.chain_length} entr{'y' if view.chain_length == 1 else 'ies'} sealed; "
            f"last digest sha-256 {view.chain_head}"
        )
    if view.unsealed > 0:
        sealed += f"; {view.unsealed} entr{'y' if view.unsealed == 1 else 'ies'} not sealed yet"
    return sealed


def cancellation_words(view: RecordView, clock: Clock) -> str | None:
    """``"Cancelled: no coverage ("nobody answered") by Sam Tech, RT(R) at 09:31:02 (...)"``."""
    if view.outcome != "cancelled":
        return None
    reason = (view.cancel_reason or "no reason recorded").replace("_", " ")
    note = f' ("{view.cancel_note}")' if view.cancel_note else ""
    by = f" by {words.person(view.ended_by)}" if view.ended_by else ""
    at = f" at {clock.both(view.ended_at)}" if view.ended_at else ""
    return f"Cancelled: {reason}{note}{by}{at}"


def amended_entry(view: RecordView, seq: int, clock: Clock) -> str:
    """What an amendment corrects, in words: the reaction or timeline line with that entry."""
    for number, reaction in enumerate(view.reactions, 1):
        if reaction.seq == seq:
            return f"reaction {number} (entry {seq})"
    line = next((line for line in view.timeline if line.seq == seq), None)
    if line is not None:
        return f"{line.what} at {clock.local(line.at)} (entry {seq})"
    return f"entry {seq}"


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("signaling.record", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.update(words=words)
    return environment


def html(view: RecordView) -> str:
    """The record as one self-contained HTML document for a browser to print or WeasyPrint to
    render: a typical session fits one Letter or A4 page."""
    clock = Clock.of(view)
    today = view.requested_at.astimezone(clock.zone).date()
    return (
        _environment()
        .get_template("record.html.j2")
        .render(
            r=view,
            clock=clock,
            rows=timeline(view, clock),
            license=words.license_line(view.radiologist_license, today),
            join_latency=join_latency_words(view),
            injection=injection_words(view),
            coverage=coverage_words(view.coverage),
            completeness=completeness_words(view),
            chain=chain_words(view),
            cancellation=cancellation_words(view, clock),
            amended_entry=lambda seq: amended_entry(view, seq, clock),
            amended=lambda name, item: words.amended(name, item, clock.both),
        )
    )


def pdf(view: RecordView) -> bytes:
    """The record's HTML rendered to PDF by WeasyPrint (nothing fetched: the HTML has no links)."""
    # imported here: WeasyPrint loads Pango, which nothing but the PDF needs
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # no protocol allowed, and an attempt stops the rendering: the document must need nothing
    fetch_nothing = URLFetcher(allowed_protocols=(), fail_on_errors=True)
    document: bytes = HTML(string=html(view), url_fetcher=fetch_nothing).write_pdf()
    return document


def _json_value(item: object) -> object:
    """An amended value as JSON: times ISO UTC (also those stored as text), enums as values,
    people by name."""
    moment = words.timestamp(item)
    if moment is not None:
        return iso_ms(moment)
    if isinstance(item, datetime):
        return iso_ms(item)
    if isinstance(item, date):
        return item.isoformat()
    if isinstance(item, Enum):
        return item.value
    if isinstance(item, Person):
        return _person(item)
    if isinstance(item, list | tuple):
        return [_json_value(part) for part in item]
    if isinstance(item, dict):
        return {str(key): _json_value(part) for key, part in item.items()}
    if item is None or isinstance(item, str | int | float | bool):
        return item
    return str(item)


def _person(who: Person | None) -> dict[str, str] | None:
    return None if who is None else {"name": who.name, "credentials": who.credentials}


def _enum(item: Enum | None) -> object:
    return None if item is None else item.value


def _reaction_json(reaction: Reaction) -> dict[str, object]:
    return {
        "onset_at": iso_ms(reaction.onset_at),
        "reported_by": _person(reaction.reported_by),
        "type": _enum(reaction.type),
        "severity": _enum(reaction.severity),
        "manifestations": [
            {"code": code, "label": words.manifestation(code)} for code in reaction.manifestations
        ],
        "treatments": [
            {
                "at": iso_ms(t.at),
                "drug": t.drug,
                "dose": t.dose,
                "route": t.route,
                "given_by": t.given_by,
                "recorded_by": _person(t.recorded_by),
            }
            for t in reaction.treatments
        ],
        "vitals": [
            {
                "at": iso_ms(v.at),
                "systolic": v.systolic,
                "diastolic": v.diastolic,
                "heart_rate": v.heart_rate,
                "respiratory_rate": v.respiratory_rate,
                "spo2": v.spo2,
                "recorded_by": _person(v.recorded_by),
            }
            for v in reaction.vitals
        ],
        "escalations": [
            {"at": iso_ms(e.at), "kind": e.kind.value, "recorded_by": _person(e.recorded_by)}
            for e in reaction.escalations
        ],
        "outcome": _enum(reaction.outcome),
        "instructions": reaction.instructions,
        "allergy_recorded": reaction.allergy_recorded,
        "recommendation": _enum(reaction.recommendation),
        "premedicated": reaction.premedicated,
        "breakthrough": reaction.breakthrough,
        "handoff": reaction.handoff,
        "notes": list(reaction.notes),
        "stat_paged_at": iso_ms(reaction.stat_paged_at),
        "first_action_at": iso_ms(reaction.first_action_at),
        "first_action": reaction.first_action,
        "first_action_by": _person(reaction.first_action_by),
        "onset_to_action_s": reaction.onset_to_action_s,
    }


def as_json(view: RecordView) -> dict[str, object]:
    """The printout's content for machines: names not ids, ISO-8601 UTC times (``...Z``, to the
    millisecond), enums as their values; ``json.dumps`` takes it as it is."""
    exam, agent, lic = view.exam, view.exam.agent, view.radiologist_license
    c = view.completeness
    return {
        "session_id": view.session_id,
        "facility": {
            "code": view.facility_code,
            "name": view.facility_name,
            "state": view.facility_state,
            "timezone": view.facility_timezone,
        },
        "room": view.room,
        "modality": view.modality,
        "accession_number": exam.accession_number,
        "state": view.state,
        "outcome": view.outcome,
        "cancellation": None
        if view.outcome != "cancelled"
        else {
            "reason": view.cancel_reason,
            "note": view.cancel_note,
            "by": _person(view.ended_by),
            "at": iso_ms(view.ended_at),
        },
        "technologist": _person(view.technologist),
        "radiologist": None
        if view.radiologist is None
        else {
            **(_person(view.radiologist) or {}),
            "license": None
            if lic is None
            else {
                "state": lic.state,
                "number": lic.number,
                "expires_on": lic.expires_on.isoformat(),
            },
        },
        "requested_at": iso_ms(view.requested_at),
        "accepted_at": iso_ms(view.accepted_at),
        "joined_at": iso_ms(view.joined_at),
        "ended_at": iso_ms(view.ended_at),
        "join_latency_ms": view.join_latency_ms,
        "join_verdict": words.join_verdict(view.join_latency_ms).value,
        "pages": [
            {
                "at": iso_ms(p.at),
                "person": p.person,
                "channel": p.channel,
                "outcome": p.outcome,
                "tier": p.tier,
            }
            for p in view.pages
        ],
        "link_gaps": [
            {"start": iso_ms(g.start), "end": iso_ms(g.end), "cause": g.cause, "seconds": g.seconds}
            for g in view.link_gaps
        ],
        "exam": {
            "agent": None
            if agent is None
            else {
                "code": agent.code,
                "class": agent.agent_class.value,
                "product": agent.product,
                "generic": agent.generic,
                "concentration": agent.concentration,
            },
            "volume_ml": exam.volume_ml,
            "route": exam.route,
            "iv_site": exam.iv_site,
            "delivery": exam.delivery,
            "rate_ml_s": exam.rate_ml_s,
            "premedicated": exam.premedicated,
            "recorded_by": _person(exam.recorded_by),
            "recorded_at": iso_ms(exam.recorded_at),
        },
        "injection": None
        if view.injection is None
        else {
            "at": iso_ms(view.injection.at),
            "by": _person(view.injection.by),
            "verified": view.injection.verified,
            "link": view.injection.link,
        },
        "reactions": [_reaction_json(r) for r in view.reactions],
        "prior_reactions": [
            {
                "onset_at": iso_ms(p.onset_at),
                "facility": p.facility,
                "agent": None if p.agent is None else p.agent.product,
                "type": _enum(p.type),
                "severity": _enum(p.severity),
                "recommendation": _enum(p.recommendation),
            }
            for p in view.prior_reactions
        ],
        "checklist": [
            {
                "code": item.code,
                "label": item.label,
                "confirmed": item.confirmed,
                "by": _person(item.by),
                "at": iso_ms(item.at),
            }
            for item in view.checklist
        ],
        "amendments": [
            {
                "at": iso_ms(a.at),
                "by": _person(a.by),
                "reason": a.reason,
                "corrects_entry": a.target_seq,
                "changes": {
                    name: {"before": _json_value(before), "after": _json_value(after)}
                    for name, (before, after) in a.changes.items()
                },
            }
            for a in view.amendments
        ],
        "coverage": None
        if view.coverage is None
        else {
            **{key: _json_value(part) for key, part in view.coverage.items()},
            "share": coverage_share(view.coverage),
        },
        "completeness": {
            "score": c.score,
            "required": list(c.required),
            "missing": list(c.missing),
            "missing_words": missing_words(c),
        },
        "chain": {"length": view.chain_length, "head": view.chain_head, "unsealed": view.unsealed},
    }
