"""Faults of a run on real Celery workers: `digest run` follows the ledger, so a killed
worker or a restarted broker only delays the edition, and a relay that refuses the
workers' login ends the run with one line and nothing marked failed.

Real PostgreSQL, real Redis (a private server for the restart), real worker processes,
aiosmtpd relays that are slow (so an edition takes seconds) or demand AUTH.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections import Counter

import pytest
import redis
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import create_engine, text

from digest.db import Database, subscribers, tracking
from digest.demo import DEMO_SUBSCRIBERS, sample_papers_path
from digest.errors import ConfigError, DigestError
from digest.pipeline.fanout import Broker, Patience, deliver_on_workers
from digest.pipeline.runtime import Runtime, utcnow
from digest.pipeline.service import plan_edition
from digest.settings import Settings
from digest.subscriber_spec import validate_spec
from tests.conftest import SmtpSink, free_port, missing_service
from tests.helpers import run_cli
from tests.workers import DIGEST, setup_database, start_worker, stop

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
READERS = len(DEMO_SUBSCRIBERS)


class SlowRelay:
    """Takes ``delay`` seconds to accept each message; keeps what it accepted."""

    def __init__(self, delay: float, **options: object):
        self.sink = SmtpSink("127.0.0.1", free_port())
        sink = self.sink

        class Handler:
            async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
                session.host_name = hostname  # PIPELINING, as Postfix: the claim overlaps
                return [*responses[:-1], "250-PIPELINING", responses[-1]]

            async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
                await asyncio.sleep(delay)
                with sink.lock:
                    sink.envelopes.append(
                        (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
                    )
                return "250 OK"

        self.controller = Controller(
            Handler(), hostname="127.0.0.1", port=self.sink.port, **options
        )

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self.sink

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def recipients(sink: SmtpSink) -> list[str]:
    with sink.lock:
        return [rcpts[0] for _, rcpts, _ in sink.envelopes]


def wait_until(condition, seconds: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def ledger(env: dict[str, str]) -> dict[str, int]:
    engine = create_engine(
        env["DIGEST_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://")
    )
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, count(*) FROM deliveries GROUP BY status"))
        found = {status: count for status, count in rows}
    engine.dispose()
    return found


@pytest.fixture
def worker_env(digest_env, pg_url, redis_url, monkeypatch) -> dict[str, str]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", pg_url)
    env = dict(os.environ)
    env.update(
        DIGEST_BROKER_URL=redis_url,
        DIGEST_BATCH_SIZE="1",  # one task per reader: an edition of several tasks
        DIGEST_LEASE_SECONDS="2",
        DIGEST_STALL_SECONDS="2",
        DIGEST_GIVE_UP_SECONDS="60",
    )
    return env


def run_digest(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [DIGEST, "run", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def test_a_killed_worker_only_delays_the_edition(worker_env, capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with SlowRelay(1.0) as sink:
        worker_env["DIGEST_SMTP_URL"] = sink.url
        monkeypatch.setenv("DIGEST_SMTP_URL", sink.url)
        setup_database(capsys)
        first = start_worker(worker_env, tmp_path / "w1.log", concurrency=1)
        started = time.monotonic()
        runner = run_digest(worker_env)
        try:
            wait_until(lambda: len(recipients(sink)) >= 1)
            time.sleep(0.3)  # the second message is in flight
            stop(first, signal.SIGKILL)
            second = start_worker(worker_env, tmp_path / "w2.log")
            try:
                out, err = runner.communicate(timeout=120)
            finally:
                stop(second)
        finally:
            stop(runner, signal.SIGKILL)
    elapsed = time.monotonic() - started
    assert runner.returncode == 0, err.decode()
    summary = json.loads(out)["summary"]
    got = recipients(sink)
    assert len(got) == len(set(got))  # nobody twice
    assert summary["sent"] + summary["unknown"] == READERS, summary
    assert summary["unknown"] <= 1  # at most the message in flight when it died
    assert elapsed < 90  # not the hour a visibility timeout would have taken
    print(f"killed worker: {summary}, {elapsed:.1f} s, {len(got)} delivered")


BIG_EDITION = 2000


@pytest.mark.parametrize("connections", [1, 2])
def test_a_worker_killed_mid_edition_of_2000_loses_nothing(
    worker_env, capsys, monkeypatch, tmp_path, connections
) -> None:  # type: ignore[no-untyped-def]
    """kill -9 of a whole worker (two processes) a quarter into an edition of 2,000: a
    second worker finishes it; nobody is mailed twice and nobody is left without either a
    message or an `unknown` row (a message that died inside DATA), at most one per process
    and SMTP connection (``DIGEST_SMTP_CONNECTIONS``: each has its own send loop)."""
    topics = [str(d["topics"][0]) for d in DEMO_SUBSCRIBERS]  # type: ignore[index]
    lines = ["email,name,topics"] + [
        f"reader{n:04d}@example.org,Reader {n},{topics[n % len(topics)]}"
        for n in range(BIG_EDITION)
    ]
    people = tmp_path / "readers.csv"
    people.write_text("\n".join(lines) + "\n")
    worker_env.update(
        DIGEST_BATCH_SIZE="50", DIGEST_LEASE_SECONDS="5", DIGEST_SMTP_CONNECTIONS=str(connections)
    )
    with SlowRelay(0.0) as sink:
        worker_env["DIGEST_SMTP_URL"] = sink.url
        monkeypatch.setenv("DIGEST_SMTP_URL", sink.url)
        assert run_cli(capsys, "db", "upgrade").code == 0
        assert run_cli(capsys, "ingest", "jsonl", str(sample_papers_path())).code == 0
        imported = run_cli(capsys, "subscribers", "import", str(people))
        assert imported.code == 0, imported.err
        first = start_worker(worker_env, tmp_path / "w1.log", concurrency=2)
        runner = run_digest(worker_env)
        try:
            wait_until(lambda: len(recipients(sink)) >= BIG_EDITION // 4, 240)
            stop(first, signal.SIGKILL)
            at_kill = len(recipients(sink))
            second = start_worker(worker_env, tmp_path / "w2.log", concurrency=2)
            try:
                out, err = runner.communicate(timeout=300)
            finally:
                stop(second)
        finally:
            stop(runner, signal.SIGKILL)
    assert runner.returncode == 0, err.decode()
    assert b"Traceback" not in err
    got = Counter(recipients(sink))
    states = ledger(worker_env)
    unknown = unknown_emails(worker_env)
    duplicates = sum(n - 1 for n in got.values())
    never_mailed = {f"reader{n:04d}@example.org" for n in range(BIG_EDITION)} - set(got)
    print(
        f"kill -9 at {at_kill}/{BIG_EDITION} delivered: ledger {states}, "
        f"duplicates {duplicates}, unknown {len(unknown)} "
        f"(of which never delivered {len(never_mailed)})"
    )
    assert duplicates == 0
    assert never_mailed <= unknown  # nobody silently lost: each is an explicit `unknown`
    assert states.get("sent", 0) + len(unknown) == BIG_EDITION, states
    assert len(unknown) <= 2 * connections  # in flight in the two killed processes
    summary = json.loads(out)["summary"]  # the run's own report agrees with the ledger
    assert (summary["sent"], summary["unknown"]) == (states["sent"], len(unknown)), summary


def unknown_emails(env: dict[str, str]) -> set[str]:
    engine = create_engine(
        env["DIGEST_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://")
    )
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.email FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id"
                " WHERE d.status = 'unknown'"
            )
        )
        found = {email for (email,) in rows}
    engine.dispose()
    return found


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_a_broker_restarted_mid_edition_loses_nothing(
    worker_env, capsys, monkeypatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    broker = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
    ]
    try:
        server = subprocess.Popen(broker, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except FileNotFoundError:
        missing_service("redis-server is not installed (needed to restart a broker)")
    client = redis.Redis(port=port)
    try:
        wait_until(lambda: _pings(client), 10)
        worker_env["DIGEST_BROKER_URL"] = f"redis://127.0.0.1:{port}/0"
        with SlowRelay(0.7) as sink:
            worker_env["DIGEST_SMTP_URL"] = sink.url
            monkeypatch.setenv("DIGEST_SMTP_URL", sink.url)
            setup_database(capsys)
            worker = start_worker(worker_env, tmp_path / "w.log", concurrency=1)
            runner = run_digest(worker_env)
            try:
                wait_until(lambda: len(recipients(sink)) >= 1)
                server.kill()  # the queued tasks are gone with it (nothing persisted)
                server.wait()
                time.sleep(1.0)
                server = subprocess.Popen(
                    broker, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                wait_until(lambda: _pings(client), 10)
                out, err = runner.communicate(timeout=120)
            finally:
                stop(runner, signal.SIGKILL)
                stop(worker)
    finally:
        server.kill()
        server.wait()
    assert runner.returncode == 0, err.decode() + (tmp_path / "w.log").read_text()
    assert b"Traceback" not in err
    got = recipients(sink)
    assert sorted(got) == sorted({str(d["email"]) for d in DEMO_SUBSCRIBERS})  # each once
    assert json.loads(out)["summary"]["sent"] == READERS


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_relay_refusing_the_workers_login_ends_the_run_with_one_line(
    worker_env,
    capsys,
    monkeypatch,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    def check(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        login, password = (
            v.decode() if isinstance(v, bytes) else v for v in (auth_data.login, auth_data.password)
        )
        return AuthResult(success=(login, password) == ("digest", "right"), handled=False)

    with SlowRelay(0.0, authenticator=check, auth_required=True, auth_require_tls=False) as sink:
        wrong = f"smtp://digest:wrong@127.0.0.1:{sink.port}"
        worker_env["DIGEST_SMTP_URL"] = wrong
        monkeypatch.setenv("DIGEST_SMTP_URL", wrong)
        setup_database(capsys)
        worker = start_worker(worker_env, tmp_path / "w1.log")
        try:
            result = subprocess.run(
                [DIGEST, "run"], env=worker_env, capture_output=True, text=True, timeout=120
            )
        finally:
            stop(worker)
        assert result.returncode == 1
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "refused the login" in errors[0], result.stderr
        assert "Traceback" not in result.stderr
        assert ledger(worker_env) == {"pending": READERS}  # nothing failed, nothing lost

        right = f"smtp://digest:right@127.0.0.1:{sink.port}"
        worker_env["DIGEST_SMTP_URL"] = right
        worker = start_worker(worker_env, tmp_path / "w2.log")
        try:
            again = subprocess.run(
                [DIGEST, "run"], env=worker_env, capture_output=True, text=True, timeout=120
            )
        finally:
            stop(worker)
        assert again.returncode == 0, again.stderr
        assert len(recipients(sink)) == READERS
    assert ledger(worker_env) == {"sent": READERS}


def test_an_unreachable_broker_is_one_config_error_after_retries(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings.from_env(
        {
            "DIGEST_VAR_DIR": str(tmp_path),
            "DIGEST_SECRET_KEY": "x" * 24,
            "DIGEST_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
        }
    )
    rt = Runtime.from_settings(settings, db=Database(f"sqlite:///{tmp_path / 'd.db'}"))
    waits: list[float] = []
    with pytest.raises(ConfigError, match="DIGEST_BROKER_URL: cannot reach the broker"):
        Broker(rt, attempts=3, sleep=waits.append).enqueue([[1, 2]])
    assert len(waits) == 2  # tried three times, waiting in between


def test_with_no_worker_open_rows_are_enqueued_again_then_the_run_gives_up(
    db: Database,
    redis_url: str,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    now = utcnow()
    with db.session() as session:
        for n in range(3):
            subscribers.add_subscriber(session, validate_spec({"email": f"r{n}@example.org"}), now)
    settings = Settings.from_env(
        {
            "DIGEST_VAR_DIR": str(tmp_path),
            "DIGEST_SECRET_KEY": "x" * 24,
            "DIGEST_BROKER_URL": redis_url,
            "DIGEST_BATCH_SIZE": "1",
        }
    )
    rt = Runtime.from_settings(settings, db=db)
    plan = plan_edition(rt)
    patience = Patience(stall=0.3, give_up=1.5, poll=0.1)
    with pytest.raises(DigestError, match="no worker delivered anything"):
        deliver_on_workers(rt, [plan.delivery_ids], patience=patience)
    queued = redis.Redis.from_url(redis_url).llen("digest")
    assert queued >= 2 * len(plan.delivery_ids)  # the sweeper enqueued the open rows again
    with db.session() as session:
        assert tracking.ledger_state(session, plan.row_ids).counts == {"pending": 3}
