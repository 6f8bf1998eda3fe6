"""Who schedules, pure: the lock a deployment needs, and the standby/active state machine.

One scheduler is active at a time; any other waits as a hot standby, tries the lock every
``retry`` seconds and takes over when the active one dies. The lock depends on the
deployment (:func:`choose_lock`):

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection of
  its own. The server drops it the moment that session ends: a ``kill -9``\\ed scheduler's
  socket closes at once, and TCP keepalives (10 s idle, 3 probes 5 s apart, set on both
  ends) end the session of a host that vanished within about 25 s.
- SQLite with Redis (``DIGEST_REDIS_URL``, or a ``redis://`` broker): a Redis lock with a
  ``ttl``, renewed every ``retry`` seconds; a dead holder's lock expires after ``ttl``.
- SQLite alone: no lock. One scheduler process is the rule (say so in the log).

Takeover after a ``kill -9`` therefore takes at most ``retry`` seconds (PostgreSQL) or
``ttl + retry`` (Redis): 5 s and 35 s with the defaults, within the minute the docs
promise even for a lost host (about 30 s on PostgreSQL).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from digest.errors import InputError

DEFAULT_RETRY = 5.0
DEFAULT_TTL = 30.0
LOST_BACKOFF = 3  # retry periods a process that lost the lock waits before trying again


class LockKind(StrEnum):
    POSTGRES = "postgres"
    REDIS = "redis"
    NONE = "none"


class Role(StrEnum):
    STARTING = "starting"
    STANDBY = "standby"
    ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class Timings:
    retry: float = DEFAULT_RETRY  # seconds between lock attempts (standby) and checks (active)
    ttl: float = DEFAULT_TTL  # Redis: how long a lock outlives its last renewal

    def __post_init__(self) -> None:
        if not 0.1 <= self.retry <= 60:
            raise InputError(f"--standby-retry: must be 0.1 to 60 seconds, got {self.retry:g}")
        if not 3 * self.retry <= self.ttl <= 600:
            raise InputError(
                f"--lock-ttl: must be at least three retries ({3 * self.retry:g} s) and at "
                f"most 600 s, got {self.ttl:g}"
            )

    def takeover_bound(self, kind: LockKind) -> float:
        """Seconds from an active scheduler's death to a standby's takeover, at most."""
        return self.retry + (self.ttl if kind is LockKind.REDIS else 0.0)


def choose_lock(database_backend: str, redis_url: str | None) -> LockKind:
    """The lock this deployment can offer."""
    if database_backend == "postgresql":
        return LockKind.POSTGRES
    if redis_url:
        return LockKind.REDIS
    return LockKind.NONE


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock`` from a lock name."""
    digest = hashlib.sha256(f"digest-scheduler:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def redis_key(name: str) -> str:
    return f"digest:scheduler-lock:{name}"


@dataclass(frozen=True, slots=True)
class Transition:
    role: Role
    start_jobs: bool = False  # plan the jobs and start them (just became active)
    stop_jobs: bool = False  # drop every job (just lost the lock)
    message: str | None = None  # what to log, once per change
    wait_retries: int = 1  # retry periods until the next attempt


def next_role(role: Role, has_lock: bool, *, lock: str, retry: float) -> Transition:
    """The next role given whether the lock is (still) ours: every change is logged once,
    a standby that stays standby says nothing more."""
    if has_lock:
        if role is Role.ACTIVE:
            return Transition(Role.ACTIVE)
        return Transition(
            Role.ACTIVE, start_jobs=True, message=f"active: this scheduler runs the jobs ({lock})"
        )
    if role is Role.ACTIVE:
        # the one that just failed waits longer, so a healthy standby takes over first
        return Transition(
            Role.STANDBY,
            stop_jobs=True,
            message=f"lost the {lock}: jobs stopped, standing by (retrying every {retry:g} s)",
            wait_retries=LOST_BACKOFF,
        )
    if role is Role.STARTING:
        return Transition(
            Role.STANDBY,
            message=(f"standby: another scheduler holds the {lock}; retrying every {retry:g} s"),
        )
    return Transition(Role.STANDBY)
