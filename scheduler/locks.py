"""The leader lock adapters: PostgreSQL advisory lock (``digest.db.leader``), Redis, none.

Each offers ``acquire() -> bool`` (try once, never wait), ``held() -> bool`` (still ours;
renews a Redis lock), ``release()``, a ``label`` for the log and ``problem`` (the last
error, or None). Failures mean "not held", never an exception.
"""

from __future__ import annotations

import contextlib
from typing import Protocol

import redis
from redis.exceptions import LockError, RedisError

from digest.db.leader import AdvisoryLock
from scheduler.leader import LockKind, Timings, advisory_key, redis_key


class LeaderLock(Protocol):
    label: str
    problem: str | None

    def acquire(self) -> bool: ...
    def held(self) -> bool: ...
    def release(self) -> None: ...


class RedisLeaderLock:
    """A Redis lock (``SET NX PX`` with a random token) that expires ``ttl`` seconds after
    its last renewal; :meth:`held` renews it (redis-py's ``Lock.reacquire``)."""

    label = "Redis lock"

    def __init__(self, url: str, name: str, ttl: float):
        timeout = max(1.0, ttl / 3)
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self.lock = self.client.lock(
            redis_key(name), timeout=ttl, blocking=False, thread_local=False
        )
        self.problem: str | None = None

    def acquire(self) -> bool:
        try:
            got = bool(self.lock.acquire(blocking=False))
        except RedisError as exc:
            self.problem = f"Redis: {exc}"
            return False
        self.problem = None
        return got

    def held(self) -> bool:
        try:
            self.lock.reacquire()  # back to the full ttl, only while the token is ours
        except LockError:
            self.problem = "the lock expired or was taken over"
            return False
        except RedisError as exc:
            self.problem = f"Redis: {exc}"
            return False
        return True

    def release(self) -> None:
        with contextlib.suppress(LockError, RedisError):
            self.lock.release()  # may have expired, or Redis is gone: the ttl frees it
        self.client.close()


class NoLock:
    """SQLite without Redis: nothing to coordinate with, so the process is always active."""

    label = "no lock: SQLite, one scheduler process only"
    problem: str | None = None

    def acquire(self) -> bool:
        return True

    def held(self) -> bool:
        return True

    def release(self) -> None:
        pass


def make_lock(
    kind: LockKind, *, database_url: str, redis_url: str | None, name: str, timings: Timings
) -> LeaderLock:
    if kind is LockKind.POSTGRES:
        return AdvisoryLock(database_url, advisory_key(name))
    if kind is LockKind.REDIS:
        assert redis_url is not None
        return RedisLeaderLock(redis_url, name, timings.ttl)
    return NoLock()
