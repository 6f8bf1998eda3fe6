"""Logging for the long-running processes (scheduler, bounce listener, web): plain text,
or one JSON object per line with ``DIGEST_LOG_FORMAT=json`` for a log collector.

A JSON line holds ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, the
``extra={...}`` fields of the call, and ``exc`` with the traceback when there is one.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

from digest.errors import ConfigError

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The attributes every LogRecord has: anything else came from ``extra=``.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in data:
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            data["stack"] = record.stack_info
        return json.dumps(data, ensure_ascii=False, default=str)


def log_format(env: dict[str, str] | None = None) -> str:
    """``text`` (default) or ``json``, from ``DIGEST_LOG_FORMAT``."""
    value = (os.environ if env is None else env).get("DIGEST_LOG_FORMAT", "").strip().lower()
    if value in ("", "text"):
        return "text"
    if value == "json":
        return "json"
    raise ConfigError(f"DIGEST_LOG_FORMAT: expected text or json, got {value!r}")


def formatter(kind: str) -> logging.Formatter:
    return JsonFormatter() if kind == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(level: int = logging.INFO) -> None:
    """Send every logger's records to stderr in the format ``DIGEST_LOG_FORMAT`` asks for
    (a no-op, as ``logging.basicConfig``, when the root logger already has handlers: a
    host such as pytest keeps its own). A wrong value is a ConfigError even then."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format()))
    logging.basicConfig(level=level, handlers=[handler])


def uvicorn_log_config() -> dict[str, object]:
    """uvicorn's loggers through the same formatter (``digest web``)."""
    kind = log_format()
    fmt = {"()": f"{__name__}.JsonFormatter"} if kind == "json" else {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": fmt},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "": {"handlers": ["default"], "level": "INFO"},
            "uvicorn": {"handlers": [], "level": "INFO", "propagate": True},
            "uvicorn.error": {"handlers": [], "level": "INFO", "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "INFO", "propagate": True},
        },
    }
