"""`digest ingest ...`: load papers from sources into the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from digest.cli.common import console, err_console, load_settings, open_database, print_json
from digest.db import repo
from digest.ingest.jsonl import parse_jsonl, read_lines
from digest.pipeline.runtime import utcnow

app = typer.Typer(help="Load new papers from sources.", no_args_is_help=True)


@app.command()
def jsonl(
    path: Annotated[Path, typer.Argument(help="A .jsonl or .jsonl.gz file of papers.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Load papers from a JSONL file (gzip allowed); bad lines are reported and skipped."""
    result = parse_jsonl(read_lines(path), source=f"jsonl:{path.name}")
    for line, problem in result.errors[:50]:
        err_console.print(f"{path}:{line}: {problem}")
    if len(result.errors) > 50:
        err_console.print(f"... and {len(result.errors) - 50} more bad lines")
    db = open_database(load_settings())
    with db.session() as session:
        counts = repo.upsert_papers(session, result.records, utcnow())
    summary = {
        "new": counts.new,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "rejected": len(result.errors),
    }
    if as_json:
        print_json(summary)
    else:
        console.print(", ".join(f"{v} {k}" for k, v in summary.items()))
    if result.errors:
        raise typer.Exit(1)
