"""One SMTP send rate per relay, shared by every worker on every host.

Celery's ``rate_limit`` counts per worker process; a relay counts per account. So the
limit lives in Redis: one hash per relay (``digest:throttle:<host:port>``) updated by one
Lua script, atomically, with the time taken from Redis ``TIME`` (hosts' clocks differ).

Two token buckets, both kept as a *theoretical arrival time* (GCRA: the moment the
bucket would be full again, which is a token bucket stored as one number):

* per second: ``DIGEST_SMTP_RATE_PER_SECOND`` tokens a second, burst ``max(1, rate)``;
* per hour: ``DIGEST_SMTP_RATE_PER_HOUR`` tokens an hour, burst the whole hour's worth
  (so one hour that starts full can carry up to twice the setting; see docs/email.md).

``acquire(n)`` reserves ``n`` messages in one round trip and sleeps until they may go;
callers are served in the order they asked. A batch larger than the burst waits for a
full bucket and then overdraws it, so the long-run rate holds and the burst is at most
``max(burst, n)``. ``slow_down(reason)`` (the relay said 421 or 454) halves the shared
per-second rate, drains its bucket, holds it for a cool-down, then lets it climb back
linearly (AIMD); every process reads the same factor, so all slow down together. Cuts
closer together than ``holdoff`` count once: twenty workers hit by the same 421 halve
the rate once, not twenty times.

When Redis does not answer, :class:`RedisThrottle` raises :class:`ThrottleUnavailable`
(a :class:`SessionError`: the batch stops and its rows stay open). It does not fall back
to a local bucket: with N workers each at the full rate, the relay would see N times its
limit. Without ``DIGEST_REDIS_URL``, :func:`throttle_from_settings` gives a
:class:`LocalThrottle` (right for the embedded, single-process mode).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from digest.errors import RateLimited, ThrottleUnavailable
from digest.settings import Settings

log = logging.getLogger(__name__)

KEY_PREFIX = "digest:throttle:"
_EPSILON = 1e-5  # shorter waits are rounding errors of the stored times (the Lua too)


@dataclass(frozen=True, slots=True)
class Backoff:
    """How ``slow_down`` cuts the per-second rate and how it recovers (AIMD)."""

    cut: float = 0.5  # multiply the rate by this at each 421/454
    floor: float = 0.05  # never below this fraction of the configured rate
    cooldown: float = 60.0  # seconds the cut rate is held after the last 421/454
    recovery: float = 300.0  # then the factor climbs by 1.0 per this many seconds
    holdoff: float = 5.0  # 421/454 within this many seconds of a cut count once

    def __post_init__(self) -> None:
        if not (0 < self.cut < 1 and 0 < self.floor <= 1):
            raise ValueError("Backoff: cut must be in (0, 1) and floor in (0, 1]")
        if min(self.cooldown, self.recovery, self.holdoff) < 0:
            raise ValueError("Backoff: durations must not be negative")


@dataclass(frozen=True, slots=True)
class ThrottleState:
    """What a throttle shows now (for logs, ``digest run`` and tests)."""

    factor: float  # 1.0: the configured rate; 0.5: halved by a 421/454
    per_second: float  # the per-second rate in force now (0: unlimited)


class RelayThrottle:
    """The interface the send loop uses; subclasses implement :meth:`reserve`."""

    _sleep: Callable[[float], None] = staticmethod(time.sleep)

    def reserve(self, n: int = 1, *, max_wait: float | None = None) -> float:
        """Reserve ``n`` messages; return the seconds to wait before sending them.

        When the wait would exceed ``max_wait``, nothing is reserved and
        :class:`RateLimited` is raised with ``retry_after``.
        """
        raise NotImplementedError

    def acquire(self, n: int = 1, *, max_wait: float | None = None) -> None:
        """Block, sleeping, until ``n`` messages may be sent (see :meth:`reserve`)."""
        wait = self.reserve(n, max_wait=max_wait)
        if wait > 0:
            self._sleep(wait)

    def slow_down(self, reason: str) -> None:
        """The relay answered 421/454: cut the shared per-second rate for a while."""

    def state(self) -> ThrottleState:
        return ThrottleState(factor=1.0, per_second=0.0)

    def close(self) -> None:
        """Release the connection, if any."""

    def __enter__(self) -> RelayThrottle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Unlimited(RelayThrottle):
    """No limit (both settings 0)."""

    def reserve(self, n: int = 1, *, max_wait: float | None = None) -> float:
        return 0.0


def _check(n: int, per_second: float, per_hour: int) -> None:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"acquire: n must be a positive integer, got {n!r}")
    if not (math.isfinite(per_second) and per_second >= 0 and per_hour >= 0):
        raise ValueError("throttle: rates must be finite and not negative")


def _rate_limited(relay: str, wait: float) -> RateLimited:
    return RateLimited(
        f"SMTP rate limit of {relay}: the next free slot is in {wait:.0f} s", retry_after=wait
    )


class LocalThrottle(RelayThrottle):
    """The same buckets in this process only (embedded mode, tests).

    ``clock`` (monotonic seconds) and ``sleep`` are injectable, so tests run without
    sleeping. Thread-safe.
    """

    def __init__(
        self,
        per_second: float,
        per_hour: int,
        *,
        backoff: Backoff | None = None,
        relay: str = "the relay",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        _check(1, per_second, per_hour)
        self.per_second, self.per_hour = float(per_second), int(per_hour)
        self.backoff = backoff or Backoff()
        self.relay = relay
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        now = clock()
        self._tat_s = self._tat_h = now  # theoretical arrival times: full buckets
        self._factor, self._cool_until, self._last_cut = 1.0, -math.inf, -math.inf

    def _factor_at(self, now: float) -> float:
        if now < self._cool_until:
            return self._factor
        if self.backoff.recovery <= 0:
            return 1.0
        return min(1.0, self._factor + (now - self._cool_until) / self.backoff.recovery)

    def reserve(self, n: int = 1, *, max_wait: float | None = None) -> float:
        _check(n, self.per_second, self.per_hour)
        with self._lock:
            now = self._clock()
            start = now
            rate = self.per_second * self._factor_at(now)
            if rate > 0:
                step_s, burst_s = 1.0 / rate, max(1.0, rate)
                start = max(start, self._tat_s - (burst_s - min(n, burst_s)) * step_s)
            if self.per_hour > 0:
                step_h, burst_h = 3600.0 / self.per_hour, self.per_hour
                start = max(start, self._tat_h - (burst_h - min(n, burst_h)) * step_h)
            if start - now < _EPSILON:  # rounding, not a wait
                start = now
            wait = start - now
            if max_wait is not None and wait > max_wait:
                raise _rate_limited(self.relay, wait)
            if rate > 0:
                self._tat_s = max(self._tat_s, start) + n * step_s
            if self.per_hour > 0:
                self._tat_h = max(self._tat_h, start) + n * step_h
            return wait

    def slow_down(self, reason: str) -> None:
        if self.per_second <= 0:
            log.warning("%s answered %s; no per-second rate is set to cut", self.relay, reason)
            return
        b = self.backoff
        with self._lock:
            now = self._clock()
            factor = self._factor_at(now)
            cut = now - self._last_cut >= b.holdoff
            if cut:
                factor, self._last_cut = max(b.floor, factor * b.cut), now
            self._factor, self._cool_until = factor, now + b.cooldown
            rate = self.per_second * factor
            self._tat_s = max(self._tat_s, now + max(1.0, rate) / rate)  # drain the bucket
        if cut:
            _log_cut(self.relay, reason, rate, b.cooldown)

    def state(self) -> ThrottleState:
        with self._lock:
            factor = self._factor_at(self._clock())
        return ThrottleState(factor=factor, per_second=self.per_second * factor)


def _log_cut(relay: str, reason: str, rate: float, cooldown: float) -> None:
    log.warning(
        "%s answered %s: sending slowed to %.3g/s for %.0f s, then back up gradually",
        relay,
        reason,
        rate,
        cooldown,
    )


# KEYS[1]: the relay's hash. ARGV: op ('take', 'slow' or 'peek'), n, per_second, per_hour,
# max_wait (< 0: none), cut, floor, cooldown, recovery, holdoff.
# Returns strings (a Lua number would be truncated to an integer):
#   take -> {granted '1'/'0', wait seconds, factor}; slow -> {cut '1'/'0', factor};
#   peek -> {factor}.
_SCRIPT = """
local key = KEYS[1]
local op = ARGV[1]
local n = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local per_hour = tonumber(ARGV[4])
local max_wait = tonumber(ARGV[5])
local cut, floor = tonumber(ARGV[6]), tonumber(ARGV[7])
local cooldown, recovery, holdoff = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])

