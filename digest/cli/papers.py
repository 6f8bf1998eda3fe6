"""`digest papers list [--since DATE] [--query TEXT]` and `digest papers show ID`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from digest.cli.common import console, load_settings, open_database, print_json
from digest.cli.ingest import parse_since
from digest.cli.lazy import command_app
from digest.db import papers as paper_db
from digest.db.models import PaperRow
from digest.errors import NotFoundError
from digest.ingest.ids import canonical_id

app = command_app(help="Look at the stored papers.", no_args_is_help=True)


def _json(row: PaperRow, *, full: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row.id,
        "title": row.title,
        "announced": row.announced_on,
        "published": row.published_on,
        "featured": row.featured_on,
        "categories": row.categories,
        "upvotes": row.upvotes,
        "sources": row.sources,
    }
    if full:
        data.update(
            abstract=row.abstract, authors=row.authors, affiliations=row.affiliations,
            links=row.links, comment=row.comment, journal_ref=row.journal_ref, doi=row.doi,
            primary_category=row.primary_category, version=row.version,
            github_stars=row.github_stars, num_comments=row.num_comments,
            ai_summary=row.ai_summary, keywords=row.keywords,
            first_seen_at=row.first_seen_at, updated_at=row.updated_at,
        )  # fmt: skip
    return data


@app.command("list")
def list_papers(
    since: Annotated[
        str | None,
        typer.Option("--since", help="Announced (else featured/published) on or after this day."),
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", "-q", help="Words that must all appear.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """The newest stored papers, optionally filtered."""
    since_day = parse_since(since)
    db = open_database(load_settings())
    with db.session() as session:
        rows = paper_db.list_papers(session, since=since_day, query=query, limit=limit)
        items = [_json(r, full=False) for r in rows]
    if as_json:
        print_json({"papers": items})
        return
    if not items:
        console.print("no papers match")
        return
    table = Table(title=f"{len(items)} papers")
    for column in ("id", "day", "title", "categories", "▲", "sources"):
        table.add_column(column, overflow="fold")
    for item in items:
        day = item["announced"] or item["featured"] or item["published"]
        table.add_row(
            item["id"], str(day or ""), item["title"][:80], " ".join(item["categories"][:3]),
            "" if item["upvotes"] is None else str(item["upvotes"]), ", ".join(item["sources"]),
        )  # fmt: skip
    console.print(table)


@app.command()
def show(
    paper_id: Annotated[
        str, typer.Argument(metavar="ID", help="arXiv id (any form), doi:..., title:...")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Everything stored about one paper, and which sources saw it when."""
    wanted = paper_id.strip()
    if not wanted.startswith(("doi:", "title:")):
        wanted = canonical_id(wanted) or wanted
    db = open_database(load_settings())
    with db.session() as session:
        row = paper_db.get_paper_row(session, wanted)
        if row is None:
            raise NotFoundError(f"no paper with id {paper_id!r}")
        data = _json(row, full=True)
        data["seen_by"] = [
            {"source": s.source, "first_seen_at": s.first_seen_at, "updated_at": s.updated_at}
            for s in paper_db.paper_sightings(session, row.id)
        ]
    if as_json:
        print_json(data)
        return
    console.print(f"[bold]{data['title']}[/]")
    for key, value in data.items():
        if key in ("title", "abstract", "seen_by") or value in (None, [], {}, ""):
            continue
        console.print(f"{key}: {value}", markup=False)
    for seen in data["seen_by"]:
        console.print(f"seen by {seen['source']} since {seen['first_seen_at']:%Y-%m-%d %H:%M}")
    console.print()
    console.print(data["abstract"], markup=False)
