"""`digest ingest [SOURCE ...] [--since DATE]` and `digest ingest jsonl PATH`.

``digest ingest`` runs the configured sources (all, or the ones named), shows progress and
a summary table, and exits 1 when any source failed; the others are stored regardless.
``digest ingest jsonl PATH`` loads one JSONL/JSON file without configuring a source.
"""

from __future__ import annotations

import copy
import os
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from digest.cli.common import (
    console,
    err_console,
    is_terminal,
    load_settings,
    open_database,
    print_json,
)
from digest.clock import utcnow
from digest.db import Database
from digest.embeddings import embed_after_ingest
from digest.errors import InputError
from digest.ingest.http import HttpClient, user_agent
from digest.ingest.parse_jsonl import read_lines
from digest.ingest.service import (
    SourceReport,
    configured_sources,
    ingest_lines,
    run_sources,
    select_sources,
    sync_sources,
)
from digest.rank import RankOptions
from digest.settings import Settings


class _DefaultToRun(TyperGroup):
    """`digest ingest hf arxiv` means `digest ingest run hf arxiv`; subcommands still work.

    Its help is that of `run` (the sources, `--since`, `--json`), the commands listed below.
    """

    def parse_args(self, ctx, args):  # type: ignore[no-untyped-def]
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["run", *args]
        return super().parse_args(ctx, args)

    def format_help(self, ctx, formatter):  # type: ignore[no-untyped-def]
        shown = copy.copy(self)
        shown.params = [*self.commands["run"].params, *self.params]
        shown.subcommand_metavar = "| COMMAND [ARGS]..."
        return TyperGroup.format_help(shown, ctx, formatter)


app = typer.Typer(
    cls=_DefaultToRun,
    help="Load new papers: `digest ingest [SOURCE ...] [--since DATE]`, or `ingest jsonl PATH`.",
)


def parse_since(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"--since: expected a date like 2025-04-01, got {value!r}") from None


def prepare(settings: Settings) -> Database:
    """Open the database and bring the config file's sources into it."""
    db = open_database(settings)
    with db.session() as session:
        prune = bool(os.environ.get("DIGEST_CONFIG"))  # no file: keep what one set up before
        sync_sources(session, settings.sources, utcnow(), prune=prune)
    return db


@app.command("run")
def run(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Source names (default: every source).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Fetch from this day (YYYY-MM-DD) instead of the cursor."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON.")] = False,
) -> None:
    """Run the configured sources (the default command of `digest ingest`)."""
    since_day = parse_since(since)
    settings = load_settings()
    db = prepare(settings)
    with db.session() as session:
        chosen = select_sources(configured_sources(session), sources or [])
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


def embed_new(db: Database, settings: Settings, *, quiet: bool) -> int:
    """Embed the papers that have no vector yet: those just stored, and any an earlier run
    missed (semantic extra installed and not turned off; the model loads only if needed)."""
    embedded = embed_after_ingest(db, RankOptions.parse(settings.rank))
    if embedded and not quiet:
        console.print(f"embedded {embedded} new papers for semantic ranking")
    return embedded


def _run_with_progress(db, chosen, client, since, *, quiet: bool) -> list[SourceReport]:  # type: ignore[no-untyped-def]
    now = utcnow()
    if quiet or not is_terminal():
        return run_sources(db, chosen, client, now=now, since=since)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
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


@app.command()
def jsonl(
    path: Annotated[Path, typer.Argument(help="A .jsonl or .jsonl.gz file of papers.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Load papers from a JSONL file (gzip allowed); bad lines are reported and skipped."""
    lines = list(read_lines(path))
    settings = load_settings()
    db = open_database(settings)
    with db.session() as session:
        counts = ingest_lines(session, lines, f"jsonl:{path.name}", utcnow())
    embedded = embed_new(db, settings, quiet=as_json)
    for line, problem in counts.errors[:50]:
        err_console.print(f"{path}:{line}: {problem}", markup=False)
    if len(counts.errors) > 50:
        err_console.print(f"... and {len(counts.errors) - 50} more bad lines")
    for line, warning in counts.warnings[:50]:
        err_console.print(f"{path}:{line}: warning: {warning}", markup=False)
    if len(counts.warnings) > 50:
        err_console.print(f"... and {len(counts.warnings) - 50} more warnings")
    summary = {
        "new": counts.new,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "rejected": len(counts.errors),
        "warnings": len(counts.warnings),
        "embedded": embedded,
    }
    if as_json:
        print_json(summary)
    else:
        console.print(", ".join(f"{v} {k}" for k, v in summary.items()))
    if counts.errors:
        raise typer.Exit(1)
