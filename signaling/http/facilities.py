"""HTTP API about one facility: who is on call there now, and its exam setup."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from signaling.clock import utc_now
from signaling.directory.exam_setup import DOCUMENTATION_FIELDS, FormularyAgent, ReactionCard
from signaling.directory.queries import readable_exam_setup
from signaling.http.deps import ROW_ID_MAX, CurrentUser, Db
from signaling.pager.on_call import on_call_now, visible_facility

router = APIRouter(prefix="/api")
FacilityId = Annotated[int, Path(ge=1, le=ROW_ID_MAX, description="a facility's id")]


@router.get("/facilities/{facility_id}/on-call")
async def on_call(facility_id: FacilityId, principal: CurrentUser, db: Db) -> dict[str, Any]:
    """Each schedule covering the facility: who is on call now, until when, whether each could be
    paged right now (and why not); and the escalation policy in force. Names, never numbers."""
    facility = await visible_facility(db, principal, facility_id)
    return {"on_call": await on_call_now(db, facility, utc_now())}


class FacilityRef(BaseModel):
    id: int
    code: str
    name: str


class ChecklistItem(BaseModel):
    code: str
    label: str


class RequiredField(BaseModel):
    name: str
    label: str


class ExamSetupView(BaseModel):
    facility: FacilityRef
    formulary: list[FormularyAgent]
    checklist: list[ChecklistItem]  # the standard items first, then the facility's own
    required_fields: list[RequiredField]  # what a record is scored complete on
    reaction_card: ReactionCard | None  # the facility's approved card, shown as written
    require_verified_injection: bool  # an injection is refused unless verified two-way live


class ExamSetupAnswer(BaseModel):
    exam_setup: ExamSetupView


@router.get("/facilities/{facility_id}/exam-setup")
async def exam_setup(facility_id: FacilityId, principal: CurrentUser, db: Db) -> ExamSetupAnswer:
    """What the facility set for its exams: formulary, the whole pre-injection checklist, the
    documentation fields it requires (with what each means), its reaction card and its injection
    rule. For its technologists and supervisors, radiologists privileged there, and admins."""
    facility, setup = await readable_exam_setup(db, principal, facility_id)
    return ExamSetupAnswer(
        exam_setup=ExamSetupView(
            facility=FacilityRef(id=facility.id, code=facility.code, name=facility.name),
            formulary=setup.formulary,
            checklist=[ChecklistItem(code=c, label=label) for c, label in setup.checklist_items()],
            required_fields=[
                RequiredField(name=name, label=DOCUMENTATION_FIELDS[name])
                for name in setup.required_fields
            ],
            reaction_card=setup.reaction_card,
            require_verified_injection=setup.require_verified_injection,
        )
    )
