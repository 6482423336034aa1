"""Who a login comes from: the socket's peer, or behind STANDBY_TRUSTED_PROXIES the rightmost
X-Forwarded-For hop that is not a trusted proxy (seen through the login throttle, which counts by it)."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx

from tests.conftest import make_settings
from tests.live import PASSWORD, LiveServer, free_port, run_server, serve_process, wait_healthy
from tests.signaling.logins import ATTACKER, OWNER, WRONG, attempt, client_at, retry_after


async def test_forwarded_for_is_ignored_without_a_trusted_proxy(server: LiveServer) -> None:
    """With no STANDBY_TRUSTED_PROXIES, a new X-Forwarded-For per guess buys no fresh attempts."""
    async with client_at(server, ATTACKER) as attacker:
        for n in range(5):
            response = await attacker.post(
                "/api/login",
                json={"username": "drpatel", "password": WRONG},
                headers={"x-forwarded-for": f"198.51.100.{n}"},
            )
            assert response.status_code == 401
        response = await attacker.post(
            "/api/login",
            json={"username": "drpatel", "password": PASSWORD},
            headers={"x-forwarded-for": "198.51.100.99"},
        )
    retry_after(response)


async def test_forwarded_for_is_believed_from_a_trusted_proxy(database_url: str) -> None:
    """Behind trusted proxies the client is the rightmost hop that is not one of them: a guesser
    behind the proxy waits, whatever it writes to the left; the owner behind it logs in; a peer
    that is not a trusted proxy is its own address, whatever header it sends."""
    port = free_port()
    settings = make_settings(database_url, port, trusted_proxies=f"{OWNER},10.0.0.0/8")
    guesser, owner = "198.51.100.7", "198.51.100.8"
    with run_server(settings, port) as server:
        async with client_at(server, OWNER) as proxy, client_at(server, ATTACKER) as direct:

            async def through_proxy(forwarded: str, password: str) -> httpx.Response:
                return await proxy.post(
                    "/api/login",
                    json={"username": "drpatel", "password": password},
                    headers={"x-forwarded-for": forwarded},
                )

            for n in range(5):  # a spoofed hop on the left, then the inner trusted proxy
                assert (
                    await through_proxy(f"203.0.113.{n}, {guesser}, 10.1.2.3", WRONG)
                ).status_code == 401
            retry_after(await through_proxy(f"203.0.113.77, {guesser}", PASSWORD))
            for _ in range(5):  # claims to be the owner, but is not a trusted proxy
                response = await direct.post(
                    "/api/login",
                    json={"username": "drpatel", "password": WRONG},
                    headers={"x-forwarded-for": owner},
                )
                assert response.status_code == 401
            retry_after(await attempt(direct, "drpatel", PASSWORD))
            assert (await through_proxy(owner, PASSWORD)).status_code == 200


def test_standby_serve_believes_no_forwarded_for_by_default(
    database_url: str, tmp_path: Path
) -> None:
    """`standby serve` with no trusted proxy: a loopback peer's X-Forwarded-For buys no fresh
    attempts either (uvicorn's own rewrite, which believes loopback, is off)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "STANDBY_ENVIRONMENT": "test",
        "STANDBY_SECRET_KEY": secrets.token_urlsafe(48),
        "STANDBY_DATABASE_URL": database_url,
        "STANDBY_PUBLIC_BASE_URL": url,
        "STANDBY_LOG_LEVEL": "WARNING",
    }
    output = tmp_path / "serve.log"
    with serve_process(env, port, output) as process, httpx.Client(base_url=url) as client:
        wait_healthy(url, process, output.read_text, timeout=90)  # a loaded CI machine
        for n in range(5):
            response = client.post(
                "/api/login",
                json={"username": "drpatel", "password": WRONG},
                headers={"x-forwarded-for": f"198.51.100.{n}"},
            )
            assert response.status_code == 401, response.text
        response = client.post(
            "/api/login",
            json={"username": "drpatel", "password": PASSWORD},
            headers={"x-forwarded-for": "198.51.100.99"},
        )
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) > 0