local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local s = redis.call('HMGET', key, 'tat_s', 'tat_h', 'factor', 'cool_until', 'last_cut')
local tat_s = tonumber(s[1]) or now
local tat_h = tonumber(s[2]) or now
local held = tonumber(s[3]) or 1  -- the factor set by the last cut, held until cool_until
local cool_until = tonumber(s[4]) or 0
local last_cut = tonumber(s[5]) or 0
local factor = held
if now >= cool_until then
  if recovery <= 0 then
    factor = 1
  else
    factor = math.min(1, held + (now - cool_until) / recovery)
  end
end

local function fmt(x) return string.format('%.6f', x) end
local function save()
  redis.call('HSET', key, 'tat_s', fmt(tat_s), 'tat_h', fmt(tat_h), 'factor', fmt(held),
             'cool_until', fmt(cool_until), 'last_cut', fmt(last_cut))
  local horizon = math.max(tat_s, tat_h, cool_until + recovery) - now
  redis.call('EXPIRE', key, math.ceil(math.max(0, horizon)) + 60)
end

if op == 'peek' then
  return {fmt(factor)}
end

if op == 'slow' then
  local did = '0'
  if rate > 0 then
    if now - last_cut >= holdoff then
      factor = math.max(floor, factor * cut)
      last_cut = now
      did = '1'
    end
    held = factor
    cool_until = now + cooldown
    local r = rate * factor
    tat_s = math.max(tat_s, now + math.max(1, r) / r)
    save()
  end
  return {did, fmt(factor)}
