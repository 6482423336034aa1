"""HTTP API of a session's exam and reaction record: parse, call ``signaling.record``, map results.

Entries are numbered by their id (``entry``); the record's views (JSON, HTML, PDF, FHIR) are read by
whoever may see the session, written by its participants.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import HTMLResponse, JSONResponse, Response

from signaling.accounts.roles import Role
from signaling.clock import iso_ms, utc_now
from signaling.common.errors import Forbidden
from signaling.http.deps import ROW_ID_MAX, CurrentUser, Db, ServicesDep
from signaling.pager import summons
from signaling.record import actions, chain, codes, completeness, fhir, printout, store
from signaling.record.entries import (
    AmendmentIn,
    ChecklistIn,
    EscalationIn,
    ExamIn,
    FindingsIn,
    ReactionIn,
    TreatmentIn,
    VitalsIn,
)
from signaling.record.view import RecordView
from signaling.services import Services
from signaling.sessions import notices, supervision
from signaling.storage.models import SessionEvent

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/sessions/{session_id}", tags=["record"])
EntryId = Annotated[int, Path(ge=1, le=ROW_ID_MAX, description="the entry's number")]


def _entry(e: SessionEvent) -> dict[str, Any]:
    return {"entry": e.id, "kind": e.kind, "at": iso_ms(e.at)}


async def _changed(services: Services, session_id: str) -> None:
    """Both pages re-read the record (a best effort: the record itself is already stored)."""
    try:
        await services.hub.to_session(session_id, {"kind": "record_changed"})
    except Exception as exc:
        log.warning(
            "session %s: the pages were not told of the record change (%r)", session_id, exc
        )


def _jsonable(value: Any) -> Any:
    """A view as JSON: dataclasses as objects, times ISO-8601 UTC, enums as their values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        body = {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in ("breakthrough", "onset_to_action_s", "complete", "score"):
            if hasattr(value, name):
                body[name] = _jsonable(getattr(value, name))
        return body
    if isinstance(value, datetime):
        return iso_ms(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@router.get("/record")
async def get_record(session_id: str, principal: CurrentUser, db: Db) -> dict[str, Any]:
    """The whole record as the pages show it (RecordView): exam, checklist, injection, reactions
    with what was done, amendments with the original values, pages, link gaps, the chain's head."""
    now = utc_now()
    s = await supervision.visible_session(db, principal, session_id, now)
    view = await store.record_view(db, s, now)
    if not supervision.shows_accession(principal, s):
        view = dataclasses.replace(view, exam=dataclasses.replace(view.exam, accession_number=""))
    return {"record": _jsonable(view)}


async def _view_for_export(db: Any, principal: Any, session_id: str) -> RecordView:
    now = utc_now()
    s = await supervision.visible_session(db, principal, session_id, now)
    if not supervision.shows_accession(principal, s):
        raise Forbidden(
            "the record names the exam: only its participants, the facility's staff and "
            "supervisors, and admins read it"
        )
    return await store.record_view(db, s, now)


@router.get("/record.html", response_class=HTMLResponse)
async def record_html(session_id: str, principal: CurrentUser, db: Db) -> HTMLResponse:
    """The printable supervision record: one page in plain words (names, not ids)."""
    view = await _view_for_export(db, principal, session_id)
    return HTMLResponse(printout.html(view), headers=_NO_STORE)


@router.get("/record.pdf", response_class=Response)
async def record_pdf(session_id: str, principal: CurrentUser, db: Db) -> Response:
    """The same record as a PDF (WeasyPrint), for the audit file."""
    view = await _view_for_export(db, principal, session_id)
    document = await asyncio.to_thread(printout.pdf, view)  # seconds of CPU: off the event loop
    name = f"supervision-record-{session_id[:8]}.pdf"
    return Response(
        document,
        media_type="application/pdf",
        headers=_NO_STORE | {"content-disposition": f'inline; filename="{name}"'},
    )


@router.get("/record.json")
async def record_json(session_id: str, principal: CurrentUser, db: Db) -> dict[str, Any]:
    """The same record as JSON for machines: names, not ids; ISO-8601 UTC times."""
    return printout.as_json(await _view_for_export(db, principal, session_id))


_NO_STORE = {"cache-control": "no-store"}


@router.get("/record/fhir")
async def record_fhir(session_id: str, principal: CurrentUser, db: Db) -> JSONResponse:
    """The exam with its reactions as a FHIR R4 document Bundle (``application/fhir+json``)."""
    now = utc_now()
    s = await supervision.visible_session(db, principal, session_id, now)
    if not supervision.shows_accession(principal, s):
        raise Forbidden(
            "the FHIR export names the exam: only its participants, the facility's "
            "staff and supervisors, and admins export it"
        )
    document = fhir.bundle(await store.record_view(db, s, now), now)
    return JSONResponse(document, media_type="application/fhir+json")


@router.get("/exam-setup")
async def exam_setup(session_id: str, principal: CurrentUser, db: Db) -> dict[str, Any]:
    """What the session's pages need to fill its record: the facility's formulary, checklist,
    injection rule and reaction card, and the reaction signs to choose from."""
    s = await supervision.visible_session(db, principal, session_id, utc_now())
    setup = actions.exam_setup(s)
    return {
        "facility": s.facility.name,
        "formulary": [a.model_dump(mode="json") for a in setup.formulary],
        "checklist": [{"code": c, "label": label} for c, label in setup.checklist_items()],
        "require_verified_injection": setup.require_verified_injection,
        "reaction_card": setup.reaction_card.model_dump() if setup.reaction_card else None,
        "manifestations": [
            {"key": m.key, "label": m.label, "type": m.reaction_type.value}
            for m in codes.manifestations().values()
        ],
    }


@router.put("/exam")
async def save_exam(
    session_id: str, body: ExamIn, principal: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    """The exam (agent from the facility's formulary, volume, route, IV site, injector or hand);
    saved again until the injection is recorded, then corrected by an amendment (409)."""
    async with services.db() as db, db.begin():
        e = await actions.save_exam(
            db, principal, session_id, body, utc_now(), services.settings.secret_key
        )
    await _changed(services, session_id)
    return _entry(e)


@router.post("/checklist")
async def confirm_checklist(
    session_id: str, body: ChecklistIn, principal: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    async with services.db() as db, db.begin():
        e = await actions.confirm_checklist(db, principal, session_id, body, utc_now())
    await _changed(services, session_id)
    return _entry(e)


@router.post("/injection", status_code=status.HTTP_201_CREATED)
async def record_injection(
    session_id: str, principal: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    """ "Injecting now": stamped by the server with whether the radiologist was verified two-way
    live at that second. 409 ``not_verified_live`` (with why) where the facility requires it."""
    async with services.db() as db, db.begin():
        e = await actions.record_injection(db, principal, session_id, utc_now())
    await _changed(services, session_id)
    return _entry(e) | {"verified": (e.body or {})["verified"], "link": (e.body or {})["link"]}


async def _after_reaction(services: Services, opened: actions.Opened, principal: Any) -> bool:
    """Summon help: a STAT page of every tier when no radiologist is verified live, an alert to
    the radiologist in the session. Returns whether a STAT page went out."""
    s, entry = opened.session, opened.entry
    reaction_id = int((entry.body or {}).get("reaction", entry.id))
    paged = False
    if opened.summons:
        now = utc_now()
        async with services.db() as db, db.begin():
            summoned = await actions.summon(db, services.pager, s.id, reaction_id, now)
        if summoned.lost is not None:
            await notices.session_changed(services.hub, summoned.lost)
        await summons.send_stat(services.pager, summoned.pages, s.id, now)
        paged = bool(summoned.pages)
    if opened.alert or (opened.summons and not paged):
        async with services.db() as db:
            opening = await actions.reaction_entry(db, s.id, reaction_id)
        body = opening.body or {}
        await summons.reaction_alert(
            services.hub,
            s.id,
            reaction_id,
            datetime.fromisoformat(body["onset_at"]),
            (entry.body or {}).get("severity") or body.get("severity"),
            principal.full_name,
        )
    await _changed(services, s.id)
    return paged


@router.post("/reactions", status_code=status.HTTP_201_CREATED)
async def open_reaction(
    session_id: str, principal: CurrentUser, services: ServicesDep, body: ReactionIn | None = None
) -> dict[str, Any]:
    """ "Reaction": the onset now (or as given), from either participant's page. A moderate or
    severe reaction with no radiologist verified live pages every tier at once."""
    async with services.db() as db, db.begin():
        opened = await actions.open_reaction(
            db, principal, session_id, body or ReactionIn(), utc_now()
        )
    paged = await _after_reaction(services, opened, principal)
    return _entry(opened.entry) | {"reaction": opened.entry.id, "stat_paged": paged}


@router.post("/reactions/{reaction}/findings")
async def add_findings(
    session_id: str,
    reaction: EntryId,
    body: FindingsIn,
    principal: CurrentUser,
    services: ServicesDep,
) -> dict[str, Any]:
    async with services.db() as db, db.begin():
        opened = await actions.add_findings(db, principal, session_id, reaction, body, utc_now())
    paged = await _after_reaction(services, opened, principal)
    return _entry(opened.entry) | {"stat_paged": paged}


async def _add_item(
    services: Services,
    principal: Any,
    session_id: str,
    reaction: int,
    item: TreatmentIn | VitalsIn | EscalationIn,
) -> dict[str, Any]:
    async with services.db() as db, db.begin():
        e = await actions.add_to_reaction(db, principal, session_id, reaction, item, utc_now())
    await _changed(services, session_id)
    return _entry(e)


@router.post("/reactions/{reaction}/treatments", status_code=status.HTTP_201_CREATED)
async def add_treatment(
    session_id: str,
    reaction: EntryId,
    body: TreatmentIn,
    principal: CurrentUser,
    services: ServicesDep,
) -> dict[str, Any]:
    """What was given (drug, dose, route, time, who) as written: Standby never suggests a dose."""
    return await _add_item(services, principal, session_id, reaction, body)


@router.post("/reactions/{reaction}/vitals", status_code=status.HTTP_201_CREATED)
async def add_vitals(
    session_id: str,
    reaction: EntryId,
    body: VitalsIn,
    principal: CurrentUser,
    services: ServicesDep,
) -> dict[str, Any]:
    return await _add_item(services, principal, session_id, reaction, body)


@router.post("/reactions/{reaction}/escalations", status_code=status.HTTP_201_CREATED)
async def add_escalation(
    session_id: str,
    reaction: EntryId,
    body: EscalationIn,
    principal: CurrentUser,
    services: ServicesDep,
) -> dict[str, Any]:
    return await _add_item(services, principal, session_id, reaction, body)


@router.post("/reactions/{reaction}/acknowledge")
async def acknowledge(
    session_id: str, reaction: EntryId, principal: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    """The radiologist saw the alert: the first action after onset, stamped by the server."""
    async with services.db() as db, db.begin():
        e = await actions.acknowledge(db, principal, session_id, reaction, utc_now())
    await _changed(services, session_id)
    return {"acknowledged": True, "entry": e.id if e else None}


@router.post("/amendments", status_code=status.HTTP_201_CREATED)
async def amend(
    session_id: str, body: AmendmentIn, principal: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    """A correction of one entry, with a reason: the original stays readable."""
    async with services.db() as db, db.begin():
        e = await actions.amend(db, principal, session_id, body, utc_now())
    await _changed(services, session_id)
    return _entry(e)


@router.get("/record/verify")
async def verify(session_id: str, principal: CurrentUser, db: Db) -> dict[str, Any]:
    """Whether the session's record chain is intact; if not, the first entry altered or removed."""
    await supervision.visible_session(db, principal, session_id, utc_now())
    v = await chain.verify(db, session_id)
    return {
        "intact": v.intact,
        "length": v.length,
        "head": v.head,
        "unsealed": v.unsealed,
        "problem": v.problem,
        "first_bad": v.first_bad,
    }


@router.get("/record/priors")
async def priors(session_id: str, principal: CurrentUser, db: Db) -> dict[str, Any]:
    """Reactions recorded in Standby for the same patient (by keyed digest), newest first."""
    s = await supervision.visible_session(db, principal, session_id, utc_now())
    if supervision.participant_role(s, principal) is None and not supervision.shows_accession(
        principal, s
    ):
        return {"priors": []}
    found = await store.prior_reactions(db, principal, session_id, utc_now())
    return {
        "priors": [
            {
                "onset_at": iso_ms(p.onset_at),
                "facility": p.facility,
                "agent": (
                    {
                        "product": p.agent.product,
                        "generic": p.agent.generic,
                        "class": p.agent.agent_class,
                    }
                    if p.agent
                    else None
                ),
                "severity": p.severity,
                "type": p.type,
                "recommendation": p.recommendation,
            }
            for p in found
        ]
    }


follow_up = APIRouter(prefix="/api/records", tags=["record"])


@follow_up.get("/incomplete")
async def incomplete_records(
    principal: CurrentUser, db: Db, limit: int = Query(default=50, ge=1, le=200)
) -> dict[str, Any]:
    """Ended sessions whose record misses a field the facility requires, newest first, with what
    is missing in words: for follow-up (supervisors and admins)."""
    if not principal.has(Role.SUPERVISOR, Role.ADMIN):
        raise Forbidden("the follow-up list is for supervisors and admins")
    views = await store.incomplete(db, principal, utc_now(), limit)
    return {
        "records": [
            {
                "session_id": v.session_id,
                "facility": v.facility_name,
                "room": v.room,
                "requested_at": iso_ms(v.requested_at),
                "outcome": v.outcome,
                "score": round(v.completeness.score, 3),
                "missing": completeness.missing_words(v.completeness),
                "record": f"/api/sessions/{v.session_id}/record.html",
            }
            for v in views
        ]
    }
