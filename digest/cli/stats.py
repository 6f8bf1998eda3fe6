"""`digest stats`: what happened lately, for the operator (readers, editions, bounces,
complaints, unsubscribes, feedback, clicks, sources)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy.orm import Session

from digest.cli.common import console, load_settings, open_database, print_json
from digest.cli.editions import print_editions
from digest.db import stats
from digest.db.stats import EditionStats, SourceHealth
from digest.ops import age_text

WINDOWS = (7, 30)


def register(app: typer.Typer) -> None:
    app.command("stats")(show_stats)


def collect(
    session: Session, now: datetime, recent: list[EditionStats], sources: list[SourceHealth]
) -> dict[str, object]:
    """Everything `digest stats` shows, as JSON-ready data."""
    by_status = stats.subscribers_by_status(session)
    return {
        "generated_at": now.isoformat(),
        "subscribers": by_status | {"total": sum(by_status.values())},
        "editions": [e.to_json(with_failures=False) for e in recent],
        "windows": [stats.window(session, now, days).to_json() for days in WINDOWS],
        "feedback": {
            f"{days}d": stats.feedback_counts(session, now - timedelta(days=days))
            for days in WINDOWS
        },
        "most_clicked": stats.most_clicked(session, now - timedelta(days=30)),
        "sources": [s.to_json() for s in sources],
    }


def show_stats(
    editions: Annotated[
        int, typer.Option("--editions", min=0, max=1000, help="How many recent editions.")
    ] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """What happened lately: readers, editions, rates, feedback, clicks, sources.

    Subscribers by status, the last editions with their counts per ledger state, bounce,
    complaint and unsubscribe rates over 7 and 30 days, feedback counts, the most clicked
    papers, and each source's last success and last error."""
    now = datetime.now(UTC)
    db = open_database(load_settings())
    with db.session() as session:
        recent = stats.recent_editions(session, editions)
        sources = stats.source_health(session)
        data = collect(session, now, recent, sources)
    if as_json:
        print_json(data)
        return
    subscribers = data["subscribers"]
    assert isinstance(subscribers, dict)
    console.print("subscribers: " + ", ".join(f"{n} {status}" for status, n in subscribers.items()))
    if recent:
        console.print("recent editions:")
        print_editions(recent)
    else:
        console.print("no editions yet")
    for w in data["windows"]:  # type: ignore[attr-defined]
        console.print(
            f"last {w['days']} days: {w['sent']} sent, "
            f"{w['bounces']} bounces ({_percent(w['bounce_rate'])}), "
            f"{w['complaints']} complaints ({_percent(w['complaint_rate'])}), "
            f"{w['unsubscribes']} unsubscribes ({_percent(w['unsubscribe_rate'])})"
        )
    for period, counts in data["feedback"].items():  # type: ignore[attr-defined]
        console.print(
            f"feedback, last {period[:-1]} days: "
            + ", ".join(f"{n} {kind}" for kind, n in counts.items())
        )
    clicked = data["most_clicked"]
    if clicked:
        console.print("most clicked, last 30 days:")
        for item in clicked:  # type: ignore[attr-defined]
            title = escape(str(item["title"] or "")[:80])
            console.print(
                f"  {item['paper']}: {item['clicks']} clicks by {item['readers']} "
                f"reader(s): {title}"
            )
    if not sources:
        console.print("no sources have run yet")
    for source in sources:
        console.print(escape(source_line(source, now)))


def source_line(source: SourceHealth, now: datetime) -> str:
    line = f"source {source.name} ({source.kind}{'' if source.enabled else ', disabled'}): "
    if source.last_run_at is None:
        return line + "never run"
    line += f"last run {age_text(source.last_run_at, now)} ({source.last_status})"
    line += f"; last success {age_text(source.last_success_at, now)}"
    if source.last_failure_at is not None:
        line += f"; last error {age_text(source.last_failure_at, now)}: {source.last_failure}"
    return line


def _percent(value: object) -> str:
    return "no mail sent" if value is None else f"{float(value):.2%}"  # type: ignore[arg-type]
