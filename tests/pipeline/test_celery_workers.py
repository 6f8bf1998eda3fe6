"""The same edition on real Celery worker processes over Redis, against PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from digest.demo import DEMO_SUBSCRIBERS
from tests.conftest import SmtpSink
from tests.helpers import run_cli
from tests.workers import DIGEST, setup_database, start_worker, stop

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def celery_env(digest_env, pg_url, redis_url, smtp_server, monkeypatch) -> Iterator[dict[str, str]]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", pg_url)
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_server.url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update({k: v for k, v in os.environ.items() if k.startswith("DIGEST_")})
    env["DIGEST_BROKER_URL"] = redis_url
    yield env


def outcome_by_email(smtp: SmtpSink) -> dict[str, tuple[str, str, str]]:
    """What each reader got: subject, text and html (Date differs by design, so left out)."""
    found = {}
    for rcpt, msg in smtp.by_recipient().items():
        found[rcpt] = (
            str(msg["Subject"]),
            msg.get_body(("plain",)).get_content(),
            msg.get_body(("html",)).get_content(),
        )
    return found


def test_workers_send_the_same_edition_as_in_process(
    celery_env,
    smtp_server,
    capsys,
    monkeypatch,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    from aiosmtpd.controller import Controller

    from tests.conftest import _Handler, free_port

    # reference: the same set-up, run in-process on SQLite into a second SMTP server
    reference = SmtpSink("127.0.0.1", free_port())
    controller = Controller(_Handler(reference), hostname=reference.host, port=reference.port)
    controller.start()
    try:
        monkeypatch.setenv("DIGEST_DATABASE_URL", f"sqlite:///{tmp_path / 'reference.db'}")
        monkeypatch.setenv("DIGEST_SMTP_URL", reference.url)
        setup_database(capsys)
        assert run_cli(capsys, "run").code == 0
    finally:
        controller.stop()
    monkeypatch.setenv("DIGEST_DATABASE_URL", celery_env["DIGEST_DATABASE_URL"])
    monkeypatch.setenv("DIGEST_SMTP_URL", celery_env["DIGEST_SMTP_URL"])
    setup_database(capsys)

    worker = start_worker(celery_env, tmp_path / "worker.log")
    try:
        result = subprocess.run(
            [DIGEST, "run", "--json"], env=celery_env, capture_output=True, text=True, timeout=180
        )
        assert result.returncode == 0, result.stderr + (tmp_path / "worker.log").read_text()
        again = subprocess.run(
            [DIGEST, "run", "--json"], env=celery_env, capture_output=True, text=True, timeout=180
        )
    finally:
        stop(worker)
    log = (tmp_path / "worker.log").read_text()
    assert "digest.deliver_batch" in log and "succeeded" in log  # a worker really ran it
    assert len(smtp_server.envelopes) == len(DEMO_SUBSCRIBERS)
    assert outcome_by_email(smtp_server) == outcome_by_email(reference)
    assert '"sent now": 0' in again.stdout  # idempotent on workers too


def test_killed_worker_never_causes_a_duplicate(celery_env, capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Kill -9 the worker while it is sending: the message in flight becomes 'unknown',
    nothing already sent is sent again, and the rest is delivered by the next run."""
    import asyncio

    from aiosmtpd.controller import Controller

    from tests.conftest import free_port

    sink = SmtpSink("127.0.0.1", free_port())
    stalled: list[str] = []

    class SlowSecond:
        """Accepts the first message, stalls on the second (the worker dies meanwhile)."""

        async def handle_DATA(self, server, session, envelope):
            with sink.lock:
                count = len(sink.envelopes)
            if count == 1 and not stalled:
                stalled.append(envelope.rcpt_tos[0])
                await asyncio.sleep(30)
                return "451 4.4.2 timed out"  # never stored: the client is gone anyway
            with sink.lock:
                sink.envelopes.append(
                    (envelope.mail_from, envelope.rcpt_tos, envelope.original_content)
                )
            return "250 OK"

    controller = Controller(SlowSecond(), hostname=sink.host, port=sink.port)
    controller.start()
    try:
        monkeypatch.setenv("DIGEST_SMTP_URL", sink.url)
        celery_env["DIGEST_SMTP_URL"] = sink.url
        celery_env["DIGEST_LEASE_SECONDS"] = "3"
        celery_env["DIGEST_BATCH_SIZE"] = "100"
        setup_database(capsys)
        worker = start_worker(celery_env, tmp_path / "w1.log", concurrency=1)
        runner = subprocess.Popen(
            [DIGEST, "run", "--json"],
            env=celery_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while len(sink.envelopes) < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(sink.envelopes) == 1, (tmp_path / "w1.log").read_text()
        time.sleep(1.0)  # the second message is now in flight
        stop(worker, signal.SIGKILL)
        stop(runner, signal.SIGKILL)
        time.sleep(3.5)  # let the lease of the in-flight row expire

        worker = start_worker(celery_env, tmp_path / "w2.log")
        try:
            result = subprocess.run(
                [DIGEST, "run", "--json"],
                env=celery_env,
                capture_output=True,
                text=True,
                timeout=180,
            )
        finally:
            stop(worker)
    finally:
        controller.stop()
    assert result.returncode == 0, result.stderr
    import json

    summary = json.loads(result.stdout)["summary"]
    assert summary["unknown"] == 1
    assert summary["sent now"] == len(DEMO_SUBSCRIBERS) - 2
    assert summary["sent"] == len(DEMO_SUBSCRIBERS) - 1  # the first run's one too
    recipients = [rcpt[0] for _, rcpt, _ in sink.envelopes]
    assert len(recipients) == len(set(recipients)) == len(DEMO_SUBSCRIBERS) - 1
    assert stalled and stalled[0] not in recipients  # its fate is 'unknown': not resent


def test_a_worker_logs_json_lines_when_asked(celery_env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """DIGEST_LOG_FORMAT=json reaches the workers too: their log records are JSON objects,
    one per line (Celery's start-up banner is not a log record)."""
    import json

    log = tmp_path / "worker.log"
    worker = start_worker({**celery_env, "DIGEST_LOG_FORMAT": "json"}, log, concurrency=1)
    try:
        deadline = time.monotonic() + 60
        # the worker, then its pool process (its runtime built as it starts)
        while "runtime ready" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop(worker)
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    ready = [r for r in records if r["message"].endswith("ready.")]
    assert ready and ready[0]["level"] == "INFO" and ready[0]["logger"].startswith("celery")
    ours = [r for r in records if r["message"].startswith("runtime ready in")]
    assert ours and ours[0]["logger"] == "digest.pipeline.celery_app"
    assert not any(line.startswith("[20") for line in log.read_text().splitlines())  # no text


def test_the_last_rows_are_followed_by_id_without_counting_the_edition_again(
    celery_env, capsys, monkeypatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Once few rows are open the run reads only its open rows, by id, and no longer counts
    the editions' rows (a count that reads every status entry of rows sent since the last
    vacuum): an edition smaller than EXACT_BELOW is counted once."""
    from digest.db import tracking

    for key, value in celery_env.items():
        monkeypatch.setenv(key, value)
    setup_database(capsys)
    calls: list[str] = []
    count, following = tracking.open_in_editions, tracking.following
    monkeypatch.setattr(
        tracking, "open_in_editions", lambda *a, **k: calls.append("count") or count(*a, **k)
    )
    monkeypatch.setattr(
        tracking, "following", lambda *a, **k: calls.append("by id") or following(*a, **k)
    )
    worker = start_worker(celery_env, tmp_path / "worker.log")
    try:
        assert run_cli(capsys, "run").code == 0
    finally:
        stop(worker)
    assert calls[0] == "count" and calls.count("count") == 1
    assert calls.count("by id") >= 1
