"""The scheduler process: one tick sends what is due, and only that."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from digest.db import Database
from digest.db.models import PaperRow, SourceRow
from digest.demo import sample_papers_path
from digest.pipeline.runtime import Runtime
from digest.settings import Settings
from scheduler.__main__ import tick
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]


def test_tick_respects_local_delivery_hours(
    digest_env, sqlite_url, smtp_server, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_server.url)
    assert run_cli(capsys, "ingest", "jsonl", str(sample_papers_path())).code == 0
    # 06:30 UTC is 07:30 in Berlin and 01:30 in New York
    run_cli(
        capsys,
        "subscribers",
        "add",
        "berlin@example.org",
        "--topic",
        "speech",
        "--hour",
        "7",
        "--tz",
        "Europe/Berlin",
    )
    run_cli(
        capsys,
        "subscribers",
        "add",
        "newyork@example.org",
        "--topic",
        "speech",
        "--hour",
        "7",
        "--tz",
        "America/New_York",
    )
    fixed = datetime.now(UTC).replace(hour=6, minute=30)
    if fixed.month in (4, 5, 6, 7, 8, 9):  # keep the test's arithmetic in winter time
        fixed = fixed.replace(month=1, day=15)
    runtime = Runtime.from_settings(Settings.from_env(), clock=lambda: fixed)
    tick(runtime)
    assert [rcpt for _, rcpt, _ in smtp_server.envelopes] == [["berlin@example.org"]]
    tick(runtime)  # a doubled tick sends nothing more
    assert len(smtp_server.envelopes) == 1


def test_scheduler_once_as_a_process(digest_env, sqlite_url, tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", sqlite_url)
    assert run_cli(capsys, "ingest", "jsonl", str(sample_papers_path())).code == 0
    run_cli(capsys, "subscribers", "add", "early@example.org", "--topic", "speech", "--hour", "0")
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, "-m", "scheduler", "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "'sent': 1" in result.stderr
    assert len(list((tmp_path / "var" / "outbox").glob("*.eml"))) == 1


def test_scheduler_with_a_bad_setting(digest_env) -> None:  # type: ignore[no-untyped-def]
    env = dict(os.environ, DIGEST_DATABASE_URL="mysql://nope")
    result = subprocess.run(
        [sys.executable, "-m", "scheduler", "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "DIGEST_DATABASE_URL" in result.stderr and "Traceback" not in result.stderr


def test_a_tick_sends_no_mail_with_http_links(
    digest_env, sqlite_url, smtp_server, monkeypatch, capsys, caplog
) -> None:  # type: ignore[no-untyped-def]
    """The scheduler refuses, like `digest run`, to mail links whose one-click unsubscribe
    mailbox providers would ignore (http)."""
    monkeypatch.setenv("DIGEST_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_server.url)
    monkeypatch.setenv("DIGEST_BASE_URL", "http://digest.example.org")
    assert run_cli(capsys, "ingest", "jsonl", str(sample_papers_path())).code == 0
    assert run_cli(capsys, "subscribers", "add", "a@example.org", "--topic", "speech").code == 0
    settings = Settings.from_env()
    tick(Runtime.from_settings(settings, db=Database(settings.database_url)))
    assert not smtp_server.envelopes
    assert "is not https" in caplog.text


def test_a_tick_ingests_a_source_whose_slot_passed_before_it_sends(
    digest_env, sqlite_url, smtp_server, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    """Editions wait for the day's ingest: the reader's hour and the source's slot are the
    same minute; the tick reads the source first, so the digest holds its papers."""
    monkeypatch.setenv("DIGEST_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_server.url)
    assert run_cli(capsys, "db", "upgrade").code == 0
    path = str(sample_papers_path())
    added = run_cli(capsys, "sources", "add", "papers", "file", "--path", path)
    assert added.code == 0, added.err
    assert run_cli(capsys, "sources", "add", "papers", "file", "--path", path,
                   "-o", "schedule=30 6 * * * UTC").code == 0  # fmt: skip
    args = ["berlin@example.org", "--topic", "speech recognition", "--tz", "Europe/Berlin"]
    assert run_cli(capsys, "subscribers", "add", *args, "--hour", "7").code == 0
    fixed = datetime(2026, 1, 15, 6, 30, tzinfo=UTC)  # 07:30 in Berlin, the source's slot
    runtime = Runtime.from_settings(Settings.from_env(), clock=lambda: fixed)

    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(PaperRow)) == 0  # not read yet
    tick(runtime, ingest_first=True)
    assert [rcpt for _, rcpt, _ in smtp_server.envelopes] == [["berlin@example.org"]]
    with runtime.db.session() as session:
        assert session.scalar(select(SourceRow.last_run_at)) == fixed
    tick(runtime, ingest_first=True)  # read already, sent already: nothing more
    assert len(smtp_server.envelopes) == 1
    runtime.db.dispose()
