"""FastAPI dependencies, as ``Annotated`` aliases so routes read as English."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.accounts.principal import Principal
from signaling.accounts.roles import Role
from signaling.common.errors import Forbidden, NotAuthenticated
from signaling.http.client_address import client_address as address_of
from signaling.services import Services

# Row ids are 32-bit in the schema: a larger number in a path, query or body is a 422, not a
# database error.
ROW_ID_MAX = 2**31 - 1


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


async def _db(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    async with services.db() as db, db.begin():
        yield db


# "function" scope: commit before the response leaves, so a client never outruns the database.
Db = Annotated[AsyncSession, Depends(_db, scope="function")]


async def _principal(request: Request, services: ServicesDep) -> Principal:
    principal = await services.login_of(request.cookies.get(services.settings.cookie_name))
    if principal is None:
        raise NotAuthenticated("log in first (no login, or it expired)")
    return principal


CurrentUser = Annotated[Principal, Depends(_principal)]


def client_address(request: Request, services: ServicesDep) -> str | None:
    """The address a request came from (``X-Forwarded-For`` only through a trusted proxy, see
    ``signaling.http.client_address``), None when the server does not say. The one place that
    decides it: logins are throttled by it, and the server's own peers send connectivity checks
    only to it."""
    found = address_of(request, services.settings.trusted_proxies)
    return None if found == "unknown" else found


ClientAddress = Annotated[str | None, Depends(client_address)]


def _role(*roles: Role) -> object:
    def check(principal: CurrentUser) -> Principal:
        if not principal.has(*roles):
            raise Forbidden(f"this needs the role {' or '.join(roles)}")
        return principal

    return Depends(check)


Technologist = Annotated[Principal, _role(Role.TECHNOLOGIST)]
Radiologist = Annotated[Principal, _role(Role.RADIOLOGIST)]
# Whoever stands in front of a camera in a session: the pre-flight check is theirs.
Clinician = Annotated[Principal, _role(Role.TECHNOLOGIST, Role.RADIOLOGIST)]