end

local start = now
local r = rate * factor
local step_s, step_h = 0, 0
if r > 0 then
  step_s = 1 / r
  local burst = math.max(1, r)
  start = math.max(start, tat_s - (burst - math.min(n, burst)) * step_s)
end
if per_hour > 0 then
  step_h = 3600 / per_hour
  start = math.max(start, tat_h - (per_hour - math.min(n, per_hour)) * step_h)
end
if start - now < 0.00001 then start = now end  -- rounding, not a wait
local wait = start - now
if max_wait >= 0 and wait > max_wait then
  return {'0', fmt(wait), fmt(factor)}
end
if r > 0 then tat_s = math.max(tat_s, start) + n * step_s end
if per_hour > 0 then tat_h = math.max(tat_h, start) + n * step_h end
save()
return {'1', fmt(wait), fmt(factor)}
"""


def _redacted(url: str) -> str:
    """``redis://host:port/db`` without the password, for messages."""
    try:
        parts = urlsplit(url)
        host = f"{parts.hostname}:{parts.port or 6379}"
    except ValueError:
        return "the configured Redis"
    return f"{parts.scheme}://{host}{parts.path}"


class RedisThrottle(RelayThrottle):
    """The buckets of one relay in Redis, shared by every process that uses ``relay_key``.

    ``redis_client_or_url``: a ``redis.Redis`` (kept open on :meth:`close`) or a URL (a
    client is made with short timeouts and closed on :meth:`close`). Every process must
    use the same rates for one relay: each call passes its own.
    """

    def __init__(
        self,
        redis_client_or_url: Any,
        relay_key: str,
        per_second: float,
        per_hour: int,
        *,
        backoff: Backoff | None = None,
        prefix: str = KEY_PREFIX,
        sleep: Callable[[float], None] = time.sleep,
    ):
        import redis  # lazy: only with DIGEST_REDIS_URL (an in-process bucket otherwise)

        _check(1, per_second, per_hour)
        self.per_second, self.per_hour = float(per_second), int(per_hour)
        self.backoff = backoff or Backoff()
        self.relay = relay_key
        self.key = prefix + relay_key
        self._sleep = sleep
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        if isinstance(redis_client_or_url, str):
            self._where = _redacted(redis_client_or_url)
            self._client = redis.Redis.from_url(
                redis_client_or_url, socket_timeout=5, socket_connect_timeout=3
            )
            self._owned = True
        else:
            kwargs = redis_client_or_url.connection_pool.connection_kwargs
            self._where = f"{kwargs.get('host', 'redis')}:{kwargs.get('port', 6379)}"
            self._client, self._owned = redis_client_or_url, False
        self._script = self._client.register_script(_SCRIPT)

    def _call(self, op: str, n: int = 1, max_wait: float | None = None) -> list[str]:
        b = self.backoff
        args: list[str | int | float] = [op, n, repr(self.per_second), self.per_hour]
        args += [-1 if max_wait is None else repr(max(0.0, float(max_wait)))]
        args += [repr(b.cut), repr(b.floor), repr(b.cooldown), repr(b.recovery), repr(b.holdoff)]
        try:
            reply = self._script(keys=[self.key], args=args)
        except self._errors as exc:
            raise ThrottleUnavailable(
                f"DIGEST_REDIS_URL: the SMTP rate limit of {self.relay} needs Redis at "
                f"{self._where}, which does not answer ({str(exc).splitlines()[0]})"
            ) from None
        return [v.decode() if isinstance(v, bytes) else str(v) for v in reply]

    def reserve(self, n: int = 1, *, max_wait: float | None = None) -> float:
        _check(n, self.per_second, self.per_hour)
        granted, wait, _factor = self._call("take", n, max_wait)
        if granted != "1":
            raise _rate_limited(self.relay, float(wait))
        return max(0.0, float(wait))

    def slow_down(self, reason: str) -> None:
        if self.per_second <= 0:
            log.warning("%s answered %s; no per-second rate is set to cut", self.relay, reason)
            return
        did, factor = self._call("slow")
        if did == "1":
            _log_cut(self.relay, reason, self.per_second * float(factor), self.backoff.cooldown)

    def state(self) -> ThrottleState:
        factor = float(self._call("peek")[0])
        return ThrottleState(factor=factor, per_second=self.per_second * factor)

    def close(self) -> None:
        if self._owned:
            self._client.close()


def relay_key(relay_display: str) -> str:
    """``smtp://host:587`` -> ``host:587``: one limit per relay whatever the scheme."""
    return relay_display.partition("://")[2] or relay_display


def throttle_from_settings(settings: Settings, relay_display: str) -> RelayThrottle:
    """The throttle the settings ask for: none, shared in Redis, or in this process."""
    per_second, per_hour = settings.smtp_rate_per_second, settings.smtp_rate_per_hour
    if not per_second and not per_hour:
        return Unlimited()
    if settings.redis_url:
        return RedisThrottle(settings.redis_url, relay_key(relay_display), per_second, per_hour)
    if not settings.in_process:
        log.warning(
            "DIGEST_SMTP_RATE_*: no DIGEST_REDIS_URL, so each worker process keeps its own "
            "limit and the relay sees it times the number of workers"
        )
    return LocalThrottle(per_second, per_hour, relay=relay_display)
