"""Fixtures the signaling scenario tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.twilio_server import FakeTwilio, run_fake_twilio


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    """A fake Twilio on loopback (tests/fakes/twilio_server.py), stopped after the test."""
    with run_fake_twilio() as fake:
        yield fake
