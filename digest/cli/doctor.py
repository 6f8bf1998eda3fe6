"""`digest doctor`: one line per check of the set-up, exit 1 when any check fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from digest import doctor as checks
from digest.cli.common import console, print_json
from digest.db.engine import Database
from digest.db.stats import source_health
from digest.doctor import CheckResult, SourceState
from digest.errors import DigestError, InputError
from digest.settings import Settings


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def run_checks(
    settings: Settings,
    *,
    timeout: float,
    max_age: timedelta,
    dns_server: tuple[str, int] | None = None,
) -> list[CheckResult]:
    """Every check, in order; the source check needs the database."""
    results = [checks.check_database(settings.database_url)]
    results.append(checks.check_broker(settings.broker_url, timeout))
    results.append(checks.check_smtp(settings.smtp, str(settings.outbox_dir), timeout))
    results.append(checks.check_secret_key(settings))
    results.append(checks.check_base_url(settings))
    results.append(checks.check_dkim(settings, dns_server=dns_server, timeout=timeout))
    if results[0].failed:
        results.append(CheckResult("sources", "skip", "the database is not ready"))
    else:
        results.extend(checks.check_sources_fresh(_sources(settings), datetime.now(UTC), max_age))
    return results


def _sources(settings: Settings) -> list[SourceState]:
    """The sources that have run (the database) and those configured but never run."""
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            known = {
                s.name: SourceState(s.name, s.enabled, s.last_success_at, s.last_failure)
                for s in source_health(session)
            }
    finally:
        db.dispose()
    for name, table in settings.sources.items():
        if name not in known:
            known[name] = SourceState(name, table.get("enabled", True) is not False, None)
    return [known[name] for name in sorted(known)]


def doctor(
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0.1, max=120, help="Seconds to wait for each server."),
    ] = 5.0,
    max_age: Annotated[
        float,
        typer.Option(
            "--max-age",
            min=0.1,
            max=24 * 365,
            help="Hours since a source's last successful ingest before it counts as stale.",
        ),
    ] = 36.0,
    dns: Annotated[
        str | None,
        typer.Option(
            "--dns",
            help="DNS server (HOST or HOST:PORT) for the DKIM record; default: the system's.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Check the set-up, one line per check; exit 1 if any check fails.

    Database reachable and migrated, broker and workers (with DIGEST_BROKER_URL), SMTP
    connection with STARTTLS/AUTH as configured (nothing is sent), a stable secret key,
    an https base URL, the DKIM key, and each source's last successful ingest."""
    try:
        settings = Settings.from_env()
    except DigestError as exc:
        results = [CheckResult("settings", "FAIL", str(exc))]
    else:
        results = run_checks(
            settings,
            timeout=timeout,
            max_age=timedelta(hours=max_age),
            dns_server=_dns_server(dns),
        )
    if as_json:
        print_json(
            {"ok": not any(r.failed for r in results), "checks": [r.to_json() for r in results]}
        )
    else:
        for result in results:
            style = {"ok": "green", "FAIL": "bold red", "warn": "yellow"}.get(result.status, "dim")
            console.print(
                f"[{style}]{result.status:<4}[/] {result.name:<9} {result.detail}",
                markup=True,
                highlight=False,
            )
    if any(r.failed for r in results):
        raise typer.Exit(1)


def _dns_server(text: str | None) -> tuple[str, int] | None:
    if text is None:
        return None
    host, sep, port = text.strip().partition(":")
    port = port if sep else "53"
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--dns: expected HOST or HOST:PORT, got {text!r}")
    return host, int(port)
