"""Settings: environment variables, placeholder secrets refused outside development."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from signaling.config import PLACEHOLDER_SECRET, Environment, Settings


def test_defaults_are_sqlite_and_in_process_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing set (development), Standby needs neither PostgreSQL nor Redis."""
    monkeypatch.setenv("STANDBY_ENVIRONMENT", "development")
    settings = Settings()
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.redis_url is None
    assert settings.ice_servers == []


def test_placeholder_secret_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production with the placeholder (or a short) secret does not start."""
    with pytest.raises(ValidationError, match="STANDBY_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("STANDBY_SECRET_KEY", "short")
    with pytest.raises(ValidationError, match="at least 32"):
        Settings()
    monkeypatch.setenv("STANDBY_SECRET_KEY", "x" * 40)
    assert Settings().environment is Environment.PRODUCTION


def test_placeholder_secret_is_allowed_in_development() -> None:
    """Development runs on embedded defaults."""
    assert Settings(environment=Environment.DEVELOPMENT).secret_key == PLACEHOLDER_SECRET


def test_ice_servers_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """STANDBY_ICE_SERVERS takes the browsers' RTCIceServer JSON."""
    monkeypatch.setenv("STANDBY_ENVIRONMENT", "development")
    monkeypatch.setenv(
        "STANDBY_ICE_SERVERS",
        '[{"urls": "stun:stun.example.org:3478"}, {"urls": ["turn:t.example.org"], "username": "u", "credential": "c"}]',
    )
    servers = Settings().ice_servers
    assert servers[0].urls == ["stun:stun.example.org:3478"]
    assert servers[1].username == "u"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("not json", "JSON list"),
        ('[{"urls": "http://x"}]', "stun:"),
        ('[{"urls": []}]', "at least one"),
    ],
)
def test_bad_ice_servers_are_named(monkeypatch: pytest.MonkeyPatch, value: str, words: str) -> None:
    """A malformed ICE configuration stops start-up with a message naming the problem."""
    monkeypatch.setenv("STANDBY_ENVIRONMENT", "development")
    monkeypatch.setenv("STANDBY_ICE_SERVERS", value)
    with pytest.raises(ValidationError, match=words):
        Settings()


def test_trusted_proxies_from_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """STANDBY_TRUSTED_PROXIES takes comma-separated addresses and networks; none by default."""
    monkeypatch.setenv("STANDBY_ENVIRONMENT", "development")
    assert Settings().trusted_proxies == []
    monkeypatch.setenv("STANDBY_TRUSTED_PROXIES", " 10.0.0.5, 192.168.40.0/24,2001:db8::/48,")
    assert [str(net) for net in Settings().trusted_proxies] == [
        "10.0.0.5/32",
        "192.168.40.0/24",
        "2001:db8::/48",
    ]


@pytest.mark.parametrize("value", ["10.0.0.300", "proxy.example.org", "10.0.0.5/8"])
def test_a_trusted_proxy_that_is_not_an_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """A value that is not an IP or a CIDR network stops the service, naming it and the setting."""
    monkeypatch.setenv("STANDBY_ENVIRONMENT", "development")
    monkeypatch.setenv("STANDBY_TRUSTED_PROXIES", f"10.0.0.1,{value}")
    with pytest.raises(ValidationError, match=rf"STANDBY_TRUSTED_PROXIES .*'{value}' is not one"):
        Settings()


def test_metrics_settings_from_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """STANDBY_METRICS_TOKEN and STANDBY_METRICS_ALLOW: unset (or empty) by default, so no metrics."""
    monkeypatch.setenv("STANDBY_ENVIRONMENT", "development")
    monkeypatch.setenv("STANDBY_METRICS_TOKEN", "")
    assert (Settings().metrics_token, Settings().metrics_allow) == (None, [])
    monkeypatch.setenv("STANDBY_METRICS_TOKEN", "s" * 24)
    monkeypatch.setenv("STANDBY_METRICS_ALLOW", "10.1.2.3, 192.168.40.0/24")
    settings = Settings()
    assert settings.metrics_token is not None
    assert settings.metrics_token.get_secret_value() == "s" * 24
    assert "s" * 24 not in repr(settings)
    assert [str(net) for net in settings.metrics_allow] == ["10.1.2.3/32", "192.168.40.0/24"]


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("STANDBY_METRICS_TOKEN", "s" * 23, "at least 24 characters"),
        (
            "STANDBY_METRICS_ALLOW",
            "10.0.0.1,prometheus.example.org",
            "STANDBY_METRICS_ALLOW .*is not one",
        ),
    ],
)
def test_bad_metrics_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, words: str
) -> None:
    monkeypatch.setenv("STANDBY_ENVIRONMENT", "development")
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=words):
        Settings()
