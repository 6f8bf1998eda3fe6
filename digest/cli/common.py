"""What every CLI command shares: settings, the database, consoles, JSON output."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from digest.db import Database
from digest.settings import Settings

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def load_settings() -> Settings:
    return Settings.from_env()


def open_database(settings: Settings, *, auto_upgrade: bool | None = None) -> Database:
    """Connect, and bring an embedded SQLite schema up to date automatically.

    A PostgreSQL schema is only upgraded by `digest db upgrade` (or `digest demo`): an
    operator decides when production migrations run.
    """
    db = Database(settings.database_url)
    if auto_upgrade is None:
        auto_upgrade = not db.is_postgres
    db.ensure_schema(auto_upgrade=auto_upgrade)
    return db


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def is_terminal() -> bool:
    return sys.stdout.isatty()
