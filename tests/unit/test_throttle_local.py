"""The SMTP rate limit in one process (LocalThrottle) with a fake clock, the choice of
throttle from settings, and the settings' validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.deliver.throttle import (
    Backoff,
    LocalThrottle,
    RedisThrottle,
    Unlimited,
    relay_key,
    throttle_from_settings,
)
from digest.errors import ConfigError, RateLimited, SessionError
from digest.settings import Settings


class FakeClock:
    """A clock that moves only when the throttle sleeps (or the test says so)."""

    def __init__(self, now: float = 1000.0):
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def local(
    per_second: float, per_hour: int = 0, **kwargs: object
) -> tuple[LocalThrottle, FakeClock]:
    clock = FakeClock()
    throttle = LocalThrottle(per_second, per_hour, clock=clock, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]
    return throttle, clock


def grants_within(throttle: LocalThrottle, clock: FakeClock, seconds: float, n: int = 1) -> int:
    """How many messages ``acquire(n)`` lets through in the next ``seconds``."""
    end, count = clock.now + seconds, 0
    while True:
        throttle.acquire(n)
        if clock.now > end + 1e-9:
            return count
        count += n


def test_a_burst_goes_at_once_then_the_rate_paces() -> None:
    throttle, clock = local(5)
    for _ in range(5):
        throttle.acquire()
    assert clock.slept == []  # the burst: max(1, 5) messages at once
    throttle.acquire()
    assert clock.slept == [pytest.approx(0.2)]
    # over ten more seconds: one message every 0.2 s
    assert grants_within(throttle, clock, 10.0) == pytest.approx(50, abs=1)


def test_a_rate_below_one_per_second_has_a_burst_of_one() -> None:
    throttle, clock = local(0.5)
    throttle.acquire()
    throttle.acquire()
    assert clock.slept == [pytest.approx(2.0)]
    assert grants_within(throttle, clock, 60.0) == pytest.approx(30, abs=1)


def test_a_batch_reserves_many_tokens_in_one_call() -> None:
    throttle, clock = local(2)
    throttle.acquire(10)  # a full bucket lets a batch larger than the burst overdraw it
    assert clock.slept == []
    throttle.acquire(10)  # ... which the next batch pays for: 10 tokens at 2/s
    assert clock.slept == [pytest.approx(5.0)]
    # the long-run rate holds whatever the batch size
    assert grants_within(throttle, clock, 100.0, n=10) == pytest.approx(200, abs=10)


def test_reservations_are_served_in_order() -> None:
    throttle, _clock = local(1)
    waits = [throttle.reserve() for _ in range(4)]  # four workers asking at once
    assert waits == pytest.approx([0.0, 1.0, 2.0, 3.0])


def test_the_hourly_cap_stops_after_n_messages() -> None:
    throttle, clock = local(0, 3)
    for _ in range(3):
        throttle.acquire()
    assert clock.slept == []
    with pytest.raises(RateLimited) as caught:
        throttle.acquire(max_wait=60)
    assert isinstance(caught.value, SessionError)  # the batch stops, rows stay open
    assert caught.value.retry_after == pytest.approx(1200.0)  # 3 an hour: one per 20 min
    assert throttle.reserve(max_wait=1200) == pytest.approx(1200.0)  # nothing was taken above
    throttle.acquire()  # without max_wait: sleeps for the next slot
    assert clock.slept == [pytest.approx(2400.0)]


def test_both_buckets_apply() -> None:
    throttle, clock = local(10, 20)
    assert grants_within(throttle, clock, 1.0) == pytest.approx(20, abs=1)  # 10 + 10 in 1 s
    # the hour's 20 are spent: the next one waits for the hourly refill (3 min a message)
    assert throttle.reserve() == pytest.approx(180.0, abs=1.0)


def test_slow_down_halves_the_rate_then_it_recovers_gradually() -> None:
    backoff = Backoff(cut=0.5, floor=0.05, cooldown=60, recovery=100, holdoff=5)
    throttle, clock = local(10, backoff=backoff)
    assert throttle.state().per_second == 10
    throttle.slow_down("421 4.7.0 too many messages")
    assert throttle.state().factor == 0.5 and throttle.state().per_second == 5
    start = clock.now
    throttle.acquire()  # the bucket was drained: the next message waits one new interval
    assert clock.slept == [pytest.approx(0.2)]
    assert grants_within(throttle, clock, 10.0) == pytest.approx(50, abs=1)  # 5/s, not 10/s

    clock.now = start + 59  # held for the cool-down ...
    assert throttle.state().factor == 0.5
    clock.now = start + 60 + 25  # ... then climbs by 1.0 per 100 s
    assert throttle.state().factor == pytest.approx(0.75)
    clock.now = start + 60 + 50
    assert throttle.state().factor == 1.0
    clock.now += 1000
    assert throttle.state().factor == 1.0


def test_a_burst_of_421s_cuts_once_then_again_after_the_holdoff() -> None:
    throttle, clock = local(8, backoff=Backoff(cooldown=60, recovery=100, holdoff=5, floor=0.1))
    for _ in range(20):  # twenty workers hit by the same refusal
        throttle.slow_down("454 4.7.0 try again later")
    assert throttle.state().factor == 0.5
    clock.now += 6
    throttle.slow_down("421")
    assert throttle.state().factor == 0.25
    for _ in range(5):
        clock.now += 6
        throttle.slow_down("421")
    assert throttle.state().factor == 0.1  # never below the floor


def test_a_refusal_during_recovery_cuts_from_where_the_rate_is() -> None:
    throttle, clock = local(10, backoff=Backoff(cooldown=10, recovery=10, holdoff=1))
    throttle.slow_down("421")
    clock.now += 10 + 3  # recovering: 0.5 + 0.3
    throttle.slow_down("421")
    assert throttle.state().factor == pytest.approx(0.4)
    clock.now += 5  # a new cool-down began at the second refusal
    assert throttle.state().factor == pytest.approx(0.4)


def test_slow_down_without_a_per_second_rate_does_nothing() -> None:
    throttle, _clock = local(0, 100)
    throttle.slow_down("421")
    assert throttle.state().factor == 1.0
    assert throttle.reserve() == 0.0


def test_unlimited_never_waits() -> None:
    throttle = Unlimited()
    for _ in range(1000):
        throttle.acquire(10)
    throttle.slow_down("421")
    throttle.close()


@pytest.mark.parametrize("n", [0, -1, 1.5])
def test_acquire_needs_a_positive_whole_number(n: object) -> None:
    throttle, _ = local(1)
    with pytest.raises(ValueError):
        throttle.acquire(n)  # type: ignore[arg-type]


def test_relay_key_drops_the_scheme() -> None:
    assert relay_key("smtps://mail.example.org:465") == "mail.example.org:465"
    assert relay_key("mail.example.org:25") == "mail.example.org:25"


# -- settings ---------------------------------------------------------------------------
BASE = {"DIGEST_SECRET_KEY": "k" * 32}


def test_rates_default_to_unlimited(tmp_path: Path) -> None:
    settings = Settings.from_env(BASE, cwd=tmp_path)
    assert (settings.smtp_rate_per_second, settings.smtp_rate_per_hour) == (0.0, 0)
    assert isinstance(throttle_from_settings(settings, "smtp://relay.test:25"), Unlimited)


def test_throttle_from_settings_is_local_without_redis(tmp_path: Path) -> None:
    env = {**BASE, "DIGEST_SMTP_RATE_PER_SECOND": "2.5", "DIGEST_SMTP_RATE_PER_HOUR": "5000"}
    settings = Settings.from_env(env, cwd=tmp_path)
    assert (settings.smtp_rate_per_second, settings.smtp_rate_per_hour) == (2.5, 5000)
    throttle = throttle_from_settings(settings, "smtp://relay.test:25")
    assert isinstance(throttle, LocalThrottle)
    assert (throttle.per_second, throttle.per_hour) == (2.5, 5000)


def test_throttle_from_settings_is_shared_with_redis(tmp_path: Path) -> None:
    env = {**BASE, "DIGEST_SMTP_RATE_PER_HOUR": "500", "DIGEST_REDIS_URL": "redis://r.test/2"}
    settings = Settings.from_env(env, cwd=tmp_path)
    throttle = throttle_from_settings(settings, "smtp://relay.test:587")
    assert isinstance(throttle, RedisThrottle)  # no connection is made before the first use
    assert throttle.key == "digest:throttle:relay.test:587"
    assert (throttle.per_second, throttle.per_hour) == (0.0, 500)
    throttle.close()


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("DIGEST_SMTP_RATE_PER_SECOND", "fast", "expected a number, got 'fast'"),
        ("DIGEST_SMTP_RATE_PER_SECOND", "-1", "must be between 0 and 100000, got -1"),
        ("DIGEST_SMTP_RATE_PER_SECOND", "nan", "must be between"),
        ("DIGEST_SMTP_RATE_PER_SECOND", "inf", "must be between"),
        ("DIGEST_SMTP_RATE_PER_HOUR", "1.5", "expected a whole number, got '1.5'"),
        ("DIGEST_SMTP_RATE_PER_HOUR", "-5", "must be between 0 and 100000000, got -5"),
    ],
)
def test_a_bad_rate_is_one_line_naming_the_variable(
    tmp_path: Path, key: str, value: str, needle: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**BASE, key: value}, cwd=tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{key}: ") and needle in message
    assert "\n" not in message
