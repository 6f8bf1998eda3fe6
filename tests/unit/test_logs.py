"""DIGEST_LOG_FORMAT=json: one JSON object per line with time, level, logger, message and
the call's extras; the scheduler process logs that way."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from digest.errors import ConfigError
from digest.logs import JsonFormatter, log_format


def record(**extra: object) -> logging.LogRecord:
    logger = logging.getLogger("digest.test")
    return logger.makeRecord(
        "digest.test", logging.WARNING, __file__, 1, "sent %d of %d", (3, 4), None, extra=extra
    )


def test_a_record_is_one_json_line_with_its_extras() -> None:
    line = JsonFormatter().format(record(edition="daily:2026-12-05", sent=3))
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "WARNING" and data["logger"] == "digest.test"
    assert data["message"] == "sent 3 of 4"
    assert data["time"].endswith("+00:00")
    assert (data["edition"], data["sent"]) == ("daily:2026-12-05", 3)
    assert "args" not in data and "msg" not in data and "levelno" not in data


def test_an_exception_is_kept_in_the_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        item = record()
        item.exc_info = sys.exc_info()
    data = json.loads(JsonFormatter().format(item))
    assert data["exc"].startswith("Traceback") and "ValueError: boom" in data["exc"]


def test_the_format_setting_is_checked() -> None:
    assert log_format({}) == "text" and log_format({"DIGEST_LOG_FORMAT": "JSON"}) == "json"
    with pytest.raises(ConfigError, match="DIGEST_LOG_FORMAT: expected text or json"):
        log_format({"DIGEST_LOG_FORMAT": "xml"})


def test_the_scheduler_logs_json_lines(digest_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {**digest_env, "DIGEST_LOG_FORMAT": "json", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "--once"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert any(
        item["logger"] == "digest.scheduler" and item["message"].startswith("edition tick")
        for item in lines
    ), done.stderr
    assert all({"time", "level", "logger", "message"} <= set(item) for item in lines)
    bad = subprocess.run(
        [sys.executable, "-m", "scheduler", "--once"],
        env={**env, "DIGEST_LOG_FORMAT": "xml"}, cwd=tmp_path, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: DIGEST_LOG_FORMAT: expected text or json, got 'xml'"
