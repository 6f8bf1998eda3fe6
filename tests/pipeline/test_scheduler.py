"""The scheduler process: one tick sends what is due, and only that."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from digest.db import Database, subscribers
from digest.db.models import DeliveryRow, PaperRow, SourceRow
from digest.db.papers import upsert_papers
from digest.demo import sample_papers_path
from digest.ingest.lines import ingest_lines
from digest.ingest.parse_jsonl import parse_jsonl, read_lines
from digest.pipeline.runtime import Runtime
from digest.schedule import slot_start
from digest.settings import Settings
from digest.subscriber_spec import validate_spec
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

    # The next day nothing new is announced (a weekend): the source is read again at its
    # slot and brings nothing; the reader gets no email, and the ledger says why.
    next_day = Runtime.from_settings(Settings.from_env(), clock=lambda: fixed + timedelta(days=1))
    tick(next_day, ingest_first=True)
    assert len(smtp_server.envelopes) == 1  # no empty digest
    with next_day.db.session() as session:
        rows = session.execute(select(DeliveryRow.status, DeliveryRow.last_error)).all()
    assert sorted(rows) == [("sent", None), ("skipped", "no new papers match")]
    next_day.db.dispose()


# Readers at hours 6, 7 and 8 in four zones, all before their hour on 14 January when the
# ticks start (00:00 UTC): their hours fall before, during and after the outage.
OUTAGE_ZONES = ["Asia/Kolkata", "Europe/Moscow", "Europe/Berlin", "Europe/London"]
OUTAGE_TOPICS = ["language models", "image generation", "reinforcement learning"]


class FrozenClock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_a_scheduler_down_for_three_hours_sends_each_missed_reader_one_digest(
    digest_env, sqlite_url, smtp_server, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Ticks every 5 minutes from 00:00 UTC; the process stops after the 04:50 tick and a
    new one starts at 07:52 (a tick at once, the catch-up, then every 5 minutes). Readers
    whose hour passed during the outage get their digest at the catch-up, once; those
    before it got theirs on time; those after it at their hour, not at the catch-up."""
    monkeypatch.setenv("DIGEST_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_server.url)
    start = datetime(2026, 1, 14, 0, 0, tzinfo=UTC)  # winter: Berlin +1, London +0
    db = Database(sqlite_url)
    db.upgrade()
    slots: dict[str, datetime] = {}  # reader -> the UTC instant their hour starts
    with db.session() as session:
        parsed = parse_jsonl(read_lines(sample_papers_path()), source="sample")
        upsert_papers(session, parsed.records, start)
        readers = [(zone, hour) for zone in OUTAGE_ZONES for hour in (6, 7, 8)]
        readers.append(("Europe/London", 10))
        for n, (zone, hour) in enumerate(readers):
            email = f"{zone.split('/')[1].lower()}-{hour}@example.org"
            topic = OUTAGE_TOPICS[n % len(OUTAGE_TOPICS)]
            spec = {"email": email, "topics": [topic], "timezone": zone, "hour": hour}
            subscribers.add_subscriber(session, validate_spec(spec), start - timedelta(days=1))
            slots[email] = slot_start(date(2026, 1, 14), hour, ZoneInfo(zone)).astimezone(UTC)
    db.dispose()

    step = timedelta(minutes=5)
    before = [start + n * step for n in range(59)]  # 00:00 ... 04:50
    restart = datetime(2026, 1, 14, 7, 52, tzinfo=UTC)  # three hours and two minutes later
    after = [restart + n * step for n in range(34)]  # 07:52 (catch-up) ... 10:37
    arrived: dict[str, list[datetime]] = {}

    def run(ticks: list[datetime]) -> None:
        clock = FrozenClock(ticks[0])
        runtime = Runtime.from_settings(Settings.from_env(), clock=clock)  # one process
        for now in ticks:
            clock.now = now
            seen = len(smtp_server.envelopes)
            tick(runtime)
            for _, rcpts, _ in smtp_server.envelopes[seen:]:
                for rcpt in rcpts:
                    arrived.setdefault(rcpt, []).append(now)
        runtime.db.dispose()

    run(before)
    missed = {e for e, at in slots.items() if before[-1] < at <= restart}
    assert not missed & set(arrived)  # nothing was sent to them before the outage
    run(after)

    ticks = before + after
    expected = {email: [min(t for t in ticks if t >= at)] for email, at in slots.items()}
    assert arrived == expected  # each reader once, at the first tick at or after their hour
    assert missed == {
        "moscow-8@example.org",  # 05:00 UTC
        "berlin-6@example.org", "berlin-7@example.org", "berlin-8@example.org",
        "london-6@example.org", "london-7@example.org",
    }  # fmt: skip
    assert all(arrived[e] == [restart] for e in missed)  # caught up at once, once
    assert arrived["london-8@example.org"] == [datetime(2026, 1, 14, 8, 2, tzinfo=UTC)]
    assert arrived["london-10@example.org"] == [datetime(2026, 1, 14, 10, 2, tzinfo=UTC)]
    assert arrived["kolkata-6@example.org"] == [datetime(2026, 1, 14, 0, 30, tzinfo=UTC)]
    db = Database(sqlite_url)
    with db.session() as session:
        states = list(session.scalars(select(DeliveryRow.status)))
    assert sorted(states) == ["sent"] * len(slots)  # one ledger row per reader, all sent
    db.dispose()
