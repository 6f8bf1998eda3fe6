"""`digest editions list|show`: what each edition did, from its ledger rows."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from digest.cli.common import console, load_settings, open_database, print_json
from digest.cli.lazy import command_app
from digest.db import stats
from digest.db.stats import EditionStats

app = command_app(help="What each edition did: counts per ledger state, failures.")


def _when(found: EditionStats) -> str:
    return f"{found.next_retry_at:%Y-%m-%d %H:%M} UTC" if found.next_retry_at else ""


def edition_line(found: EditionStats) -> str:
    """``daily:2026-12-05 (created 2026-12-05 06:00 UTC): 950 sent, 3 retry, 2 failed;
    total 955; next retry 2026-12-05 06:20 UTC``: the states that have rows."""
    states = ", ".join(
        f"{n} {state}" for state, n in found.counts.items() if n and state != "total"
    )
    line = (
        f"{found.key} (created {found.created_at:%Y-%m-%d %H:%M} UTC): "
        f"{states or 'no rows'}; total {found.counts['total']}"
    )
    if found.next_retry_at:
        line += f"; next retry {_when(found)}"
    if found.paused_reason:
        line += "; PAUSED"
    return line


def print_editions(editions: list[EditionStats]) -> None:
    for found in editions:
        console.print(escape(edition_line(found)))


@app.command("list")
def list_editions(
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10_000, help="How many, newest first.")
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """The newest editions with their counts per ledger state and next retry time."""
    db = open_database(load_settings())
    with db.session() as session:
        editions = stats.recent_editions(session, limit)
    if as_json:
        print_json({"editions": [e.to_json(with_failures=False) for e in editions]})
        return
    if not editions:
        console.print("no editions yet; `digest run` sends the first")
        return
    print_editions(editions)


@app.command()
def show(
    edition: Annotated[str, typer.Argument(help="Its key (daily:2026-12-05) or id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """One edition: counts per ledger state, failures grouped by SMTP reply, next retry."""
    db = open_database(load_settings())
    with db.session() as session:
        found = stats.edition_stats(session, edition)
    if as_json:
        print_json(found.to_json())
        return
    print_editions([found])
    if found.paused_reason:
        console.print(f"paused: {escape(found.paused_reason)} (`digest run --resume` lifts it)")
    if not found.failures:
        console.print("no failures")
        return
    console.print("failures by SMTP reply:")
    for group in found.failures:
        states = ", ".join(f"{n} {s}" for s, n in group.statuses.items())
        console.print(
            f"  {escape(group.reply)}: {group.count} ({states}), e.g. {escape(group.example)}"
        )
