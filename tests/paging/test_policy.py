"""Escalation policies: validation, the firing plan, the default, snapshots."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from paging.policy import (
    Channel,
    EscalationPolicy,
    Firing,
    Target,
    TargetKind,
    Tier,
    default_policy,
    exhausted_at_s,
    firings,
)

POOL = Target(kind=TargetKind.POOL)


def test_default_policy_escalates_in_seconds() -> None:
    """Primary at T+0 on every channel, backup at T+10 s, the eligible pool at T+20 s."""
    policy = default_policy("NORTH-PRIMARY", "NORTH-BACKUP")
    assert [t.delay_s for t in policy.tiers] == [0, 10, 20]
    assert policy.tiers[0].targets[0].schedule == "NORTH-PRIMARY"
    assert policy.tiers[2].targets == (POOL,)
    assert all(set(t.channels) == set(Channel) for t in policy.tiers)


def test_default_policy_without_schedules_pages_the_pool_at_once() -> None:
    """No schedules: nothing to wait out, the whole eligible pool at T+0."""
    policy = default_policy()
    assert [(t.delay_s, t.targets) for t in policy.tiers] == [(0, (POOL,))]


def test_firings_repeat_after_a_pause() -> None:
    """Tiers at 0/10/20 s with one repeat: the second round starts 20 s after the last tier."""
    plan = firings(default_policy("P", "B"))
    assert [(f.at_s, f.tier, f.round) for f in plan] == [
        (0, 0, 0),
        (10, 1, 0),
        (20, 2, 0),
        (40, 0, 1),
        (50, 1, 1),
        (60, 2, 1),
    ]
    assert exhausted_at_s(default_policy("P", "B")) == 80


def test_no_repeat_means_one_round() -> None:
    """repeat=0 runs the tiers once, then the final action one pause later."""
    policy = EscalationPolicy(
        tiers=(Tier(delay_s=5, targets=(POOL,), channels=(Channel.SMS,)),), repeat=0
    )
    assert firings(policy) == [Firing(at_s=5, tier=0, round=0)]
    assert exhausted_at_s(policy) == 25


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"tiers": []}, "at least 1"),
        (
            {
                "tiers": [
                    {"delay_s": 10, "targets": [{"kind": "pool"}], "channels": ["sms"]},
                    {"delay_s": 5, "targets": [{"kind": "pool"}], "channels": ["sms"]},
                ]
            },
            "must not decrease",
        ),
        (
            {"tiers": [{"delay_s": -1, "targets": [{"kind": "pool"}], "channels": ["sms"]}]},
            "greater than or equal",
        ),
        (
            {"tiers": [{"delay_s": 0, "targets": [{"kind": "schedule"}], "channels": ["sms"]}]},
            "names its schedule",
        ),
        (
            {"tiers": [{"delay_s": 0, "targets": [{"kind": "users"}], "channels": ["sms"]}]},
            "at least one user",
        ),
        (
            {"tiers": [{"delay_s": 0, "targets": [{"kind": "pool"}], "channels": ["pigeon"]}]},
            "channels",
        ),
        (
            {"tiers": [{"delay_s": 0, "targets": [{"kind": "pool"}], "channels": ["sms", "sms"]}]},
            "each channel once",
        ),
        ({"tiers": [{"delay_s": 0, "targets": [{"kind": "pool"}], "channels": []}]}, "at least 1"),
        (
            {
                "tiers": [{"delay_s": 0, "targets": [{"kind": "pool"}], "channels": ["sms"]}],
                "repeat": 99,
            },
            "less than or equal",
        ),
    ],
)
def test_bad_policies_are_named(data: dict[str, object], words: str) -> None:
    """Each mistake in a policy is refused with what was expected."""
    with pytest.raises(ValidationError, match=words):
        EscalationPolicy.model_validate(data)


def test_snapshot_round_trips() -> None:
    """The JSON copied into a session rebuilds the same policy, so paging under way never changes."""
    policy = default_policy("P", "B")
    snapshot = policy.model_dump(mode="json")
    assert EscalationPolicy.model_validate(snapshot) == policy
    assert snapshot["tiers"][0]["channels"] == ["in_app", "sms", "voice"]
