"""Escalation policies: ordered tiers in seconds, their targets and channels, repeats, a final action.

A policy is a value. The pager copies it into a session when paging starts (``model_dump(mode="json")``),
so later edits never change paging already under way. ``firings`` turns it into the plan of when each
tier fires, relative to the start of paging; the engine stores that plan as durable timers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_DELAY_S = 3600.0


class Channel(StrEnum):
    IN_APP = "in_app"
    SMS = "sms"
    VOICE = "voice"


class TargetKind(StrEnum):
    SCHEDULE = "schedule"  # whoever is on call now in that schedule
    USERS = "users"  # named radiologists
    POOL = "pool"  # every radiologist eligible at the facility


class FinalAction(StrEnum):
    NOTIFY_SUPERVISORS = "notify_supervisors"


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Value):
    kind: TargetKind
    schedule: str | None = None
    users: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _fits_kind(self) -> Target:
        if self.kind is TargetKind.SCHEDULE and not self.schedule:
            raise ValueError("a schedule target names its schedule")
        if self.kind is not TargetKind.SCHEDULE and self.schedule:
            raise ValueError(f"a {self.kind.value} target names no schedule")
        if self.kind is TargetKind.USERS and not self.users:
            raise ValueError("a users target names at least one user")
        if self.kind is not TargetKind.USERS and self.users:
            raise ValueError(f"a {self.kind.value} target names no users")
        return self


class Tier(_Value):
    delay_s: float = Field(ge=0, le=MAX_DELAY_S, description="seconds after paging starts")
    targets: tuple[Target, ...] = Field(min_length=1)
    channels: tuple[Channel, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_channels(self) -> Tier:
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("a tier lists each channel once")
        return self


class EscalationPolicy(_Value):
    tiers: tuple[Tier, ...] = Field(min_length=1)
    repeat: int = Field(default=1, ge=0, le=10, description="how many times the tiers run again")
    repeat_after_s: float = Field(
        default=20.0, gt=0, le=MAX_DELAY_S, description="pause after the last tier before a repeat"
    )
    final_action: FinalAction = FinalAction.NOTIFY_SUPERVISORS

    @model_validator(mode="after")
    def _delays_ascend(self) -> EscalationPolicy:
        delays = [tier.delay_s for tier in self.tiers]
        if delays != sorted(delays):
            raise ValueError(f"tier delays must not decrease, got {delays}")
        return self

    @property
    def round_s(self) -> float:
        """Seconds from the start of one round of tiers to the start of the next."""
        return self.tiers[-1].delay_s + self.repeat_after_s


@dataclass(frozen=True)
class Firing:
    at_s: float  # seconds after paging started
    tier: int  # index into policy.tiers
    round: int  # 0 for the first run, 1.. for repeats


def firings(policy: EscalationPolicy) -> list[Firing]:
    """Every tier firing of the policy, in time order, relative to the start of paging."""
    return [
        Firing(at_s=r * policy.round_s + tier.delay_s, tier=i, round=r)
        for r in range(policy.repeat + 1)
        for i, tier in enumerate(policy.tiers)
    ]


def exhausted_at_s(policy: EscalationPolicy) -> float:
    """When the final action runs if nobody has joined: one pause after the last firing."""
    return policy.repeat * policy.round_s + policy.tiers[-1].delay_s + policy.repeat_after_s


def default_policy(primary: str | None = None, backup: str | None = None) -> EscalationPolicy:
    """T+0 s the primary on call on every channel, T+10 s the backup, T+20 s the whole eligible pool.

    A facility without schedules gets the pool at once: an empty tier is never waited out.
    """
    every = (Channel.IN_APP, Channel.SMS, Channel.VOICE)
    tiers: list[Tier] = []
    if primary:
        tiers.append(
            Tier(
                delay_s=0,
                targets=(Target(kind=TargetKind.SCHEDULE, schedule=primary),),
                channels=every,
            )
        )
    if backup:
        tiers.append(
            Tier(
                delay_s=10 if primary else 0,
                targets=(Target(kind=TargetKind.SCHEDULE, schedule=backup),),
                channels=every,
            )
        )
    pool_delay = 20.0 if primary and backup else 10.0 if tiers else 0.0
    tiers.append(Tier(delay_s=pool_delay, targets=(Target(kind=TargetKind.POOL),), channels=every))
    return EscalationPolicy(tiers=tuple(tiers))
