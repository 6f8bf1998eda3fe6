"""`digest db ...`: schema migrations."""

from __future__ import annotations

import typer

from digest.cli.common import console, load_settings
from digest.db import Database

app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Create or migrate the tables to the latest schema (safe to run again)."""
    db = Database(load_settings().database_url)
    db.upgrade()
    console.print(f"database {db.display_url} is at revision {db.current_revision()}")


@app.command()
def current() -> None:
    """Show the schema revision of the database and the latest one."""
    db = Database(load_settings().database_url)
    db.check_connection()
    current_rev, head = db.current_revision(), db.head_revision()
    state = "up to date" if current_rev == head else "needs `digest db upgrade`"
    console.print(f"{db.display_url}: revision {current_rev or 'none'} (latest {head}): {state}")
    if current_rev != head:
        raise typer.Exit(1)
