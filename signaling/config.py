"""Settings for the whole service, read from the environment (prefix ``STANDBY_``)."""

from __future__ import annotations

import ipaddress
import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me-standby-development-only"  # noqa: S105 - refused outside development
METRICS_TOKEN_MIN = 24  # characters of the scrape token: guessing it must be hopeless


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class IceServer(BaseModel):
    """One entry of ``RTCConfiguration.iceServers`` as browsers and aiortc take it."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None

    @field_validator("urls", mode="before")
    @classmethod
    def _one_url_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("urls")
    @classmethod
    def _urls_are_stun_or_turn(cls, urls: list[str]) -> list[str]:
        if not urls:
            raise ValueError("an ICE server needs at least one URL")
        for url in urls:
            if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
                raise ValueError(
                    f"ICE server URL must start with stun:, stuns:, turn: or turns:, got {url!r}"
                )
        return urls


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STANDBY_", extra="ignore")

    environment: Environment = Environment.PRODUCTION
    database_url: str = "sqlite+aiosqlite:///./standby.db"
    redis_url: str | None = None
    redis_prefix: str = "standby:"
    # Connections one worker opens to Redis at most: the bus subscribes on one and publishes on
    # one (one pipeline for every socket's messages), health checks use the rest and wait past it.
    redis_max_connections: int = Field(default=8, ge=3, le=1000)
    public_base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8000")
    secret_key: str = PLACEHOLDER_SECRET
    ice_servers: Annotated[list[IceServer], NoDecode] = Field(default_factory=list)
    # TURN with short-lived per-user credentials (coturn ``use-auth-secret``): each login's pages
    # get these URLs with a username and credential valid for ``turn_ttl_s``.
    turn_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    turn_secret: SecretStr | None = None
    turn_ttl_s: int = Field(default=3600, ge=60, le=86_400)
    # "relay": pages send all media through the TURN relay (networks that block direct UDP between
    # sites, or to keep each side's addresses from the other); "all": direct when possible.
    ice_transport_policy: Literal["all", "relay"] = "all"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # A login ends after this long without use (fractions allowed: tests use seconds).
    session_idle_minutes: float = Field(default=12 * 60, gt=0)
    # Every worker re-reads the logins its sockets hold this often, and closes those that ended
    # (the backstop when the bus did not carry a logout, and how expiry closes a socket).
    login_recheck_s: float = Field(default=2.0, gt=0, le=60)
    # At most this many sockets per login, across workers: the newest opening closes the oldest.
    sockets_per_login: int = Field(default=4, ge=1, le=100)
    # Each socket's message budget (token bucket): this many a second, bursts up to
    # ``socket_messages_burst``; 0 turns the budget off.
    socket_messages_per_s: float = Field(default=20.0, ge=0, le=10_000)
    socket_messages_burst: int = Field(default=40, ge=1, le=100_000)
    # Open (not ended) supervision sessions at once: per technologist and per room; 0 = no limit.
    technologist_open_sessions_max: int = Field(default=3, ge=0, le=1000)
    room_open_sessions_max: int = Field(default=1, ge=0, le=1000)
    # An accept holds further tiers this long; if the radiologist has not joined by then, paging
    # goes on (the accept still stands: they may still join).
    accept_grace_s: float = Field(default=30.0, gt=0, le=600)
    # While a session is joined, the radiologist's video and audio gone (not reaching the
    # technologist's page, or frozen) this long re-pages: the gap and the re-page are recorded.
    repage_after_s: float = Field(default=15.0, gt=0, le=600)
    # A passed pre-flight check counts for this long (the shift) where a facility requires one.
    preflight_valid_h: float = Field(default=12.0, gt=0, le=24 * 7)
    # Pre-flight checks one worker runs at once (each is an aiortc peer decoding a camera).
    preflight_max_running: int = Field(default=8, ge=1, le=100)
    # The server's media monitor (issue 4): at most this many monitored copies (one per page) per
    # worker, ~2 % of a core each (bench/monitor_cost.py); one that receives nothing for
    # ``monitor_idle_s`` is closed.
    monitor_max: int = Field(default=40, ge=0, le=1000)
    monitor_idle_s: float = Field(default=30.0, gt=0, le=3600)
    # Password guessing (issue 9 item 13): failed logins from one address for one username, and
    # from one address for any username, before each further failure makes that address wait (30 s,
    # doubling, at most 15 min). Never a lock of the account: other addresses are not slowed.
    login_failures_per_user: int = Field(default=5, ge=1, le=1000)
    login_failures_per_address: int = Field(default=50, ge=1, le=100_000)
    # Reverse proxies whose X-Forwarded-For is believed (IPs or CIDRs); the client is the rightmost
    # hop that is not one of them. None by default: the socket's peer is the client.
    trusted_proxies: Annotated[list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode] = (
        Field(default_factory=list)
    )
    # Prometheus ``/metrics``: answered only to a scrape with this bearer token, or from one of
    # ``metrics_allow`` (IPs or CIDRs; the client as ``trusted_proxies`` decide it). Neither set:
    # there are no metrics (404).
    metrics_token: SecretStr | None = None
    metrics_allow: Annotated[list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode] = Field(
        default_factory=list
    )
    cookie_name: str = "standby_session"
    log_level: str = "INFO"

    @field_validator("redis_url", mode="before")
    @classmethod
    def _empty_redis_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("ice_servers", mode="before")
    @classmethod
    def _ice_servers_from_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return []
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    'STANDBY_ICE_SERVERS must be a JSON list such as [{"urls": ["stun:stun.example.org:3478"]}]'
                    f": {exc}"
                ) from exc
        return value

    @field_validator("turn_urls", mode="before")
    @classmethod
    def _turn_urls_from_text(cls, value: Any) -> Any:
        if isinstance(value, str):  # STANDBY_TURN_URLS="turn:a:3478?transport=udp,turns:a:5349"
            return [url.strip() for url in value.split(",") if url.strip()]
        return value

    @field_validator("trusted_proxies", "metrics_allow", mode="before")
    @classmethod
    def _networks_from_text(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):  # STANDBY_TRUSTED_PROXIES="10.0.0.5,192.168.40.0/24"
            return value
        networks = []
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item))
            except ValueError as exc:
                raise ValueError(
                    f"STANDBY_{str(info.field_name).upper()} must be comma-separated IP addresses "
                    f"or CIDR networks such as 10.0.0.5,192.168.40.0/24; {item!r} is not one ({exc})"
                ) from exc
        return networks

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _empty_metrics_token_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_is_long(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < METRICS_TOKEN_MIN:
            raise ValueError(
                f"STANDBY_METRICS_TOKEN must be at least {METRICS_TOKEN_MIN} characters "
                f"(it has {len(value.get_secret_value())}); e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return value

    @field_validator("turn_urls")
    @classmethod
    def _turn_urls_are_turn(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("turn:", "turns:")):
                raise ValueError(f"STANDBY_TURN_URLS must be turn: or turns: URLs, got {url!r}")
        return urls

    @model_validator(mode="after")
    def _turn_needs_its_secret(self) -> Settings:
        if self.turn_urls and self.turn_secret is None:
            raise ValueError("STANDBY_TURN_URLS is set but STANDBY_TURN_SECRET is not")
        return self

    @model_validator(mode="after")
    def _relay_needs_a_relay(self) -> Settings:
        has_turn = self.turn_urls or any(
            u.startswith(("turn:", "turns:")) for server in self.ice_servers for u in server.urls
        )
        if self.ice_transport_policy == "relay" and not has_turn:
            raise ValueError(
                "STANDBY_ICE_TRANSPORT_POLICY=relay needs a TURN server "
                "(STANDBY_TURN_URLS, or a turn: URL in STANDBY_ICE_SERVERS)"
            )
        return self

    @model_validator(mode="after")
    def _no_placeholder_secret_outside_development(self) -> Settings:
        if self.environment is Environment.PRODUCTION:
            if self.secret_key == PLACEHOLDER_SECRET:
                raise ValueError(
                    "STANDBY_SECRET_KEY is the development placeholder; set a random value of at least "
                    "32 characters (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
                )
            if len(self.secret_key) < 32:
                raise ValueError("STANDBY_SECRET_KEY must be at least 32 characters in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
