"""`digest run`, `digest preview`, `digest demo`: the edition pipeline from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from digest.cli.common import (
    console,
    err_console,
    is_terminal,
    load_settings,
    open_database,
    print_json,
)
from digest.db import editions, subscribers
from digest.db.papers import upsert_papers
from digest.deliver.transports import check_smtp
from digest.demo import DEMO_SUBSCRIBERS, sample_papers_path
from digest.embeddings import embed_after_ingest
from digest.errors import InputError, NotFoundError
from digest.ingest.parse_jsonl import parse_jsonl, read_lines
from digest.pipeline.edition import (
    EditionReport,
    check_links_for_smtp,
    run_edition,
    run_until_settled,
)
from digest.pipeline.runtime import Runtime, utcnow
from digest.pipeline.service import preview as preview_digest
from digest.settings import Settings
from digest.subscriber_spec import validate_spec


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(preview)
    app.command()(demo)


def _runtime(settings: Settings, *, auto_upgrade: bool | None = None) -> Runtime:
    return Runtime.from_settings(settings, db=open_database(settings, auto_upgrade=auto_upgrade))


def _check_smtp(settings: Settings) -> None:
    check_links_for_smtp(settings)
    if settings.smtp is not None and settings.in_process:
        check_smtp(settings.smtp)


def run(
    due_only: Annotated[
        bool,
        typer.Option(
            "--due-only",
            help="Only readers whose local delivery hour has come (for cron and the scheduler).",
        ),
    ] = False,
    email: Annotated[
        list[str] | None, typer.Option("--email", help="Only this subscriber (repeatable).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary and every outcome as JSON.")
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="Wait for the retries of temporary failures, until none is left."
        ),
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Lift the pause of editions that many providers refused by policy (5.7.x).",
        ),
    ] = False,
) -> None:
    """Send the current edition to every active subscriber who has not had it yet.

    Safe to run again: the delivery ledger sends each edition at most once per subscriber.
    Exit 0 only when every row of the edition is settled (sent or skipped).
    """
    settings = load_settings()
    rt = _runtime(settings)
    if email:
        _check_subscribers_exist(rt, email)
    _check_smtp(settings)
    if resume:
        with rt.db.session() as session:
            for key in editions.resume_editions(session):
                err_console.print(f"resumed edition {key}")
    if wait:

        def waiting(report: EditionReport) -> None:
            if not as_json:
                console.print(_retry_line(report))

        report = run_until_settled(rt, respect_hour=due_only, emails=email, on_wait=waiting)
    else:
        report = _run_with_progress(rt, due_only=due_only, emails=email, quiet=as_json)
    if as_json:
        next_retry = report.next_retry_at
        print_json(
            {
                "summary": report.summary(),
                "next_retry_at": next_retry.isoformat() if next_retry else None,
                "outcomes": report.result.outcomes,
                "errors": report.result.errors,
            }
        )
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _check_subscribers_exist(rt: Runtime, emails: list[str]) -> None:
    """`--email` names subscribers: one that does not exist is "not found" (exit 3), not a
    run that had nobody to send to."""
    with rt.db.session() as session:
        missing = [e for e in emails if subscribers.find_subscriber(session, e) is None]
    if missing:
        raise NotFoundError(f"no subscriber {', '.join(missing)}")


def _retry_line(report: EditionReport) -> str:
    when = report.next_retry_at
    assert when is not None
    count = report.ledger.counts["retry"]
    return (
        f"{count} message(s) failed temporarily and will be retried from "
        f"{when:%Y-%m-%d %H:%M:%S} UTC"
    )


def _run_with_progress(
    rt: Runtime, *, due_only: bool, emails: list[str] | None, quiet: bool
) -> EditionReport:
    if quiet or not is_terminal():
        return run_edition(rt, respect_hour=due_only, emails=emails)
    with Progress(
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console.rich,
        transient=True,
    ) as bar:
        task = bar.add_task("send", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return run_edition(rt, respect_hour=due_only, emails=emails, progress=advance)


def _print_report(report: EditionReport) -> None:
    table = Table(title="edition summary")
    summary = report.summary()
    for key in summary:
        table.add_column(key, justify="right")
    table.add_row(*(str(v) for v in summary.values()))
    console.print(table)
    for outcome in report.result.outcomes:
        if outcome["status"] in ("failed", "retry"):
            console.print(f"  {outcome['email']}: {outcome['status']}: {outcome.get('detail', '')}")
    if report.next_retry_at is not None:
        console.print(_retry_line(report) + ": run again then, or use --wait")
    for error in report.result.errors:
        err_console.print(
            f"[bold red]error:[/] {escape(error)} (the rest of the edition stays open; "
            "run again once this is fixed)",
            markup=True,
        )


def preview(
    email: Annotated[str, typer.Argument(help="The subscriber's email address.")],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the .html, .txt and .eml files.")
    ] = Path("var/preview"),
    png: Annotated[
        bool,
        typer.Option("--png", help="Also take screenshots at 375 and 600 px (headless Chromium)."),
    ] = False,
) -> None:
    """Render a subscriber's next digest to files, without sending or recording anything."""
    rt = _runtime(load_settings())
    email_ = preview_digest(rt, email)
    if email_ is None:
        console.print(f"Nothing to preview: no new papers match {email} (a run would skip them).")
        return
    try:
        out.mkdir(parents=True, exist_ok=True)
        stem = out / "".join(c if c.isalnum() or c in "@.-_" else "_" for c in email)
        paths = []
        for suffix, data in (
            (".html", email_.html.encode()),
            (".txt", email_.text.encode()),
            (".eml", email_.data),
        ):
            path = stem.with_name(stem.name + suffix)
            path.write_bytes(data)
            paths.append(path)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write there: {exc.strerror}") from None
    console.print(f"subject: {email_.subject}")
    for path in paths:
        console.print(f"wrote {path}")
    if png:
        # Lazy: digest.render (Jinja, MJML) and the browser driver only for --png.
        from digest.render.browser import screenshots

        for path, shot in screenshots(paths[0], stem):
            note = "" if not shot.overflows else f"  (overflows: {', '.join(shot.overflowing)})"
            console.print(f"wrote {path}  ({shot.width}x{shot.height} px){note}")


