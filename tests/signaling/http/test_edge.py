"""The edge guard around an app with a bug, on a real uvicorn: a 500 still answers in the usual shape
and with the security headers (the service's own routes cannot be made to fail on purpose)."""

from __future__ import annotations

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from signaling.http.edge import EdgeGuard
from tests.fakes.twilio_server import serve


async def _broken(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("a bug")


async def test_a_bug_is_a_500_with_the_security_headers() -> None:
    """The traceback goes to the log; the client gets JSON with every header, and the same
    connection serves the next request."""
    with serve(EdgeGuard(_broken, public_host="127.0.0.1"), "broken") as url:
        async with httpx.AsyncClient(base_url=url) as client:
            api = await client.get("/api/sessions")
            page = await client.post("/tech", json={})
    for response in (api, page):
        assert response.status_code == 500
        assert response.json()["error"] == "internal_error"
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
    assert api.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/api/me", "/login"])
async def test_no_store_is_only_added_where_nothing_was_said(path: str) -> None:
    """An answer that sets its own caching keeps it; an API answer that sets none gets no-store."""

    async def cached(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/plain")]
        if scope["path"] == "/login":
            headers.append((b"cache-control", b"no-cache"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    with serve(EdgeGuard(cached, public_host="127.0.0.1"), "cached") as url:
        async with httpx.AsyncClient(base_url=url) as client:
            response = await client.get(path)
    assert response.headers["cache-control"] == ("no-store" if path == "/api/me" else "no-cache")
