"""The web pages (``web/``): plain HTML and ES modules, served as they are.

Console pages check login and role on the server too: without a login they redirect to ``/login``;
with the wrong role they redirect home, which sends each person to the console they may use
(technologists ``/tech``, radiologists ``/rad``, supervisors and admins ``/super``).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from signaling.accounts.principal import Principal
from signaling.accounts.roles import Role
from signaling.services import Services

router = APIRouter(include_in_schema=False)
WEB = Path(str(files("web")))


def _page(name: str) -> FileResponse:
    return FileResponse(WEB / name, headers={"cache-control": "no-store"})


async def _who(request: Request) -> Principal | None:
    services: Services = request.app.state.services
    return await services.login_of(request.cookies.get(services.settings.cookie_name))


async def _console(request: Request, role: Role | tuple[Role, ...], page: str) -> Response:
    principal = await _who(request)
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    if not principal.has(*(role if isinstance(role, tuple) else (role,))):
        return RedirectResponse("/", status_code=303)
    return _page(page)


@router.get("/")
async def home(request: Request) -> Response:
    principal = await _who(request)
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    if principal.has(Role.TECHNOLOGIST):
        return RedirectResponse("/tech", status_code=303)
    if principal.has(Role.RADIOLOGIST):
        return RedirectResponse("/rad", status_code=303)
    if principal.has(Role.SUPERVISOR, Role.ADMIN):
        return RedirectResponse("/super", status_code=303)
    return RedirectResponse("/login?no_console=1", status_code=303)


@router.get("/login")
async def login_page() -> FileResponse:
    return _page("login.html")


@router.get("/tech")
async def technologist_page(request: Request) -> Response:
    return await _console(request, Role.TECHNOLOGIST, "tech.html")


@router.get("/rad")
async def radiologist_page(request: Request) -> Response:
    return await _console(request, Role.RADIOLOGIST, "rad.html")


@router.get("/super")
async def supervisor_page(request: Request) -> Response:
    return await _console(request, (Role.SUPERVISOR, Role.ADMIN), "super.html")
