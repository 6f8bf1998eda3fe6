"""Running the sources: harvest each, store its records and state, report per source.

The CLI, the scheduler and the benchmark call these functions. One source failing (the
network, a broken document, the database) is reported and never stops the others; a
source's cursor and HTTP validators are stored in the same transaction as its papers,
and only when the whole harvest succeeded, so nothing is skipped after a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from digest.db.engine import Database
from digest.db.papers import upsert_papers
from digest.db.sources import (
    get_source_row,
    list_source_rows,
    record_source_run,
    remove_source_row,
    save_source_config,
)
from digest.errors import DigestError, InputError, NotFoundError
from digest.ingest.http import HttpClient
from digest.ingest.lines import ingest_lines
from digest.ingest.sources import Harvest, SourceConfig, SourceState, make_source, source_for

MAX_VALIDATORS = 64
Progress = Callable[[str, str], None]  # (source name, what it is doing)


@dataclass
class SourceReport:
    """The outcome of one source in one run."""

    name: str
    kind: str
    status: str = "ok"  # ok | not modified | no announcement | failed
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    note: str = ""
    warnings: list[str] = field(default_factory=list)  # items stored with a doubt
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("new", "updated", "unchanged", "rejected")}

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = self.problems[:100]
        data["seconds"] = round(self.seconds, 3)
        return data


# -- configured sources ----------------------------------------------------------------
def sync_sources(
    session: Session,
    tables: Mapping[str, Mapping[str, Any]],
    now: datetime,
    *,
    prune: bool = True,
) -> None:
    """Bring the ``[sources.*]`` tables of the config file into the sources table.

    With ``prune`` (a config file is in use) a source removed from the file is removed
    here too; without one, sources that came from a file are kept as they are. Sources
    added with the CLI always stay.
    """
    configs = []
    for name, table in tables.items():
        options = dict(table)
        kind = str(options.pop("kind", ""))
        enabled = options.pop("enabled", True)
        if not isinstance(enabled, bool):
            raise InputError(f"source {name}: option enabled: expected true or false")
        configs.append(make_source(name, kind, options, origin="config", enabled=enabled))
    for config in configs:
        save_source_config(
            session,
            name=config.name,
            kind=config.kind,
            options=dict(config.options),
            origin="config",
            now=now,
            enabled=config.enabled,
        )
    for row in list_source_rows(session) if prune else ():
        if row.origin == "config" and row.name not in tables:
            remove_source_row(session, row)


def configured_sources(session: Session) -> list[SourceConfig]:
    """Every stored source, validated again (a bad stored row fails loudly by name)."""
    return [
        make_source(row.name, row.kind, row.options, origin=row.origin, enabled=row.enabled)
        for row in list_source_rows(session)
    ]


def select_sources(all_sources: list[SourceConfig], names: Sequence[str]) -> list[SourceConfig]:
    """The named sources (disabled ones too), or every enabled source."""
    if not names:
        return [s for s in all_sources if s.enabled]
    by_name = {s.name: s for s in all_sources}
    missing = [n for n in names if n not in by_name]
    if missing:
        known = ", ".join(by_name) or "none configured"
        raise NotFoundError(f"no source named {', '.join(missing)} (known: {known})")
    return [by_name[n] for n in dict.fromkeys(names)]


# -- running ---------------------------------------------------------------------------
def run_sources(
    db: Database,
    sources: Sequence[SourceConfig],
    client: HttpClient,
    *,
    now: datetime,
    since: date | None = None,
    progress: Progress | None = None,
) -> list[SourceReport]:
    """Harvest and store every source in turn; one failing never stops the others."""
    return [
        run_source(db, source, client, now=now, since=since, progress=progress)
        for source in sources
    ]


def run_source(
    db: Database,
    source: SourceConfig,
    client: HttpClient,
    *,
    now: datetime,
    since: date | None = None,
    progress: Progress | None = None,
) -> SourceReport:
    started = time.monotonic()
    report = SourceReport(source.name, source.kind)
    step = (lambda what: progress(source.name, what)) if progress else (lambda what: None)
    with db.session() as session:
        row = get_source_row(session, source.name)
        state = SourceState(row.cursor, dict(row.validators or {})) if row else SourceState()
    try:
        harvest = source_for(source).harvest(
            client, state, since=since, today=now.date(), progress=step
        )
    except DigestError as exc:
        return _failed(db, report, str(exc), now, started)
    except Exception as exc:  # a bug in one source must not stop the others
        return _failed(db, report, f"unexpected {type(exc).__name__}: {exc}", now, started)
    step("store")
    try:
        with db.session() as session:
            _store(session, source.name, harvest, report, now)
            record_source_run(
                session,
                source.name,
                now=now,
                status=report.status,
                counts=report.counts(),
                error=report.error,
                cursor=None if harvest.failure else harvest.cursor,
                validators=None if harvest.failure else _validators(state, harvest),
            )
    except (SQLAlchemyError, DigestError) as exc:
        line = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return _failed(db, report, f"could not store: {line}", now, started)
    report.seconds = time.monotonic() - started
    return report


def _store(
    session: Session, name: str, harvest: Harvest, report: SourceReport, now: datetime
) -> None:
    problems = list(harvest.errors)
    if harvest.lines is not None:
        counts = ingest_lines(session, harvest.lines, name, now)
        problems += [f"line {n}: {p}" for n, p in counts.errors]
        report.warnings = [f"line {n}: {w}" for n, w in counts.warnings]
        report.new, report.updated, report.unchanged = counts.new, counts.updated, counts.unchanged
    else:
        stored = upsert_papers(session, harvest.records, now)
        report.new, report.updated, report.unchanged = stored.new, stored.updated, stored.unchanged
    report.rejected = len(problems)
    report.problems = problems
    report.note = harvest.note
    if harvest.failure:
        report.status, report.error = "failed", harvest.failure
    elif harvest.note == "not modified":
        report.status = "not modified"
    elif harvest.note == "no announcement today":
        report.status = "no announcement"


def _failed(
    db: Database, report: SourceReport, message: str, now: datetime, started: float
) -> SourceReport:
    report.status, report.error = "failed", message
    report.seconds = time.monotonic() - started
    try:
        with db.session() as session:
            record_source_run(
                session, report.name, now=now, status="failed", counts={}, error=message
            )
    except SQLAlchemyError:
        pass  # the database itself is the problem; the report says what failed first
    return report


def _validators(state: SourceState, harvest: Harvest) -> dict[str, dict[str, str]]:
    """Old and new validators, the newest ``MAX_VALIDATORS`` URLs kept."""
    merged = {k: v for k, v in state.validators.items() if k not in harvest.validators}
    merged.update(harvest.validators)
    return dict(list(merged.items())[-MAX_VALIDATORS:])
