"""`digest sources add|list|remove|test`: the paper sources and their state."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from digest.cli.common import console, err_console, load_settings, print_json
from digest.cli.harvest import prepare
from digest.cli.ingest import parse_since
from digest.cli.lazy import command_app
from digest.clock import utcnow
from digest.db.sources import (
    get_source_row,
    list_source_rows,
    remove_source_row,
    save_source_config,
)
from digest.errors import DigestError, InputError, NotFoundError
from digest.ingest.http import HttpClient, user_agent
from digest.ingest.parse_jsonl import parse_jsonl
from digest.ingest.service import configured_sources, select_sources
from digest.ingest.sources import (
    KINDS,
    SourceState,
    describe,
    make_source,
    parse_option,
    source_for,
)

app = command_app(help="Configure the paper sources.", no_args_is_help=True)


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="A short name, e.g. hf or cs-lg.")],
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(KINDS)}.")],
    url: Annotated[str | None, typer.Option("--url", help="The feed or API URL.")] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="arxiv_api: e.g. 'cat:cs.LG'.")
    ] = None,
    path: Annotated[str | None, typer.Option("--path", help="file: a JSONL/JSON file.")] = None,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", "-o", help="Any other option as key=value (repeatable)."),
    ] = None,
    disabled: Annotated[
        bool, typer.Option("--disabled", help="Run it only when named: `digest ingest NAME`.")
    ] = False,
) -> None:
    """Add a source, or change the options of one added before (its state is kept)."""
    options = dict(parse_option(o) for o in option or [])
    for key, value in (("url", url), ("query", query), ("path", path)):
        if value is not None:
            options[key] = value
    config = make_source(name, kind, options, enabled=not disabled)
    db = prepare(load_settings())
    with db.session() as session:
        row = get_source_row(session, name)
        if row is not None and row.origin == "config":
            raise InputError(f"source {name} is defined in the config file; change it there")
        save_source_config(
            session, name=name, kind=kind, options=dict(config.options), origin="cli",
            now=utcnow(), enabled=config.enabled,
        )  # fmt: skip
    console.print(f"{'updated' if row else 'added'} source {name} ({kind})")


@app.command("list")
def list_sources(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the sources with their last run and cursor."""
    db = prepare(load_settings())
    with db.session() as session:
        rows = list_source_rows(session)
        items = [
            {
                **describe(
                    make_source(r.name, r.kind, r.options, origin=r.origin, enabled=r.enabled)
                ),
                "cursor": r.cursor,
                "last_run_at": r.last_run_at.isoformat() if r.last_run_at else None,
                "last_status": r.last_status,
                "last_error": r.last_error,
                "last_counts": r.last_counts,
            }
            for r in rows
        ]
    if as_json:
        print_json({"sources": items})
        return
    if not items:
        console.print("no sources; add one with `digest sources add NAME KIND ...`")
        return
    table = Table(title="sources")
    for column in ("name", "kind", "reads", "origin", "cursor", "last run", "status"):
        table.add_column(column)
    for item in items:
        counts = item["last_counts"] or {}
        status = item["last_status"] or "never run"
        if not item["enabled"]:
            status = f"disabled; {status}"
        shown = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        if shown:
            status += f" ({shown})"
        table.add_row(
            item["name"], item["kind"],
            str(item.get("url") or item.get("path") or item.get("query") or item.get("categories")),
            item["origin"], item["cursor"] or "", (item["last_run_at"] or "")[:16], status,
        )  # fmt: skip
    console.print(table)


@app.command()
def remove(name: Annotated[str, typer.Argument(help="The source to remove.")]) -> None:
    """Remove a source added with `digest sources add` (its papers stay)."""
    db = prepare(load_settings())
    with db.session() as session:
        row = get_source_row(session, name)
        if row is None:
            raise NotFoundError(f"no source named {name}")
        if row.origin == "config":
            raise InputError(f"source {name} is defined in the config file; remove it there")
        remove_source_row(session, row)
    console.print(f"removed source {name}")


@app.command()
def test(
    name: Annotated[str, typer.Argument(help="The source to try.")],
    since: Annotated[str | None, typer.Option("--since", help="Fetch from this day.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Fetch and parse a source without storing anything; exit 1 when it fails."""
    since_day = parse_since(since)
    settings = load_settings()
    db = prepare(settings)
    with db.session() as session:
        (config,) = select_sources(configured_sources(session), [name])
    now = utcnow()
    with HttpClient(user_agent(settings.base_url)) as client:
        try:
            harvest = source_for(config).harvest(
                client, SourceState(), since=since_day, today=now.date(), progress=lambda _: None
            )
        except DigestError as exc:  # the source failed (fetch or parse): exit 1, as said
            err_console.print(f"[bold red]error:[/] {name}: {escape(str(exc))}")
            raise typer.Exit(1) from None
        requests = client.requests
    if harvest.lines is not None:
        parsed = parse_jsonl(harvest.lines, source=config.name)
        harvest.records = parsed.records
        harvest.errors += [f"line {n}: {p}" for n, p in parsed.errors]
    summary = {
        "source": name,
        "requests": requests,
        "records": len(harvest.records),
        "rejected": len(harvest.errors),
        "note": harvest.note,
        "failure": harvest.failure,
        "sample": [{"id": p.id, "title": p.title} for p in harvest.records[:5]],
        "problems": harvest.errors[:20],
    }
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"{name}: {len(harvest.records)} papers, {len(harvest.errors)} rejected, "
            f"{requests} request(s){'; ' + harvest.note if harvest.note else ''}"
        )
        for paper in harvest.records[:5]:
            console.print(f"  {paper.id}  {paper.title[:90]}", markup=False)
        for problem in harvest.errors[:20]:
            err_console.print(f"{name}: {problem}", markup=False)
    if harvest.failure:
        err_console.print(f"[bold red]error:[/] {harvest.failure}")
        raise typer.Exit(1)
