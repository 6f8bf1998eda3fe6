"""Helpers for tests with real Celery worker processes: set up a database the way an
operator would (CLI), start and stop workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from digest.db.engine import Database
from digest.db.models import SubscriberRow
from digest.demo import DEMO_SUBSCRIBERS, sample_papers_path
from digest.settings import Settings
from tests.helpers import run_cli

CELERY = str(Path(sys.executable).with_name("celery"))
DIGEST = str(Path(sys.executable).with_name("digest"))


def setup_database(capsys) -> None:  # type: ignore[no-untyped-def]
    assert run_cli(capsys, "db", "upgrade").code == 0
    assert run_cli(capsys, "ingest", "jsonl", str(sample_papers_path())).code == 0
    for data in DEMO_SUBSCRIBERS:
        args = [str(data["email"]), "--name", str(data["name"]), "--tz", str(data["timezone"])]
        for topic in data.get("topics", []):  # type: ignore[union-attr]
            args += ["--topic", topic]
        for word in data.get("exclude", []):  # type: ignore[union-attr]
            args += ["--exclude", word]
        assert run_cli(capsys, "subscribers", "add", *args).code == 0
    # Link ids are random per database; the same ids in both databases make the emails
    # of two set-ups comparable byte for byte.
    db = Database(Settings.from_env().database_url)
    with db.session() as session:
        for row in session.scalars(select(SubscriberRow)):
            row.link_id = f"link-of-{row.email}"
    db.dispose()


def start_worker(env: dict[str, str], log: Path, concurrency: int = 2) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            CELERY,
            "-A",
            "digest.pipeline",
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            "-Q",
            "digest",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
