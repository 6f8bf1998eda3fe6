"""What every CLI command shares: settings, the database, consoles, JSON output."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from digest.db import Database, engine
from digest.settings import Settings

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def load_settings() -> Settings:
    return Settings.from_env()


def open_database(settings: Settings, *, auto_upgrade: bool | None = None) -> Database:
    """The database of ``settings``, its embedded SQLite schema upgraded automatically."""
    return engine.open_database(settings.database_url, auto_upgrade=auto_upgrade)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def is_terminal() -> bool:
    return sys.stdout.isatty()
