"""Fixed-window rate limits for the public forms: in Redis when configured (shared by every
web process), in this process otherwise.

A limit is "at most ``limit`` hits per ``window`` seconds per key". When Redis does not
answer, the limiter lets the request through and logs it: a subscribe form that fails
closed because a cache is down would lose sign-ups, and the per-address cap on
confirmation emails is enforced in the database anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int, window: int) -> bool:
        """Count one hit; False when ``key`` is over ``limit`` in the current window."""


class MemoryRateLimiter:
    """One process's counts (the embedded default: one web process)."""

    def __init__(self, clock: Callable[[], float] = time.time, max_keys: int = 100_000):
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._max_keys = max_keys

    def hit(self, key: str, limit: int, window: int) -> bool:
        slot = int(self._clock() // window)
        with self._lock:
            if len(self._counts) >= self._max_keys:
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= slot - 1}
                if len(self._counts) >= self._max_keys:  # a flood of distinct keys
                    self._counts.clear()
            count = self._counts.get((key, slot), 0) + 1
            self._counts[(key, slot)] = count
        return count <= limit


class RedisRateLimiter:
    """Counts in Redis (``INCR`` + ``EXPIRE`` per key and window), shared by all processes."""

    def __init__(self, url: str, prefix: str = "digest:rl:"):
        import redis  # lazy: only with DIGEST_REDIS_URL (in-process limits otherwise)

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._prefix = prefix

    def hit(self, key: str, limit: int, window: int) -> bool:
        slot = int(time.time() // window)
        name = f"{self._prefix}{key}:{window}:{slot}"
        try:
            pipe = self._redis.pipeline()
            pipe.incr(name)
            pipe.expire(name, window + 1)
            count = int(pipe.execute()[0])
        except self._errors as exc:
            log.warning("rate limiter: Redis unavailable (%s); request allowed", exc)
            return True
        return count <= limit


def limiter_for(redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
