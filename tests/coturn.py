"""Debian's coturn on loopback for the tests: TURN REST secret only, as the README configures it
(plus ``--allow-loopback-peers``, which only a test may use: everything here is on 127.0.0.1)."""

from __future__ import annotations

import shutil
import socket
import subprocess


class CoturnMissing(RuntimeError):
    """The TURN tests fail, not skip, without coturn: ``make test`` installs it."""


def udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_coturn(port: int, secret: str, ip: str = "127.0.0.1") -> subprocess.Popen[bytes]:
    """coturn listening and relaying on ``ip`` (any of 127.0.0.0/8: Linux routes them on lo)."""
    if shutil.which("turnserver") is None:
        raise CoturnMissing(
            "the TURN tests need Debian's coturn (turnserver): run `make test`, which installs it, "
            "or apt-get install coturn"
        )
    return subprocess.Popen(
        [
            "turnserver",
            "-n",
            f"--listening-ip={ip}",
            f"--relay-ip={ip}",
            f"--listening-port={port}",
            "--min-port=49160",
            "--max-port=49200",
            "--use-auth-secret",
            f"--static-auth-secret={secret}",
            "--realm=standby.test",
            "--allow-loopback-peers",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--log-file=stdout",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_coturn(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
