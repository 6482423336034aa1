"""Admin HTTP API: the directory read and edited in the directory file's own shape.

Bodies are validated by the directory file's models and applied by its loader
(``signaling.directory.edits``), so the API and ``standby load-directory`` accept exactly the same
documents. Only the role admin may call these routes.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status

from paging.policy import EscalationPolicy
from paging.schedule import Schedule
from signaling.accounts.logins import Ended
from signaling.accounts.principal import Principal
from signaling.accounts.roles import Role
from signaling.common.errors import BusUnavailable, Forbidden, InvalidInput
from signaling.directory import edits
from signaling.directory.file import DirectoryFile, LoadReport, UserSpec
from signaling.http.deps import CurrentUser, Db, ServicesDep
from signaling.services import Services

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/admin")


def _admin(principal: CurrentUser) -> Principal:
    if not principal.has(Role.ADMIN):
        raise Forbidden(f"this needs the role {Role.ADMIN}")
    return principal


Admin = Annotated[Principal, Depends(_admin)]


def _report(report: LoadReport) -> dict[str, Any]:
    return {"created": report.created, "updated": report.updated, "summary": report.summary()}


def _same(what: str, in_path: str, in_body: str) -> None:
    if in_path != in_body:
        raise InvalidInput(f"body.{what}: expected {in_path!r} as in the path, got {in_body!r}")


async def _close_sockets(services: Services, report: LoadReport) -> None:
    """After the commit: the sockets of the users this edit disabled close, on every worker."""
    for user_id, login_ids in report.ended_logins.items():
        try:
            await services.hub.end_logins(user_id, login_ids, Ended.DISABLED)
        except BusUnavailable:
            log.warning("user %s disabled: bus unavailable; workers close on re-check", user_id)


def _status(response: Response, report: LoadReport, kind: str) -> None:
    if report.created.get(kind):
        response.status_code = status.HTTP_201_CREATED


@router.get("/directory")
async def get_directory(_: Admin, db: Db) -> dict[str, Any]:
    """The whole directory as a directory-file document (no passwords): edit it and PUT it back."""
    return await edits.export_directory(db)


@router.put("/directory")
async def put_directory(
    body: DirectoryFile, principal: Admin, services: ServicesDep
) -> dict[str, Any]:
    """Apply a directory-file document exactly as ``standby load-directory`` does."""
    async with services.db() as db, db.begin():
        report = await edits.apply(db, body)
    await _close_sockets(services, report)
    log.info("directory: %s (admin %s)", report.summary(), principal.id)
    return _report(report)


@router.get("/users/{username}")
async def get_user(username: str, _: Admin, db: Db) -> dict[str, Any]:
    return {"user": await edits.export_user(db, username)}


@router.put("/users/{username}")
async def put_user(
    username: str, body: UserSpec, principal: Admin, services: ServicesDep, response: Response
) -> dict[str, Any]:
    """Create or replace one user's entry (roles, facilities, licenses, privileges, contact, cap);
    ``active: false`` ends the user's logins and closes their sockets on every worker."""
    _same("username", username, body.username)
    async with services.db() as db, db.begin():
        report = await edits.put_user(db, body)
        user = await edits.export_user(db, username)
    await _close_sockets(services, report)
    log.info("directory: user %s: %s (admin %s)", username, report.summary(), principal.id)
    _status(response, report, "users")
    return {"user": user} | _report(report)


@router.get("/schedules/{code}")
async def get_schedule(code: str, _: Admin, db: Db) -> dict[str, Any]:
    return {"schedule": await edits.export_schedule(db, code)}


@router.put("/schedules/{code}")
async def put_schedule(
    code: str, body: Schedule, principal: Admin, db: Db, response: Response
) -> dict[str, Any]:
    """Create or replace one on-call schedule (rotations, windows, overrides)."""
    _same("code", code, body.code)
    report = await edits.put_schedule(db, body)
    log.info("directory: schedule %s: %s (admin %s)", code, report.summary(), principal.id)
    _status(response, report, "schedules")
    return {"schedule": await edits.export_schedule(db, code)} | _report(report)


@router.get("/facilities/{code}/escalation")
async def get_escalation(code: str, _: Admin, db: Db) -> dict[str, Any]:
    """The policy in force; ``default`` is true when the facility has none of its own."""
    in_force = await edits.policy_in_force(db, await edits.facility_by_code(db, code))
    return {
        "facility": code,
        "default": not in_force.stored,
        "escalation": in_force.policy.model_dump(mode="json"),
    }


@router.put("/facilities/{code}/escalation")
async def put_escalation(
    code: str, body: EscalationPolicy, principal: Admin, db: Db
) -> dict[str, Any]:
    """Replace a facility's escalation policy; sessions already paging keep the one they started with."""
    report = await edits.put_policy(db, code, body)
    log.info(
        "directory: facility %s escalation: %s (admin %s)", code, report.summary(), principal.id
    )
    entry = {"facility": code, "default": False, "escalation": body.model_dump(mode="json")}
    return entry | _report(report)
