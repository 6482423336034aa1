"""The web pages (``web/``): plain HTML and ES modules, served as they are."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from signaling import auth
from signaling.clock import utc_now
from signaling.roles import Role
from signaling.services import Services

router = APIRouter(include_in_schema=False)
WEB = Path(str(files("web")))
PAGES = {"login": "login.html", "tech": "tech.html", "rad": "rad.html"}


def _page(name: str) -> FileResponse:
    return FileResponse(WEB / PAGES[name], headers={"cache-control": "no-store"})


@router.get("/")
async def home(request: Request) -> Response:
    services: Services = request.app.state.services
    async with services.db() as db, db.begin():
        principal = await auth.resolve(
            db,
            services.settings.secret_key,
            request.cookies.get(services.settings.cookie_name),
            utc_now(),
            services.idle,
        )
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    if principal.has(Role.TECHNOLOGIST):
        return RedirectResponse("/tech", status_code=303)
    if principal.has(Role.RADIOLOGIST):
        return RedirectResponse("/rad", status_code=303)
    return RedirectResponse("/login?no_console=1", status_code=303)


@router.get("/login")
async def login_page() -> FileResponse:
    return _page("login")


@router.get("/tech")
async def technologist_page() -> FileResponse:
    return _page("tech")


@router.get("/rad")
async def radiologist_page() -> FileResponse:
    return _page("rad")
