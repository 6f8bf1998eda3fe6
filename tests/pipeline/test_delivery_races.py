"""Races and flaky relays, each checked by what the SMTP server received per reader against
the ledger: two `digest run` at once, readers unsubscribing while workers send the
edition, a relay that answers 451 to a fifth of the attempts and drops 5 % of the
connections. Real databases, real `digest` and Celery processes, real aiosmtpd servers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from digest import subscriptions
from digest.db import Database, subscribers
from digest.db.models import DeliveryRow, SubscriberRow
from digest.db.papers import upsert_papers
from digest.demo import sample_papers_path
from digest.ingest.parse_jsonl import parse_jsonl, read_lines
from digest.pipeline.runtime import utcnow
from digest.subscriber_spec import validate_spec
from tests.conftest import RedisServer, flushed_redis, free_port
from tests.workers import DIGEST, start_worker, stop

# (No cold-start reader: the sample papers have no upvotes, and a reader with no interests
# is mailed only trending papers, so they would rightly get nothing.)
TOPICS = ["language models", "image generation", "reinforcement learning", "speech recognition"]


class Relay:
    """An aiosmtpd relay that notes when each recipient's envelope arrived and what it
    accepted; ``fault(address, attempt)`` may answer an attempt with a reply or drop it."""

    def __init__(self, delay: float = 0.0, fault=None):  # type: ignore[no-untyped-def]
        self.port = free_port()
        self.accepted: list[str] = []
        self.rcpt_at: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        relay = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
                with relay.lock:
                    relay.rcpt_at.setdefault(address, []).append(time.time())
                    attempt = len(relay.rcpt_at[address])
                verdict = fault(address, attempt, "RCPT") if fault else None
                if verdict == "drop":
                    server.transport.close()
                    return "250 OK"  # never reaches the client
                if verdict:
                    return verdict
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
                if delay:
                    await asyncio.sleep(delay)
                address = envelope.rcpt_tos[0]
                verdict = fault(address, len(relay.rcpt_at[address]), "DATA") if fault else None
                if verdict == "drop":  # lost after the message, before the reply
                    server.transport.close()
                    return "250 OK"
                if verdict:
                    return verdict
                with relay.lock:
                    relay.accepted.append(address)
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> Relay:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(self.accepted)


def add_readers(db: Database, count: int, *, hour: int | None = None) -> list[str]:
    """Readers with a few different interests, and the sample papers first seen now:
    everyone has something to receive. ``hour=0`` makes them due whenever a run
    respects delivery hours (their zone is UTC)."""
    now = utcnow()
    emails = [f"reader{n:03d}@example.org" for n in range(count)]
    with db.session() as session:
        upsert_papers(
            session, parse_jsonl(read_lines(sample_papers_path()), source="sample").records, now
        )
        for n, email in enumerate(emails):
            topic = TOPICS[n % len(TOPICS)]
            data: dict[str, object] = {"email": email, "topics": [topic] if topic else []}
            if hour is not None:
                data["hour"] = hour
            subscribers.add_subscriber(session, validate_spec(data), now)
    return emails


def env_for(db_url: str, tmp_path: Path, smtp_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(
        DIGEST_DATABASE_URL=db_url,
        DIGEST_VAR_DIR=str(tmp_path / "var"),
        DIGEST_SECRET_KEY="race-test-secret-0123456",
        DIGEST_BASE_URL="https://digest.test",
        DIGEST_FROM="digest <digest@digest.test>",
        DIGEST_SMTP_URL=smtp_url,
        DIGEST_BATCH_SIZE="10",
    )
    env.update(extra)
    return env


def digest_run(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [DIGEST, "run", "--json", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def report_of(proc: subprocess.Popen[bytes], timeout: float = 240) -> tuple[int, dict]:  # type: ignore[type-arg]
    out, err = proc.communicate(timeout=timeout)
    assert b"Traceback" not in err, err.decode()
    return proc.returncode, json.loads(out)


def ledger_by_email(db: Database) -> dict[str, str]:
    with db.session() as session:
        rows = session.execute(
            select(SubscriberRow.email, DeliveryRow.status).join(
                DeliveryRow, DeliveryRow.subscriber_id == SubscriberRow.id
            )
        )
        return {email: status for email, status in rows}


def attempts_by_email(db: Database) -> dict[str, int]:
    with db.session() as session:
        rows = session.execute(
            select(SubscriberRow.email, DeliveryRow.attempts).join(
                DeliveryRow, DeliveryRow.subscriber_id == SubscriberRow.id
            )
        )
        return {email: attempts for email, attempts in rows}


@pytest.mark.parametrize("args", [[], ["--due-only"]], ids=["run", "due-only"])
def test_two_runs_at_once_send_each_reader_once(
    db: Database, db_url: str, tmp_path: Path, args: list[str]
) -> None:
    """Two `digest run` (or `digest run --due-only`, as two cron lines without flock or a
    cron line beside the scheduler) from two shells at once, in-process: each reader is
    mailed once and each row was claimed once (the losing run claimed nothing again)."""
    emails = add_readers(db, 60, hour=0)
    with Relay(delay=0.01) as relay:
        env = env_for(db_url, tmp_path, relay.url)
        first, second = digest_run(env, *args), digest_run(env, *args)
        reports = [report_of(first), report_of(second)]
    assert relay.counts() == Counter({e: 1 for e in emails})  # everyone, once
    assert set(ledger_by_email(db).values()) == {"sent"}
    assert attempts_by_email(db) == {e: 1 for e in emails}
    assert sum(r["summary"]["sent now"] for _, r in reports) == len(emails)
    for _code, report in reports:  # each summary accounts for every row of the edition
        rows = {k: v for k, v in report["summary"].items() if k != "sent now"}
        assert sum(rows.values()) == len(emails), report["summary"]
        assert not report["errors"]


def test_a_flaky_relay_delivers_everyone_exactly_once(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    """A fifth of the readers get 451 on their first attempt (at RCPT or after DATA), one
    in twenty has the connection dropped (before the claim or after the message), a few
    fail twice; `digest run --wait` ends with everyone mailed once and exit 0."""
    emails = add_readers(db, 40)
    index = {e: n for n, e in enumerate(emails)}

    def fault(address: str, attempt: int, stage: str) -> str | None:
        n = index[address]
        if attempt == 1 and n % 5 == 0:
            return "451 4.3.0 try again later" if (stage == "RCPT") == (n % 10 == 0) else None
        if attempt <= 2 and n % 20 == 3:
            return "drop" if (stage == "RCPT") == (attempt == 1) else None
        if attempt == 2 and n % 20 == 5 and stage == "DATA":
            return "451 4.7.1 greylisted again"
        if attempt == 1 and n % 20 == 5 and stage == "RCPT":
            return "450 4.2.0 mailbox busy"
        return None

    with Relay(fault=fault) as relay:
        env = env_for(
            db_url,
            tmp_path,
            relay.url,
            DIGEST_RETRY_BACKOFF_SECONDS="1",
            DIGEST_MAX_ATTEMPTS="5",
        )
        code, report = report_of(digest_run(env, "--wait"))
    assert relay.counts() == Counter({e: 1 for e in emails})
    assert code == 0 and report["summary"]["sent"] == len(emails), report["summary"]
    assert set(ledger_by_email(db).values()) == {"sent"}
    retried = [e for e in emails if len(relay.rcpt_at[e]) > 1]
    assert len(retried) >= len(emails) // 5 + 2  # the faults really happened


@pytest.mark.redis
@pytest.mark.postgres
def test_readers_who_unsubscribe_during_a_worker_edition_are_not_mailed_after(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    """Thirty readers unsubscribe (the site's own statement) one after another while two
    worker processes send the edition; a message reached a reader who left only if its
    envelope came before their unsubscribe was committed (the claim re-checks the reader
    in the same statement, right before DATA)."""
    db = Database(pg_url)
    db.upgrade()
    emails = add_readers(db, 150)
    with Relay(delay=0.03) as relay:
        env = env_for(
            pg_url, tmp_path, relay.url, DIGEST_BROKER_URL=redis_url, DIGEST_BATCH_SIZE="5"
        )
        worker = start_worker(env, tmp_path / "worker.log", concurrency=2)
        try:
            run = digest_run(env)
            deadline = time.monotonic() + 120
            while not relay.counts() and time.monotonic() < deadline:
                time.sleep(0.05)
            leaving = [e for e in reversed(emails) if e not in relay.counts()][:30]
            committed: dict[str, float] = {}
            for email in leaving:
                with db.session() as session:
                    row = subscribers.get_subscriber(session, email)
                    subscriptions.unsubscribe(session, row, utcnow())
                committed[email] = time.time()  # after the commit returned
                time.sleep(0.05)
            code, report = report_of(run)
        finally:
            stop(worker)
    counts = relay.counts()
    assert all(counts[e] == 1 for e in emails if e not in committed)
    states = ledger_by_email(db)
    mailed_after = [e for e in committed if counts[e] and min(relay.rcpt_at[e]) > committed[e]]
    assert mailed_after == []
    assert all(counts[e] <= 1 for e in committed)
    assert all(states[e] == ("sent" if counts[e] else "skipped") for e in committed)
    skipped = [e for e in committed if states[e] == "skipped"]
    assert len(skipped) >= 10, "the edition ended before most unsubscribes: test too fast"
    assert code == 0 and report["summary"]["skipped"] == len(skipped)
    db.dispose()


@pytest.fixture
def redis_db9_url(redis_server: RedisServer) -> Iterator[str]:
    """Redis database 9 (others' tests use 10, 11 and 13), flushed before and after."""
    yield from flushed_redis(redis_server, 9)


def queued_ids(client) -> Counter[int]:  # type: ignore[no-untyped-def]
    """The delivery ids of the batches waiting in the `digest` queue (Celery's message
    protocol 2 as kombu's Redis transport stores it: a JSON envelope around the body
    ``[args, kwargs, embed]``, the body base64-encoded)."""
    found: Counter[int] = Counter()
    for raw in client.lrange("digest", 0, -1):
        message = json.loads(raw)
        body = message["body"]
        if message["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args, _kwargs, _embed = json.loads(body)
        found.update(args[0])
    return found


@pytest.mark.redis
@pytest.mark.postgres
def test_two_due_only_runs_on_workers_mail_each_reader_once(
    pg_url: str, redis_db9_url: str, tmp_path: Path
) -> None:
    """Two `digest run --due-only` at once with a broker, while every worker is busy (none
    running yet): both plan, rank and enqueue; then a worker starts. Each reader is mailed
    once, each row claimed once, the queue ends empty, and each row was enqueued once."""
    import redis

    db = Database(pg_url)
    db.upgrade()
    emails = add_readers(db, 60, hour=0)
    client = redis.Redis.from_url(redis_db9_url)
    worker = None
    with Relay(delay=0.01) as relay:
        env = env_for(
            pg_url, tmp_path, relay.url,
            DIGEST_BROKER_URL=redis_db9_url, DIGEST_STALL_SECONDS="600",  # no sweeper here
        )  # fmt: skip
        runs = [digest_run(env, "--due-only"), digest_run(env, "--due-only")]
        try:
            deadline = time.monotonic() + 180
            ids: set[int] = set()
            queued: Counter[int] = Counter()
            stable_since = time.monotonic()
            while time.monotonic() < deadline:
                with db.session() as session:
                    ids = set(session.scalars(select(DeliveryRow.id)))
                now_queued = queued_ids(client)
                if now_queued != queued:
                    queued, stable_since = now_queued, time.monotonic()
                covered = len(ids) == len(emails) and ids <= set(queued)
                if covered and time.monotonic() - stable_since > 5:
                    break  # both runs are done enqueueing: they only follow the ledger now
                assert all(run.poll() is None for run in runs), "a run ended without workers"
                time.sleep(0.2)
            else:
                pytest.fail(f"the runs did not enqueue every row: {len(set(queued))}/{len(ids)}")
            worker = start_worker(env, tmp_path / "worker.log", concurrency=2)
            reports = [report_of(run) for run in runs]
        finally:
            if worker is not None:
                stop(worker)
            for run in runs:
                stop(run)
    assert relay.counts() == Counter({e: 1 for e in emails})  # everyone, once
    assert set(ledger_by_email(db).values()) == {"sent"}
    assert attempts_by_email(db) == {e: 1 for e in emails}  # each row claimed once
    assert all(code == 0 and not report["errors"] for code, report in reports)
    assert client.llen("digest") == 0
    db.dispose()
    # One run enqueues (it holds the enqueue lock); the other follows the ledger.
    assert queued == Counter({i: 1 for i in ids})
