"""The application factory: ``create_app(settings)`` is the composition root."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from paging.engine import Sender
from paging.policy import Channel
from paging.store import database_unavailable
from paging.twilio import TwilioCarrier, TwilioSettings
from signaling.accounts.failure_counts import RedisCounts
from signaling.accounts.login_throttle import LoginThrottle
from signaling.checks.monitors import MonitorPool
from signaling.checks.preflight_runner import PreflightRunner
from signaling.clock import utc_now
from signaling.common.errors import (
    BearerRequired,
    InvalidInput,
    StandbyError,
    TooManyAttempts,
    Unavailable,
)
from signaling.config import Settings
from signaling.http import (
    admin,
    facilities,
    logins,
    metrics,
    monitor,
    pages,
    preflight,
    record,
    report_exports,
    reports,
    sessions,
    twilio_webhooks,
)
from signaling.http import super as supervisor_console  # (a module named for its route, /super)
from signaling.http.edge import EdgeGuard
from signaling.live import socket
from signaling.live.bus import make_bus
from signaling.live.hub import Hub
from signaling.live.link_watch import LinkTicker
from signaling.live.login_check import LoginCheck
from signaling.metrics.access import ScrapeAccess
from signaling.metrics.board import board_for
from signaling.metrics.scrape import Scraper
from signaling.metrics.worker_figures import WorkerFigures
from signaling.pager.phone import PhoneSender
from signaling.pager.wiring import make_pager
from signaling.record import chain
from signaling.services import Services
from signaling.sessions import radiologist_watch
from signaling.startup import StartPhases
from signaling.storage.database import make_engine, make_session_factory

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_S = 3.0
RETRY_AFTER_S = "5"
DATABASE_UNAVAILABLE = (
    "Standby cannot reach its database just now, so this was not done. Try again in a few seconds."
)


def _retry_later(body: dict[str, str]) -> JSONResponse:
    """A 503 that says when to try again."""
    return JSONResponse(body, status_code=503, headers={"retry-after": RETRY_AFTER_S})


class RevalidatedStaticFiles(StaticFiles):
    """Page modules are revalidated on every load, so a deploy never pairs new HTML with old JS."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["cache-control"] = "no-cache"
        return response


