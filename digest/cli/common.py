"""What the CLI commands that use the database share: settings and the database (and, re-
exported from ``output``, the consoles and JSON output)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest.cli.output import console, err_console, is_terminal, print_columns, print_json
from digest.settings import Settings

if TYPE_CHECKING:
    from digest.db.engine import Database

__all__ = [
    "console",
    "err_console",
    "is_terminal",
    "load_settings",
    "open_database",
    "print_columns",
    "print_json",
]


def load_settings() -> Settings:
    return Settings.from_env()


def open_database(settings: Settings, *, auto_upgrade: bool | None = None) -> Database:
    """The database of ``settings``, its embedded SQLite schema upgraded automatically."""
    from digest.db import engine  # lazy: SQLAlchemy, which `subscribers list` can skip

    return engine.open_database(settings.database_url, auto_upgrade=auto_upgrade)
