"""`digest ingest [SOURCE ...] [--since DATE]` and `digest ingest jsonl PATH`.

``digest ingest`` runs the configured sources (all, or the ones named), shows progress and
a summary table, and exits 1 when any source failed; the others are stored regardless.
``digest ingest jsonl PATH`` loads one JSONL/JSON file without configuring a source.
"""

from __future__ import annotations

import copy
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from digest.cli.common import console, err_console, load_settings, open_database, print_json
from digest.cli.lazy import command_app
from digest.clock import utcnow
from digest.errors import InputError
from digest.ingest.lines import (
    LineCounts,
    ingest_lines,
    ingest_lines_sqlite,
    number_lines,
    unchanged_rerun,
)
from digest.ingest.parse_jsonl import read_lines
from digest.rank import RankOptions, extra
from digest.settings import Settings

if TYPE_CHECKING:
    from digest.db.engine import Database


class _DefaultToRun(TyperGroup):
    """`digest ingest hf arxiv` means `digest ingest run hf arxiv`; subcommands still work.

    Its help is that of `run` (the sources, `--since`, `--json`), the commands listed below.
    """

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["run", *args]
        return super().parse_args(ctx, args)

    def format_help(self, ctx, formatter):
        shown = copy.copy(self)
        shown.params = [*self.commands["run"].params, *self.params]
        shown.subcommand_metavar = "| COMMAND [ARGS]..."
        return TyperGroup.format_help(shown, ctx, formatter)


app = command_app(
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
    # Lazy: the HTTP client, the feed parsers and the progress display load only here, so
    # that `digest ingest jsonl` does not pay for them.
    from digest.cli import harvest

    harvest.run(sources or [], parse_since(since), as_json=as_json)


def embed_new(db: Database, settings: Settings, *, quiet: bool) -> int:
    """Embed the papers that have no vector yet: those just stored, and any an earlier run
    missed (semantic extra installed and not turned off; the model loads only if needed)."""
    if not extra.in_use(RankOptions.parse(settings.rank).semantic):
        return 0  # nothing to embed with: NumPy and the model code are not even imported
    from digest.embeddings import embed_after_ingest  # lazy: NumPy and the model code

    embedded = embed_after_ingest(db, RankOptions.parse(settings.rank))
    if embedded and not quiet:
        console.print(f"embedded {embedded} new papers for semantic ranking")
    return embedded


@app.command()
def jsonl(
    path: Annotated[Path, typer.Argument(help="A .jsonl or .jsonl.gz file of papers.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Load papers from a JSONL file (gzip allowed); bad lines are reported and skipped."""
    lines = list(read_lines(path))
    numbered = number_lines(lines)
    source = f"jsonl:{path.name}"
    settings = load_settings()
    counts: LineCounts | None = None
    embedded = 0
    if not extra.in_use(RankOptions.parse(settings.rank).semantic):
        # An unchanged re-run into a SQLite file is known as such with one sqlite3 query,
        # without SQLAlchemy (about half of such a run's CPU time); other lines into a
        # SQLite file that is new or current are stored with sqlite3 too (SQLAlchemy's
        # ORM and Alembic cost a third of a first load). With the semantic extra in use,
        # papers an earlier run left unembedded are looked for below.
        counts = unchanged_rerun(settings.database_url, numbered, source)
        if counts is None:
            counts = ingest_lines_sqlite(
                settings.database_url, lines, source, utcnow(), numbered_lines=numbered
            )
    if counts is None:
        db = open_database(settings)
        with db.session() as session:
            counts = ingest_lines(session, lines, source, utcnow(), numbered_lines=numbered)
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
    else:  # plain text: rich (about 25 ms to import) would print the same characters
        sys.stdout.write(", ".join(f"{v} {k}" for k, v in summary.items()) + "\n")
    if counts.errors:
        raise typer.Exit(1)
