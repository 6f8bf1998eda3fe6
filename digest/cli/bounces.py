"""`digest bounces ...`: read bounces and complaints from mailboxes, listen for them over
LMTP/SMTP, and list what was recorded."""

from __future__ import annotations

import logging
import signal
import threading
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from digest.cli.common import console, err_console, load_settings, open_database, print_json
from digest.cli.lazy import command_app
from digest.db import bounces as store
from digest.db.models import BOUNCE_KINDS
from digest.deliver.inbound import Inbound, Outcome, process_report, read_mailbox, start_listener
from digest.errors import ConfigError, InputError, NotFoundError
from digest.logs import configure_logging

app = command_app(
    help="Bounces and spam complaints: read them, listen for them, list them.",
    no_args_is_help=True,
)


def _inbound() -> Inbound:
    settings = load_settings()
    return Inbound(settings, open_database(settings))


@app.command()
def read(
    paths: Annotated[
        list[Path], typer.Argument(help="mbox files, Maildir folders or single .eml files.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per message.")] = False,
) -> None:
    """Process the bounces and complaints in mailboxes (safe to run again on the same ones:
    a report already recorded is skipped)."""
    for path in paths:  # every path is checked before anything is recorded
        if not path.exists():
            raise NotFoundError(f"{path}: no such file or directory")
    inbound = _inbound()
    results: list[tuple[str, Outcome]] = []
    try:
        for path in paths:
            for label, raw in read_mailbox(path):
                results.append((label, process_report(inbound, raw, None)))
    finally:
        inbound.db.dispose()
    if as_json:
        print_json([{"message": label} | outcome.to_json() for label, outcome in results])
        return
    table = Table("message", "kind", "status", "reader", "action", title=None, show_lines=False)
    for label, outcome in results:
        table.add_row(
            escape(label),
            outcome.kind,
            outcome.status or "",
            escape(outcome.email or "-"),
            escape(outcome.action),
        )
    if results:
        console.print(table)
    counts = Counter(outcome.kind for _, outcome in results)
    summary = ", ".join(f"{counts[k]} {k}" for k in sorted(counts)) or "nothing"
    console.print(f"{len(results)} message(s) read: {summary}")


@app.command()
def listen(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = (
        8025
    ),
    lmtp: Annotated[
        bool, typer.Option("--lmtp/--smtp", help="Speak LMTP (from a local MTA) or SMTP.")
    ] = True,
) -> None:
    """Receive bounces and complaints from the MTA over LMTP (or SMTP) until SIGTERM/Ctrl-C."""
    inbound = _inbound()
    configure_logging()
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-connection lines
    try:
        controller = start_listener(inbound, host, port, lmtp=lmtp)
    except OSError as exc:
        inbound.db.dispose()
        raise ConfigError(f"--port: cannot listen on {host}:{port}: {exc.strerror}") from None
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    scheme = "lmtp" if lmtp else "smtp"
    mailbox = inbound.verp.mailbox
    local, _, domain = mailbox.rpartition("@")
    console.print(
        f"digest bounces: listening on {scheme}://{host}:{port}/ for {mailbox} "
        f"and {local}+...@{domain}"
    )
    try:
        while not stop.wait(1.0):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        controller.stop()
        inbound.db.dispose()
    err_console.print("stopped")


def parse_since(value: str | None, now: datetime) -> datetime:
    """``--since``: a date (UTC midnight), an ISO time, or ``Nd`` / ``Nh`` ago."""
    if value is None:
        return now - timedelta(days=7)
    text = value.strip().lower()
    if text[:-1].isdigit() and text[-1:] in ("d", "h"):
        amount = int(text[:-1])
        return now - (timedelta(days=amount) if text.endswith("d") else timedelta(hours=amount))
    try:
        if len(text) == 10:
            return datetime.combine(datetime.fromisoformat(text).date(), time(), tzinfo=UTC)
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(
            f"--since: expected a date (2025-05-30), a time or 7d/12h, got {value!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command("list")
def list_events(
    since: Annotated[
        str | None,
        typer.Option("--since", help="From this date, time, or 7d/12h ago (default 7d)."),
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only hard, soft, complaint or policy.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """The bounces and complaints recorded recently, newest first."""
    if kind is not None and kind not in BOUNCE_KINDS:
        raise InputError(f"--kind: one of {', '.join(BOUNCE_KINDS)}, got {kind!r}")
    start = parse_since(since, datetime.now(UTC))
    db = open_database(load_settings())
    try:
        with db.session() as session:
            events = store.recent_events(session, since=start, limit=limit, kind=kind)
    finally:
        db.dispose()
    if as_json:
        print_json([event.to_json() for event in events])
        return
    table = Table("received (UTC)", "kind", "status", "reader", "now", "delivery", "detail")
    for event in events:
        table.add_row(
            f"{event.received_at.astimezone(UTC):%Y-%m-%d %H:%M}",
            event.kind,
            event.status or "",
            escape(event.email or "-"),
            event.subscriber_status or "",
            "" if event.delivery_id is None else str(event.delivery_id),
            escape(event.detail[:80]),
        )
    console.print(table)
    console.print(f"{len(events)} event(s) since {start:%Y-%m-%d %H:%M} UTC")
