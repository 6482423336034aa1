"""HTTP JSON API of logins: log in and out, who am I, and what a logged-in page needs first (its ICE
servers and the benchmarks). Parse, call the domain, map results and errors."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from signaling.accounts import logins
from signaling.accounts.login_throttle import Attempt, LoginThrottle
from signaling.accounts.logins import Ended
from signaling.clock import iso_ms, utc_now
from signaling.common.errors import BusUnavailable, NotAuthenticated
from signaling.http.client_address import client_address
from signaling.http.deps import CurrentUser, Db, ServicesDep

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api")


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=256)


@router.post("/login")
async def login(
    body: LoginBody, request: Request, response: Response, services: ServicesDep, db: Db
) -> dict[str, Any]:
    throttle: LoginThrottle = request.app.state.login_throttle
    attempt = Attempt(client_address(request, services.settings.trusted_proxies), body.username)
    await throttle.check(attempt)
    try:
        token, principal = await logins.login(
            db, services.settings.secret_key, body.username, body.password, utc_now(), services.idle
        )
    except NotAuthenticated:
        await throttle.failed(attempt)
        raise
    await throttle.succeeded(attempt)
    response.set_cookie(
        services.settings.cookie_name,
        token,
        max_age=int(services.idle.total_seconds()),
        httponly=True,
        secure=True,
        samesite="strict",
        path="/",
    )
    log.info("login: user %s", principal.id)
    return {"user": principal.public()}


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, response: Response, services: ServicesDep) -> None:
    """End this login, then close its sockets on every worker (after the commit, so a socket
    re-checking meanwhile finds it ended). The bus away does not undo a logout: each worker's
    re-check of its sockets' logins closes them within ``STANDBY_LOGIN_RECHECK_S``."""
    token = request.cookies.get(services.settings.cookie_name)
    ended = None
    if token:
        async with services.db() as db, db.begin():
            ended = await logins.logout(db, services.settings.secret_key, token, utc_now())
    if ended is not None:
        login_id, user_id = ended
        try:
            await services.hub.end_logins(user_id, [login_id], Ended.LOGGED_OUT)
        except BusUnavailable:
            log.warning("logout: bus unavailable; other workers close the sockets on re-check")
    response.delete_cookie(
        services.settings.cookie_name, path="/", secure=True, httponly=True, samesite="strict"
    )


@router.get("/me")
async def me(principal: CurrentUser) -> dict[str, Any]:
    return {"user": principal.public()}


@router.get("/config")
async def client_config(principal: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    return {
        "ice_servers": services.ice_servers(principal.id),
        "ice_transport_policy": services.settings.ice_transport_policy,
        "benchmarks_s": {"best": 30, "risk": 90},
        "server_time": iso_ms(utc_now()),
    }