def create_app(
    settings: Settings, twilio: TwilioSettings | None = None, *, phases: StartPhases | None = None
) -> FastAPI:
    """The service. ``twilio``: the carrier for SMS and voice pages (default: from STANDBY_TWILIO_*;
    pages on those channels are recorded as skipped while it is not configured). ``phases``: the
    stopwatch of this start, logged phase by phase until the worker is ready."""
    phases = phases if phases is not None else StartPhases(log)
    twilio = twilio if twilio is not None else TwilioSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        db = make_session_factory(engine)
        hub = Hub(
            make_bus(settings.redis_url, settings.redis_prefix, settings.redis_max_connections)
        )
        await hub.start()
        app.state.bus = hub.bus
        phases.done("bus")
        carrier = TwilioCarrier(twilio) if twilio.enabled else None
        if carrier is not None:
            carrier.warm()  # before serving: its lazy imports would stall the first page
            phases.done("carrier")
        base = str(settings.public_base_url)
        phone: dict[Channel, Sender] = (
            {
                Channel.SMS: PhoneSender(Channel.SMS, carrier, db, base),
                Channel.VOICE: PhoneSender(Channel.VOICE, carrier, db, base),
            }
            if carrier
            else {}
        )
        pager = make_pager(db, hub, phone, grace=timedelta(seconds=settings.accept_grace_s))
        app.state.services = Services(
            settings, engine, db, hub, pager, twilio if twilio.enabled else None
        )
        app.state.login_throttle = LoginThrottle(
            settings.login_failures_per_user,
            settings.login_failures_per_address,
            RedisCounts(settings.redis_url, settings.redis_prefix) if settings.redis_url else None,
        )
        relay_only = settings.ice_transport_policy == "relay"
        app.state.preflight = PreflightRunner(
            db, max_running=settings.preflight_max_running, relay_only=relay_only
        )
        monitors = MonitorPool(
            hub, limit=settings.monitor_max, idle_s=settings.monitor_idle_s, relay_only=relay_only
        )
        app.state.monitors = monitors
        stopping = asyncio.Event()
        pager_loop = asyncio.create_task(pager.run(utc_now, stopping), name="pager")
        phases.done("services")
        login_check = LoginCheck(db, settings.login_recheck_s)
        app.state.login_check = login_check
        login_loop = asyncio.create_task(login_check.run(stopping), name="login-check")
        evidence_loop = asyncio.create_task(
            app.state.services.evidence.run(stopping), name="repage-evidence"
        )
        sealer_loop = asyncio.create_task(chain.run(db, utc_now, stopping), name="record-sealer")
        app.state.metrics_access = access = ScrapeAccess.of(settings)
        scraper = Scraper(
            db, board_for(settings, access), lambda at: WorkerFigures.of(pager, monitors, at)
        )
        app.state.scraper = scraper
        board_loop = asyncio.create_task(
            scraper.publish(lambda: utc_now().timestamp(), stopping), name="metrics-board"
        )
        app.state.links = LinkTicker()
        links_loop = asyncio.create_task(app.state.links.run(stopping), name="link-watches")
        repage_loop = asyncio.create_task(
            radiologist_watch.run(app.state.services, settings.repage_after_s, utc_now, stopping),
            name="repage-sweep",
        )
        bus = "redis" if settings.redis_url else "in-process"
        log.info("standby ready (%s bus) in %s", bus, phases.summary())
        try:
            yield
        finally:
            stopping.set()
            await app.state.preflight.close()
            await pager_loop
            await login_loop
            await repage_loop
            await evidence_loop
            await links_loop
            await sealer_loop
            await board_loop
            await monitors.close_all()
            if carrier is not None:
                await carrier.aclose()
            await hub.bus.close()
            await app.state.login_throttle.close()
            await engine.dispose()

    app = FastAPI(
        title="Standby", version="0.1.0", lifespan=lifespan, docs_url="/api/docs", redoc_url=None
    )
    app.include_router(logins.router)
    app.include_router(sessions.router)
    app.include_router(record.router)
    app.include_router(record.follow_up)
    app.include_router(report_exports.router)  # before reports: its /{key} would take review.pdf
    app.include_router(reports.router)
    app.include_router(admin.router)
    app.include_router(facilities.router)
    app.include_router(preflight.router)
    app.include_router(monitor.router)
    app.include_router(supervisor_console.router)
    app.include_router(pages.router)
    app.include_router(twilio_webhooks.router)
    app.include_router(metrics.router)
    app.add_api_websocket_route("/ws", socket.endpoint)
    app.mount("/static", RevalidatedStaticFiles(directory=pages.WEB), name="static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz(request: Request) -> JSONResponse:
        """200 ``ok``; 200 ``degraded`` when the bus between workers (Redis) does not answer (this
        worker serves, nothing reaches other workers' sockets); 503 ``down`` when the database
        does not answer. Each part says what it is."""
        services: Services = request.app.state.services
        bus = "ok" if await request.app.state.bus.healthy() else "unavailable"
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S), services.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            if not (isinstance(exc, TimeoutError) or database_unavailable(exc)):
                raise
            return _retry_later({"status": "down", "database": "unavailable", "bus": bus})
        status = "ok" if bus == "ok" else "degraded"
        return JSONResponse({"status": status, "database": "ok", "bus": bus})

    @app.exception_handler(StandbyError)
    async def standby_error(_: Request, exc: StandbyError) -> JSONResponse:
        headers = None
        if isinstance(exc, TooManyAttempts):
            headers = {"retry-after": str(exc.retry_after_s)}
        elif isinstance(exc, Unavailable):  # every 503 says when to try again
            headers = {"retry-after": RETRY_AFTER_S}
        elif isinstance(exc, BearerRequired):
            headers = {"www-authenticate": 'Bearer realm="standby"'}
        return JSONResponse(
            {"error": exc.code, "detail": exc.message}, status_code=exc.status_code, headers=headers
        )

    async def database_error(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DataError):
            # A value that got past validation but not into its column: the caller's to fix.
            log.warning("request refused by the database: %s", str(exc).splitlines()[0][:200])
            return JSONResponse(
                {"error": InvalidInput.code, "detail": "a value is out of range for Standby"},
                status_code=422,
            )
        if not database_unavailable(exc):
            raise exc  # a statement the database refused is a bug: a 500, not a retry
        log.warning("request failed: the database is unavailable (%s)", type(exc).__name__)
        return _retry_later({"error": Unavailable.code, "detail": DATABASE_UNAVAILABLE})

    for kind in (DBAPIError, SQLAlchemyTimeoutError, OSError):
        app.add_exception_handler(kind, database_error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        return JSONResponse({"error": "invalid_input", "detail": problems}, status_code=422)

    app.add_middleware(EdgeGuard, public_host=urlsplit(str(settings.public_base_url)).netloc)
    phases.done("app")
    return app


def app_from_environment() -> FastAPI:
    """Entry for ``uvicorn --factory`` in each worker: settings from ``STANDBY_*`` variables."""
    phases = StartPhases(log, since_process_start=True)
    settings = Settings()
    # The CLI set up logging at INFO before settings were read: STANDBY_LOG_LEVEL holds from here.
    logging.getLogger().setLevel(settings.log_level.upper())
    return create_app(settings, phases=phases)
