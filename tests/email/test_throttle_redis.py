"""The shared SMTP rate limit on a real Redis: one limit for every process using a relay.

Timings on a shared machine are noisy, so these tests count grants over the time that
really passed (which can only make the allowed count larger) and use generous bounds.
The keys get a prefix of their own and are deleted afterwards; the database is not
flushed, so other tests can use it at the same time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.deliver.throttle import Backoff, RedisThrottle
from digest.errors import RateLimited, SessionError, ThrottleUnavailable
from tests.conftest import REDIS_DB, RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
RELAY = "relay.test:25"


@pytest.fixture
def shared(redis_server: RedisServer) -> Iterator[tuple[str, str]]:
    """(Redis URL, a key prefix of this test's own); skips or fails without Redis."""
    import redis

    client = redis.Redis(host=redis_server.host, port=redis_server.port, db=REDIS_DB)
    prefix = f"test:throttle:{uuid.uuid4().hex}:"
    yield redis_server.url(REDIS_DB), prefix
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


def run_children(script: str, *args: object, count: int) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", script, *map(str, args)]
    return [
        subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
        )
        for _ in range(count)
    ]


def output_of(child: subprocess.Popen[str]) -> str:
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    return out


@pytest.mark.redis
def test_a_burst_then_the_rate(shared: tuple[str, str]) -> None:
    url, prefix = shared
    with RedisThrottle(url, RELAY, 4, 0, prefix=prefix) as throttle:
        started = time.monotonic()
        waits = [throttle.reserve() for _ in range(12)]
        elapsed = time.monotonic() - started
    # Reserved back to back: four at once (the burst), then one every 0.25 s. Time that
    # passed between the calls can only shorten the later waits.
    for k, wait in enumerate(waits):
        due = max(0.0, (k - 3) * 0.25)
        assert due - elapsed - 0.01 <= wait <= due + 0.01, (k, waits, elapsed)
    assert waits[:4] == [0.0] * 4 or elapsed > 0.2


@pytest.mark.redis
def test_acquire_paces_the_senders(shared: tuple[str, str]) -> None:
    url, prefix = shared
    with RedisThrottle(url, RELAY, 10, 0, prefix=prefix) as throttle:
        started, count = time.monotonic(), 0
        while time.monotonic() - started < 1.5:
            throttle.acquire()
            count += 1
        elapsed = time.monotonic() - started
    assert count <= 10 + 10 * elapsed + 1  # burst + rate x time, never more
    assert count >= 10 + 5  # and not much less (a generous bound for a busy machine)


CHILD_SENDER = """
import json, sys, time
from digest.deliver.throttle import RedisThrottle
url, prefix, relay, seconds = sys.argv[1:5]
throttle = RedisThrottle(url, relay, 10, 0, prefix=prefix)
throttle.state()  # connected before the start
print("ready", flush=True)
start_at = float(sys.stdin.readline())
time.sleep(max(0.0, start_at - time.time()))
stamps = []
while time.time() < start_at + float(seconds):
    throttle.acquire()
    stamps.append(time.time())
print(json.dumps(stamps))
"""


@pytest.mark.redis
def test_two_processes_share_one_rate(shared: tuple[str, str]) -> None:
    url, prefix = shared
    seconds = 2.0
    children = run_children(CHILD_SENDER, url, prefix, RELAY, seconds, count=2)
    for child in children:  # imported and connected: start together
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
    start_at = f"{time.time() + 0.2}\n"
    for child in children:
        assert child.stdin is not None
        child.stdin.write(start_at)
        child.stdin.flush()
    stamps = [json.loads(output_of(child)) for child in children]
    assert all(len(s) >= 3 for s in stamps), [len(s) for s in stamps]  # both sent
    every = sorted(t for s in stamps for t in s)
    span = every[-1] - every[0]
    total = len(every)
    # 10/s with a burst of 10 between them: about 30 in 2 s; each alone would take ~30
    # and together ~60 if the limit were per process.
    assert total <= 10 + 10 * span + 3, (total, span)
    assert total < 1.5 * (10 + 10 * seconds)
    assert total >= 15


CHILD_SLOW = """
import sys
from digest.deliver.throttle import Backoff, RedisThrottle
url, prefix, relay = sys.argv[1:4]
backoff = Backoff(cooldown=5.0, recovery=2.0, holdoff=30.0)
RedisThrottle(url, relay, 20, 0, prefix=prefix, backoff=backoff).slow_down("421 4.7.0 slow down")
"""


