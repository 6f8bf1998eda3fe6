"""`digest db ...`: schema migrations and upkeep."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from digest.cli.common import console, load_settings, open_database
from digest.db import Database

app = typer.Typer(help="Manage the database schema and its upkeep.", no_args_is_help=True)


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


@app.command("prune-vectors")
def prune_vectors(
    grace_days: Annotated[
        float,
        typer.Option(
            "--grace-days", min=0, max=36500, help="Keep what was stored in the last N days."
        ),
    ] = 1.0,
) -> None:
    """Delete stored topic vectors that no subscriber's topics need any more."""
    from digest.rank.vectors import prune_text_vectors

    db = open_database(load_settings())
    with db.session() as session:
        deleted = prune_text_vectors(session, grace=timedelta(days=grace_days))
    console.print(f"deleted {deleted} topic vector(s) that no subscriber needs")
