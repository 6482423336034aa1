"""ASGI edge guards: request size, cross-site writes, security headers."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOO_LARGE = f"a request body may have at most {MAX_BODY_BYTES} bytes"
INTERNAL_ERROR = "something went wrong inside Standby; it has been logged. Try again."
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(self), microphone=(self), autoplay=(self)"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
]


NO_STORE = (b"cache-control", b"no-store")


class EdgeGuard:
    """Refuses bodies over 64 KiB (413) and cross-origin writes (403); adds security headers to
    every answer, and ``Cache-Control: no-store`` to every API answer that sets no caching."""

    def __init__(self, app: ASGIApp, public_host: str) -> None:
        self.app = app
        self.public_host = public_host.lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["method"] not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin and urlsplit(origin).netloc.lower() not in {
                headers.get("host", "").lower(),
                self.public_host,
            }:
                await _reply(
                    scope, receive, send, 403, "forbidden_origin", "cross-site request refused"
                )
                return
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            await _reply(scope, receive, send, 413, "too_large", TOO_LARGE)
            return

        # Read the (small) body up front: a streamed body past the limit gets a clean 413 too.
        chunks: list[bytes] = []
        size = 0
        more = scope["method"] not in SAFE_METHODS
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > MAX_BODY_BYTES:
                await _reply(scope, receive, send, 413, "too_large", TOO_LARGE)
                return
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        started = False
        api = scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", [])) + SECURITY_HEADERS
                if api and not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append(NO_STORE)  # answers carry accession numbers and names
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, replay, send_with_headers)
        except Exception:
            if started:
                raise  # the answer is under way: only the server can end it
            # A bug still answers in the usual shape, with the security headers, and the
            # connection stays usable (re-raising past a sent answer makes the server close it).
            log.exception("%s %s failed", scope["method"], scope["path"])
            await _reply(scope, receive, send, 500, "internal_error", INTERNAL_ERROR)


async def _reply(
    scope: Scope, receive: Receive, send: Send, status: int, code: str, detail: str
) -> None:
    response: Any = JSONResponse({"error": code, "detail": detail}, status_code=status)
    for name, value in [*SECURITY_HEADERS, NO_STORE]:
        response.headers[name.decode()] = value.decode()
    await response(scope, receive, send)