@pytest.mark.redis
def test_slow_down_in_one_process_slows_every_process(shared: tuple[str, str]) -> None:
    url, prefix = shared
    backoff = Backoff(cooldown=5.0, recovery=2.0, holdoff=30.0)
    first = RedisThrottle(url, RELAY, 20, 0, prefix=prefix, backoff=backoff)
    second = RedisThrottle(url, RELAY, 20, 0, prefix=prefix, backoff=backoff)

    def spacing(throttle: RedisThrottle, burst: int, k: int = 6) -> tuple[float, float]:
        """Spend the burst, then the reserved time between k+1 messages asked back to back,
        and the time all that took: tokens refilled meanwhile (a busy machine may pause
        this process between any two calls) shorten the gap by at most that much."""
        started = time.monotonic()
        throttle.reserve(burst)  # spend the burst, so the spacing shows the rate
        waits = [throttle.reserve() for _ in range(k + 1)]
        return waits[-1] - waits[0], time.monotonic() - started

    gap, took = spacing(first, 20)
    assert 6 * 0.05 - took - 0.01 <= gap <= 6 * 0.05 + 0.01  # 20/s

    output_of(run_children(CHILD_SLOW, url, prefix, RELAY, count=1)[0])  # another process
    assert first.state().factor == 0.5 and second.state().factor == 0.5
    assert second.state().per_second == 10
    gap, took = spacing(second, 10)  # what refilled since the cut (burst 10 at 10/s)
    assert 6 * 0.1 - took - 0.01 <= gap <= 6 * 0.1 + 0.01  # 10/s for everyone

    first.slow_down("421")  # the same burst of refusals: within the holdoff, counted once
    assert second.state().factor == 0.5

    # after the cool-down the rate climbs back gradually (1.0 per 2 s) to the full rate
    samples, deadline = [], time.monotonic() + 20
    while time.monotonic() < deadline:
        samples.append(second.state().factor)
        if samples[-1] == 1.0:
            break
        time.sleep(0.1)
    assert samples[-1] == 1.0, samples
    assert samples == sorted(samples)
    assert any(0.5 < f < 1.0 for f in samples), samples
    assert sum(f == 0.5 for f in samples) >= 5  # held for the cool-down first
    first.close()
    second.close()


@pytest.mark.redis
def test_the_hourly_cap_stops_after_n(shared: tuple[str, str]) -> None:
    url, prefix = shared
    with RedisThrottle(url, RELAY, 0, 5, prefix=prefix) as throttle:
        assert [throttle.reserve(max_wait=0) for _ in range(5)] == [0.0] * 5
        for _ in range(2):  # a refused reservation takes nothing
            with pytest.raises(RateLimited) as caught:
                throttle.acquire(max_wait=30)
            assert 700 < caught.value.retry_after <= 720  # 5 an hour: one per 12 minutes
        other = RedisThrottle(url, RELAY, 0, 5, prefix=prefix)  # the cap is shared too
        with pytest.raises(RateLimited):
            other.acquire(max_wait=30)
        other.close()
        with RedisThrottle(url, "other.relay.test:25", 0, 5, prefix=prefix) as another_relay:
            another_relay.acquire(max_wait=0)  # one limit per relay


@pytest.mark.redis
def test_a_batch_reserves_many_in_one_call(shared: tuple[str, str]) -> None:
    url, prefix = shared
    with RedisThrottle(url, RELAY, 2, 0, prefix=prefix) as throttle:
        assert throttle.reserve(10) == 0.0  # a full bucket lets a batch overdraw it
        wait = throttle.reserve(10)  # ... and the next batch pays for 10 at 2/s
        assert 4.5 < wait <= 5.0


@pytest.mark.redis
def test_a_client_passed_in_stays_open(shared: tuple[str, str]) -> None:
    import redis

    url, prefix = shared
    client = redis.Redis.from_url(url)
    RedisThrottle(client, RELAY, 5, 0, prefix=prefix).close()
    assert client.ping()
    client.close()


def test_an_unreachable_redis_is_one_clear_error() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    throttle = RedisThrottle(url, RELAY, 5, 100)
    for call in (throttle.acquire, lambda: throttle.slow_down("421")):
        with pytest.raises(ThrottleUnavailable) as caught:
            call()
        message = str(caught.value)
        assert isinstance(caught.value, SessionError)  # the batch stops, rows stay open
        assert message.startswith("DIGEST_REDIS_URL: the SMTP rate limit of relay.test:25")
        assert "\n" not in message and "hunter2" not in message
        assert caught.value.__cause__ is None and caught.value.__suppress_context__
    throttle.close()