def demo() -> None:
    """Create demo subscribers, load the bundled sample papers, and run an edition."""
    settings = load_settings()
    rt = _runtime(settings, auto_upgrade=True)
    now = utcnow()
    parsed = parse_jsonl(read_lines(sample_papers_path()), source="sample")
    with rt.db.session() as session:
        counts = upsert_papers(session, parsed.records, now)
        created = []
        for data in DEMO_SUBSCRIBERS:
            spec = validate_spec(data)
            if subscribers.find_subscriber(session, spec.email) is None:
                subscribers.add_subscriber(session, spec, now)
                created.append(spec.email)
    embedded = embed_after_ingest(rt.db, rt.rank_options)
    console.print(f"database: {rt.db.display_url}")
    console.print(
        f"sample papers: {counts.new} new, {counts.updated + counts.unchanged} already known"
    )
    if embedded:
        console.print(f"embedded {embedded} sample papers for semantic ranking")
    existing = len(DEMO_SUBSCRIBERS) - len(created)
    console.print(f"demo subscribers: {len(created)} created, {existing} already there")
    _check_smtp(settings)
    report = _run_with_progress(rt, due_only=False, emails=None, quiet=False)
    _print_report(report)
    if settings.smtp is None:
        outbox = settings.outbox_dir
        console.print(f"\nThe digests are in {outbox}/ (one .eml and one .html per subscriber).")
        console.print("Open a .html file in a browser, or a .eml file in any mail client.")
        for path in sorted(outbox.glob("*.html"))[:10]:
            console.print(f"  {path}")
    if report.result.counts["sent"] == 0 and report.ok:
        console.print("\nNothing new was sent: every demo subscriber already has today's edition.")
    console.print(
        "\nThe subscription site: run `.venv/bin/digest web` (or `make web`) and open "
        f"{settings.base_url}/\nEvery link in the demo emails (unsubscribe, preferences, "
        "view in browser, 👍/👎) then works."
    )
    if not report.ok:
        raise typer.Exit(1)
