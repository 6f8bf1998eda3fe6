"""`digest db ...`: schema migrations and upkeep."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from digest.cli.common import console, load_settings, open_database
from digest.cli.lazy import command_app
from digest.clock import utcnow
from digest.db import Database, ledger

app = command_app(help="Manage the database schema and its upkeep.", no_args_is_help=True)


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


@app.command("prune-ledger")
def prune_ledger(
    days: Annotated[
        int | None,
        typer.Option(
            "--days",
            min=1,
            max=36500,
            help="Keep settled rows of the last N days (default: DIGEST_LEDGER_RETENTION_DAYS).",
        ),
    ] = None,
) -> None:
    """Delete settled delivery rows (sent, skipped, failed, unknown) older than the retention."""
    settings = load_settings()
    keep = days if days is not None else settings.ledger_retention_days
    if keep == 0:
        console.print("DIGEST_LEDGER_RETENTION_DAYS is 0: the ledger is kept for ever")
        return
    db = open_database(settings)
    with db.session() as session:
        deleted = ledger.prune_settled(session, utcnow() - timedelta(days=keep))
    console.print(f"deleted {deleted} settled delivery row(s) older than {keep} days")


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
    # Lazy: numpy (and the ranker's text helpers) only for this command, not `db upgrade`.
    from digest.embeddings import prune_text_vectors

    db = open_database(load_settings())
    with db.session() as session:
        deleted = prune_text_vectors(session, grace=timedelta(days=grace_days))
    console.print(f"deleted {deleted} topic vector(s) that no subscriber needs")
