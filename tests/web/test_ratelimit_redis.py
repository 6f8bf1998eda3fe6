"""The shared rate limiter on a real Redis, and what it does when Redis is gone."""

from __future__ import annotations

import uuid

import pytest

from digest.web.ratelimit import RedisRateLimiter
from tests.conftest import free_port


@pytest.mark.redis
def test_redis_limits_are_shared_between_limiters(redis_url: str) -> None:
    key = f"test-{uuid.uuid4().hex}"
    first, second = RedisRateLimiter(redis_url), RedisRateLimiter(redis_url)  # two processes
    assert [first.hit(key, 3, 60), second.hit(key, 3, 60), first.hit(key, 3, 60)] == [True] * 3
    assert not second.hit(key, 3, 60)
    assert first.hit("another-" + key, 3, 60)


def test_an_unreachable_redis_lets_requests_through() -> None:
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{free_port()}/0")
    assert all(limiter.hit("k", 1, 60) for _ in range(3))
