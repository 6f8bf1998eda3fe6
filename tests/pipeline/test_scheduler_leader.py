"""One active scheduler: real `python -m scheduler` processes against one PostgreSQL database
(or SQLite + Redis), `kill -9` of the active one, SIGTERM between jobs.

The timings are shortened with the process's own flags (a standby retries every 0.5 s,
a Redis lock lives 3 s), so a takeover is measured in seconds; the defaults (5 s, 30 s)
are what the docs promise.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from digest.demo import sample_papers_path
from tests.conftest import RedisServer
from tests.helpers import run_cli
from tests.ingest.conftest import FIXTURES, feed_server, slow  # noqa: F401 - a fixture

ROOT = Path(__file__).resolve().parents[2]
# A Redis database of its own: the shared test database (13) is flushed by other tests.
SCHEDULER_REDIS_DB = int(os.environ.get("DIGEST_TEST_SCHEDULER_REDIS_DB", "11"))


class Scheduler:
    """One `python -m scheduler` process with its log in a file."""

    def __init__(self, name: str, env: dict[str, str], tmp_path: Path, *args: str):
        self.name = name
        self.log = tmp_path / f"scheduler-{name}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scheduler", *args],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float = 60, count: int = 1) -> float:
        """Poll the log until ``needle`` appears ``count`` times; the monotonic time then."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.text().count(needle) >= count:
                return time.monotonic()
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: no {needle!r} in the log:\n{self.text()}")

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self) -> int:
        self.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"{self.name}: no exit 30 s after SIGTERM:\n{self.text()}"
            ) from None


@pytest.fixture
def schedulers() -> Iterator[list[Scheduler]]:
    """The processes a test starts; any still running at the end are killed."""
    started: list[Scheduler] = []
    yield started
    for proc in started:
        if proc.proc.poll() is None:
            proc.proc.kill()
            proc.proc.wait()


def fast(lock_name: str) -> list[str]:
    return ["--standby-retry", "0.5", "--lock-ttl", "3", "--lock-name", lock_name]


def recipients(outbox: Path) -> Counter[str]:
    found: Counter[str] = Counter()
    for path in outbox.glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        found[str(message["To"]).rpartition("<")[2].rstrip(">")] += 1
    return found


def advisory_holders(pg_url: str) -> int:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND l.granted"
            " AND a.application_name = 'digest-scheduler' AND a.datname = current_database()"
        ).fetchone()[0]  # type: ignore[index]


def add_readers(capsys, *emails: str) -> None:  # type: ignore[no-untyped-def]
    for email in emails:  # hour 0: due all day, so a tick at any time sends their edition
        assert (
            run_cli(capsys, "subscribers", "add", email, "--topic", "speech", "--hour", "0").code
            == 0
        )


