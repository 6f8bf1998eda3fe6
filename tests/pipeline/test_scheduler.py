"""The scheduler process: one tick sends what is due, and only that."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from digest.db import Database
from digest.demo import sample_papers_path
from digest.ingest.parse_jsonl import read_lines
from digest.ingest.service import ingest_lines
from digest.pipeline.runtime import Runtime
from digest.settings import Settings
from scheduler.__main__ import tick
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
# A fixed winter morning: 07:30 in Berlin (UTC+1), 01:30 in New York (UTC-5).
FIXED = datetime(2026, 1, 15, 6, 30, tzinfo=UTC)


def test_tick_respects_local_delivery_hours(
    digest_env, sqlite_url, smtp_server, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_server.url)
    assert run_cli(capsys, "db", "upgrade").code == 0
    db = Database(sqlite_url)
    with db.session() as session:  # first seen on the fixed day, like everything else here
        lines = list(read_lines(sample_papers_path()))
        assert ingest_lines(session, lines, "jsonl:papers.jsonl", FIXED).new == len(lines)
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
    runtime = Runtime.from_settings(Settings.from_env(), db=db, clock=lambda: FIXED)
    tick(runtime)
    assert [rcpt for _, rcpt, _ in smtp_server.envelopes] == [["berlin@example.org"]]
    tick(runtime)  # a doubled tick sends nothing more
    assert len(smtp_server.envelopes) == 1
    # New York's 07:00 is 12:00 UTC: its reader comes then, Berlin's does not come again
    noon = FIXED.replace(hour=12, minute=0)
    tick(Runtime.from_settings(Settings.from_env(), db=db, clock=lambda: noon))
    assert [rcpt for _, rcpt, _ in smtp_server.envelopes] == [
        ["berlin@example.org"],
        ["newyork@example.org"],
    ]
    db.dispose()


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
