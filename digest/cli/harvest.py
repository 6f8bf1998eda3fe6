"""`digest ingest [SOURCE ...]`: run the configured sources with progress and a summary.

Imported by :mod:`digest.cli.ingest` only when that command runs: it brings the HTTP
client, the feed parsers and the progress display, which `digest ingest jsonl` needs not.
"""

from __future__ import annotations

import os
from datetime import date

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from digest.cli.common import (
    console,
    err_console,
    is_terminal,
    load_settings,
    open_database,
    print_json,
)
from digest.cli.ingest import embed_new
from digest.clock import utcnow
from digest.db.engine import Database
from digest.errors import InputError
from digest.ingest.http import HttpClient, user_agent
from digest.ingest.service import (
    SourceReport,
    configured_sources,
    run_sources,
    select_sources,
    sync_sources,
)
from digest.settings import Settings


def prepare(settings: Settings) -> Database:
    """Open the database and bring the config file's sources into it."""
    db = open_database(settings)
    with db.session() as session:
        prune = bool(os.environ.get("DIGEST_CONFIG"))  # no file: keep what one set up before
        sync_sources(session, settings.sources, utcnow(), prune=prune)
    return db


def run(sources: list[str], since_day: date | None, *, as_json: bool) -> None:
    """Run the named sources (every enabled one when none is named)."""
    settings = load_settings()
    db = prepare(settings)
    with db.session() as session:
        chosen = select_sources(configured_sources(session), sources)
    if not chosen:
        raise InputError(
            "no sources configured: add one with `digest sources add` or a sources.NAME "
            "table in the DIGEST_CONFIG file"
        )
    with HttpClient(user_agent(settings.base_url)) as client:
        reports = _run_with_progress(db, chosen, client, since_day, quiet=as_json)
    embedded = embed_new(db, settings, quiet=as_json)
    if as_json:
        print_json({"sources": [r.to_json() for r in reports], "embedded": embedded})
    else:
        _print_reports(reports)
    if any(r.failed for r in reports):
        raise typer.Exit(1)


def _run_with_progress(db, chosen, client, since, *, quiet: bool) -> list[SourceReport]:
    now = utcnow()
    if quiet or not is_terminal():
        return run_sources(db, chosen, client, now=now, since=since)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console.rich,
        transient=True,
    ) as bar:
        task = bar.add_task("ingest", total=None)

        def show(name: str, what: str) -> None:
            bar.update(task, description=f"{name}: {what}")

        return run_sources(db, chosen, client, now=now, since=since, progress=show)


def _print_reports(reports: list[SourceReport]) -> None:
    table = Table(title="ingest summary")
    for column in ("source", "kind", "status", "new", "updated", "unchanged", "rejected", "s"):
        table.add_column(column, justify="right" if column not in ("source", "kind") else "left")
    table.add_column("note")
    for r in reports:
        status = f"[red]{r.status}[/]" if r.failed else r.status
        table.add_row(
            r.name, r.kind, status, str(r.new), str(r.updated), str(r.unchanged),
            str(r.rejected), f"{r.seconds:.1f}", "see below" if r.error else r.note,
        )  # fmt: skip
    console.print(table)
    for r in reports:
        if r.error:
            err_console.print(f"{r.name}: failed: {r.error}", markup=False)
        for problem in r.problems[:10]:
            err_console.print(f"{r.name}: {problem}", markup=False)
        if len(r.problems) > 10:
            err_console.print(f"{r.name}: ... and {len(r.problems) - 10} more rejected items")
        for warning in r.warnings[:10]:
            err_console.print(f"{r.name}: warning: {warning}", markup=False)
        if len(r.warnings) > 10:
            err_console.print(f"{r.name}: ... and {len(r.warnings) - 10} more warnings")
