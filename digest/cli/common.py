"""What the CLI commands that use the database share: settings and the database (and, re-
exported from ``output``, the consoles and JSON output)."""

from __future__ import annotations

from digest.cli.output import console, err_console, is_terminal, print_columns, print_json
from digest.db import Database, engine
from digest.settings import Settings

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
    return engine.open_database(settings.database_url, auto_upgrade=auto_upgrade)
