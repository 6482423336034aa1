"""Fixtures the signaling scenario tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import make_settings
from tests.fakes.twilio_server import FakeTwilio, run_fake_twilio
from tests.live import LiveServer, free_port, run_server


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    """A fake Twilio on loopback (tests/fakes/twilio_server.py), stopped after the test."""
    with run_fake_twilio() as fake:
        yield fake


@pytest.fixture
def phone_server(database_url: str, fake_twilio: FakeTwilio) -> Iterator[LiveServer]:
    """The real service with SMS and voice going to the fake Twilio."""
    port = free_port()
    with run_server(make_settings(database_url, port), port, fake_twilio.settings()) as live:
        yield live
