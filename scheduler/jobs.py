"""What the scheduler's jobs do: thin calls of the services the CLI uses.

- ``editions``: ``run_edition(respect_hour=True)``, as ``digest run --due-only``, after
  ingesting any source whose slot passed since its last run (editions wait for the day's
  ingest, when this scheduler runs the ingest jobs). Planning
  also settles the leases of dead workers (``ledger.expire_leases``) and picks up rows
  whose retry time has come, so the delivery ledger needs no job of its own.
- ``ingest:NAME``: one configured source, as ``digest ingest NAME``, then the embeddings.
- ``prune-vectors`` (weekly upkeep): ``digest db prune-vectors`` and ``digest db
  prune-ledger`` (settled rows past ``DIGEST_LEDGER_RETENTION_DAYS``).

Each job logs one line and never raises: a failure is logged and the next slot tries again.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from digest.db import ledger
from digest.db.sources import list_source_rows
from digest.embeddings import embed_after_ingest, prune_text_vectors
from digest.errors import DigestError
from digest.ingest.http import HttpClient, user_agent
from digest.ingest.service import configured_sources, run_sources, sync_sources
from digest.pipeline.edition import run_edition
from digest.pipeline.runtime import Runtime
from digest.timetable import SourceInfo, overdue

log = logging.getLogger("digest.scheduler")


def tick(runtime: Runtime, *, ingest_first: bool = False) -> None:
    """One scheduling pass: send every edition that is due now. With ``ingest_first`` (the
    scheduler runs the ingest jobs too), the sources whose slot passed since their last run
    are ingested first: editions wait for the day's ingest (:func:`timetable.overdue`)."""
    if ingest_first:
        try:
            due = overdue(load_sources(runtime), runtime.clock())
        except DigestError as exc:
            log.error("cannot read the sources before the editions: %s", exc)
            due = []
        for name in due:
            log.info("ingest %s: its slot passed, ingesting before the editions", name)
            ingest(runtime, name)
    try:
        report = run_edition(runtime, respect_hour=True)
    except DigestError as exc:
        log.error("edition run failed: %s", exc)
        return
    log.info("edition tick: %s", report.summary())


def ingest(runtime: Runtime, name: str) -> None:
    """Run one source now (skipped when it was removed or disabled since planning)."""
    with runtime.db.session() as session:
        chosen = [s for s in configured_sources(session) if s.name == name and s.enabled]
    if not chosen:
        log.info("ingest %s: skipped (no longer configured or enabled)", name)
        return
    with HttpClient(user_agent(runtime.settings.base_url)) as client:
        [report] = run_sources(runtime.db, chosen, client, now=runtime.clock())
    counts = ", ".join(f"{v} {k}" for k, v in report.counts().items())
    if report.failed:
        log.error("ingest %s: failed: %s", name, report.error)
        return
    embedded = embed_after_ingest(runtime.db, runtime.rank_options)
    log.info(
        "ingest %s: %s (%s)%s", name, report.status, counts,
        f", {embedded} embedded" if embedded else "",
    )  # fmt: skip


def prune_vectors(runtime: Runtime) -> None:
    """The weekly upkeep: topic vectors no subscriber needs, and settled ledger rows older
    than ``DIGEST_LEDGER_RETENTION_DAYS`` (0: kept for ever)."""
    with runtime.db.session() as session:
        deleted = prune_text_vectors(session)
    log.info("prune-vectors: deleted %d topic vector(s) no subscriber needs", deleted)
    keep = runtime.settings.ledger_retention_days
    if keep:
        with runtime.db.session() as session:
            rows = ledger.prune_settled(session, runtime.clock() - timedelta(days=keep))
        log.info("prune-ledger: deleted %d settled delivery row(s) older than %d days", rows, keep)


def load_sources(runtime: Runtime) -> list[SourceInfo]:
    """The config file's ``[sources.*]`` brought into the database (as ``digest ingest``
    does), then every source with its schedule and last run, for planning."""
    with runtime.db.session() as session:
        prune = bool(os.environ.get("DIGEST_CONFIG"))  # no file: keep what one set up before
        sync_sources(session, runtime.settings.sources, runtime.clock(), prune=prune)
        configs = configured_sources(session)
        last_runs = {row.name: row.last_run_at for row in list_source_rows(session)}
    return [
        SourceInfo(
            name=config.name,
            kind=config.kind,
            schedule=config.options.get("schedule"),
            enabled=config.enabled,
            last_run=last_runs.get(config.name),
        )
        for config in configs
    ]