@pytest.mark.postgres
def test_one_active_scheduler_and_a_standby_that_takes_over_after_kill_9(
    digest_env, pg_url, tmp_path, capsys, monkeypatch, schedulers
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", pg_url)
    assert run_cli(capsys, "db", "upgrade").code == 0
    assert run_cli(capsys, "ingest", "jsonl", str(sample_papers_path())).code == 0
    add_readers(capsys, "r1@example.org", "r2@example.org", "r3@example.org")
    env = dict(os.environ)
    args = [*fast(f"t-{uuid.uuid4().hex[:8]}"), "--jobs", "editions"]

    first = Scheduler("first", env, tmp_path, *args)
    schedulers.append(first)
    first.wait_for("active: this scheduler runs the jobs (PostgreSQL advisory lock)")
    first.wait_for("edition tick:")  # the catch-up tick at start
    second = Scheduler("second", env, tmp_path, *args)
    schedulers.append(second)
    second.wait_for("standby: another scheduler holds the PostgreSQL advisory lock")
    time.sleep(2)  # four more attempts of the standby
    assert "active:" not in second.text()
    assert advisory_holders(pg_url) == 1

    add_readers(capsys, "r4@example.org", "r5@example.org")  # due while nobody ticks
    killed_at = time.monotonic()
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    took_over = second.wait_for("active: this scheduler runs the jobs", timeout=30)
    takeover = took_over - killed_at
    print(f"standby took over {takeover:.2f} s after kill -9 (retry every 0.5 s)")
    assert takeover < 5
    second.wait_for("edition tick:")  # its own catch-up tick
    outbox = tmp_path / "var" / "outbox"
    assert recipients(outbox) == {f"r{n}@example.org": 1 for n in range(1, 6)}

    assert second.stop() == 0
    assert "SIGTERM received" in second.text() and "stopped" in second.text()
    assert "Traceback" not in second.text()
    assert advisory_holders(pg_url) == 0


@pytest.mark.postgres
def test_a_scheduler_whose_session_ends_stops_its_jobs_and_stands_by(
    digest_env, pg_url, tmp_path, capsys, monkeypatch, schedulers
) -> None:  # type: ignore[no-untyped-def]
    """The server ends the active scheduler's lock session (as a restart or a network cut
    would): it stops its jobs at once, the standby becomes active, and the first one waits."""
    import psycopg

    monkeypatch.setenv("DIGEST_DATABASE_URL", pg_url)
    assert run_cli(capsys, "db", "upgrade").code == 0
    env = dict(os.environ)
    args = [*fast(f"t-{uuid.uuid4().hex[:8]}"), "--jobs", "editions"]
    first = Scheduler("first", env, tmp_path, *args)
    schedulers.append(first)
    first.wait_for("active: this scheduler runs the jobs")
    second = Scheduler("second", env, tmp_path, *args)
    schedulers.append(second)
    second.wait_for("standby:")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        ended = conn.execute(
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity a"
            " USING (pid) WHERE l.locktype = 'advisory' AND l.granted"
            " AND a.application_name = 'digest-scheduler' AND a.datname = current_database()"
        ).fetchall()
    assert ended == [(True,)]
    first.wait_for("lost the PostgreSQL advisory lock: jobs stopped, standing by", timeout=30)
    second.wait_for("active: this scheduler runs the jobs", timeout=30)
    time.sleep(1.5)
    assert first.text().count("active:") == 1  # it did not take the lock back
    assert advisory_holders(pg_url) == 1
    assert first.stop() == 0 and second.stop() == 0


@pytest.fixture
def scheduler_redis_url(redis_server: RedisServer) -> str:
    return redis_server.url(SCHEDULER_REDIS_DB)


@pytest.mark.redis
def test_sqlite_with_redis_elects_one_scheduler_with_a_renewed_lock(
    digest_env, sqlite_url, scheduler_redis_url, tmp_path, monkeypatch, schedulers
) -> None:  # type: ignore[no-untyped-def]
    import redis

    name = f"t-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("DIGEST_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("DIGEST_REDIS_URL", scheduler_redis_url)
    env = dict(os.environ)
    args = [*fast(name), "--jobs", "editions"]
    first = Scheduler("first", env, tmp_path, *args)
    schedulers.append(first)
    first.wait_for("active: this scheduler runs the jobs (Redis lock)")
    second = Scheduler("second", env, tmp_path, *args)
    schedulers.append(second)
    second.wait_for("standby: another scheduler holds the Redis lock")
    time.sleep(4)  # longer than the lock's ttl: only renewals keep it
    assert "active:" not in second.text()
    assert "lost the" not in first.text()

    killed_at = time.monotonic()
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    took_over = second.wait_for("active: this scheduler runs the jobs", timeout=30)
    takeover = took_over - killed_at
    print(f"standby took over {takeover:.2f} s after kill -9 (Redis ttl 3 s, retry 0.5 s)")
    assert takeover < 3 + 0.5 + 2.5
    assert second.stop() == 0
    client = redis.Redis.from_url(scheduler_redis_url)
    assert client.exists(f"digest:scheduler-lock:{name}") == 0  # released on the way out
    client.close()


def test_sqlite_alone_takes_no_lock_and_sigterm_waits_for_the_running_job(
    digest_env,
    sqlite_url,
    tmp_path,
    monkeypatch,
    schedulers,
    feed_server,  # noqa: F811
) -> None:  # type: ignore[no-untyped-def]
    """A source that never ran is ingested at start, before the editions tick; SIGTERM
    during that ingest lets it finish, starts nothing else and exits 0. Started again, the
    scheduler has nothing to catch up."""
    body = (FIXTURES / "generic_rss.xml").read_bytes()
    feed_server.routes["/slow.xml"] = slow(4.0, body)
    config = tmp_path / "digest.toml"
    config.write_text(
        f'[sources.slow]\nkind = "feed"\nurl = "{feed_server.url("/slow.xml")}"\n'
        'schedule = "0 3 * * *"\n'
    )
    monkeypatch.setenv("DIGEST_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("DIGEST_CONFIG", str(config))
    env = dict(os.environ)
    first = Scheduler("first", env, tmp_path, *fast("solo"))
    schedulers.append(first)
    first.wait_for("no lock is taken; run one scheduler process only")
    first.wait_for("job ingest:slow: 0 3 * * * (catching up now)")
    deadline = time.monotonic() + 30
    while not feed_server.hits("/slow.xml") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert feed_server.hits("/slow.xml"), first.text()
    time.sleep(1.5)  # the editions tick (due 1 s after the catch-up ingest) is now queued
    assert first.stop() == 0  # SIGTERM while the feed answers slowly
    log = first.text()
    assert "ingest slow: ok" in log, log  # the running job finished ...
    assert "editions: not started (stopping)" in log  # ... the queued one did not start
    assert log.index("ingest slow: ok") < log.index("stopped")
    assert "Traceback" not in log

    again = Scheduler("again", env, tmp_path, *fast("solo"))
    schedulers.append(again)
    again.wait_for("job ingest:slow: 0 3 * * *")
    again.wait_for("edition tick:")
    assert "(catching up now)" not in again.text().split("job ingest:slow")[1].split("\n")[0]
    assert len(feed_server.hits("/slow.xml")) == 1
    assert again.stop() == 0


@pytest.mark.parametrize(
    ("args", "config", "expected"),
    [
        (["--standby-retry", "10", "--lock-ttl", "5"], None, "error: --lock-ttl"),
        (["--jobs", "backups"], None, "error: --jobs: unknown job kind(s) backups"),
        (["--lock-name", "a b"], None, "error: --lock-name"),
        ([], '[sources.hf]\nkind = "hf_daily"\nschedule = "hourly"\n', "option schedule"),
    ],
)
def test_bad_input_is_one_error_line(
    digest_env, sqlite_url, tmp_path, args, config, expected
) -> None:  # type: ignore[no-untyped-def]
    env = dict(os.environ, DIGEST_DATABASE_URL=sqlite_url)
    if config:
        (tmp_path / "digest.toml").write_text(config)
        env["DIGEST_CONFIG"] = str(tmp_path / "digest.toml")
    result = subprocess.run(
        [sys.executable, "-m", "scheduler", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_digest_scheduler_is_the_same_process(digest_env, sqlite_url, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", sqlite_url)
    bad = run_cli(capsys, "scheduler", "--jobs", "nope")
    assert bad.code == 2 and "error: --jobs: unknown job kind(s) nope" in bad.err
    assert run_cli(capsys, "scheduler", "--once").code == 0
    helped = run_cli(capsys, "scheduler", "--help")
    assert helped.code == 0 and "--standby-retry" in helped.out
