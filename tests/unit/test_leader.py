"""scheduler.leader: the lock a deployment gets and the standby/active state machine."""

import pytest

from digest.errors import InputError
from scheduler.leader import (
    LockKind,
    Role,
    Timings,
    advisory_key,
    choose_lock,
    next_role,
)


def test_the_lock_follows_the_deployment() -> None:
    assert choose_lock("postgresql", None) is LockKind.POSTGRES
    assert choose_lock("postgresql", "redis://r") is LockKind.POSTGRES
    assert choose_lock("sqlite", "redis://r") is LockKind.REDIS
    assert choose_lock("sqlite", None) is LockKind.NONE


def test_advisory_keys_are_stable_signed_64_bit() -> None:
    key = advisory_key("default")
    assert key == advisory_key("default")
    assert key != advisory_key("other")
    assert -(2**63) <= key < 2**63


def test_timings_are_checked() -> None:
    assert Timings().takeover_bound(LockKind.POSTGRES) <= 60
    assert Timings().takeover_bound(LockKind.REDIS) <= 60
    with pytest.raises(InputError, match="--standby-retry"):
        Timings(retry=0)
    with pytest.raises(InputError, match="--lock-ttl"):
        Timings(retry=5, ttl=10)  # would expire between two renewals


def test_standby_then_active_then_lost() -> None:
    say = {"lock": "L", "retry": 5.0}
    first = next_role(Role.STARTING, False, **say)
    assert first.role is Role.STANDBY and "standby" in (first.message or "")
    assert not first.start_jobs and not first.stop_jobs
    quiet = next_role(Role.STANDBY, False, **say)
    assert quiet.role is Role.STANDBY and quiet.message is None  # said once
    won = next_role(Role.STANDBY, True, **say)
    assert won.role is Role.ACTIVE and won.start_jobs and "active" in (won.message or "")
    kept = next_role(Role.ACTIVE, True, **say)
    assert kept.role is Role.ACTIVE and not kept.start_jobs and kept.message is None
    lost = next_role(Role.ACTIVE, False, **say)
    assert lost.role is Role.STANDBY and lost.stop_jobs and "lost" in (lost.message or "")
    assert lost.wait_retries > 1 and quiet.wait_retries == 1  # a healthy standby goes first
    assert next_role(Role.STARTING, True, **say).start_jobs  # first to come is active
