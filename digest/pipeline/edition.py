"""Run one edition: plan, rank, then deliver the batches in-process or on Celery workers
(``fanout``), and report where every row stands."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from digest.db import tracking
from digest.db.tracking import LedgerState
from digest.errors import ConfigError
from digest.pipeline.fanout import Patience, deliver_on_workers
from digest.pipeline.pool_ahead import PoolAhead
from digest.pipeline.rank_ahead import RankAhead
from digest.pipeline.runtime import Runtime
from digest.pipeline.service import (
    BatchResult,
    Plan,
    batches,
    deliver_batch,
    edition_pool,
    plan_edition,
    rank_edition,
)
from digest.settings import Settings

Progress = Callable[[int, int], None]  # (rows done, rows total)


OPEN_STATES = ("pending", "retry", "sending")


@dataclass
class EditionReport:
    """What a run did (``result``) and where every row of its readers stands now
    (``ledger``): the summary counts rows, not this run's attempts, so nothing left open
    hides behind "already done"."""

    plan: Plan
    result: BatchResult
    ledger: LedgerState = field(default_factory=lambda: LedgerState(Counter(), None))

    def summary(self) -> dict[str, int]:
        rows = self.ledger.counts
        return {
            "sent now": self.result.counts["sent"],
            "sent": rows["sent"],
            "skipped": rows["skipped"],
            "failed": rows["failed"],
            "retry": rows["retry"],
            "pending": rows["pending"],
            "sending": rows["sending"],
            "unknown": rows["unknown"],
        }

    @property
    def next_retry_at(self) -> datetime | None:
        return self.ledger.next_retry_at

    @property
    def ok(self) -> bool:
        """Nothing failed and nothing is left open (exit 0)."""
        rows = self.ledger.counts
        left = rows["failed"] + sum(rows[s] for s in OPEN_STATES)
        return left == 0 and not self.result.errors


def check_links_for_smtp(settings: Settings) -> None:
    """Refuse to send real mail whose links are http: mailbox providers ignore a one-click
    List-Unsubscribe over http (RFC 8058 asks for https), so readers could not leave."""
    if settings.smtp is not None and not settings.links_are_https and not settings.allow_http_links:
        raise ConfigError(
            f"DIGEST_BASE_URL: {settings.base_url} is not https; mailbox providers ignore a "
            "one-click List-Unsubscribe over http, so digest does not send over SMTP with it "
            "(set an https:// URL, or DIGEST_ALLOW_HTTP_LINKS=1 for a test relay)"
        )


def run_edition(
    rt: Runtime,
    *,
    respect_hour: bool = False,
    emails: Sequence[str] | None = None,
    progress: Progress | None = None,
    patience: Patience | None = None,
) -> EditionReport:
    check_links_for_smtp(rt.settings)
    # The candidate pool is built in a thread from the moment somebody is due, while the
    # database inserts the plan's rows.
    with PoolAhead(lambda wanted: edition_pool(rt, rt.clock(), wanted=wanted)) as pool:
        plan = plan_edition(rt, respect_hour=respect_hour, emails=emails, on_due=pool.start)
        if not plan.unranked:
            pool.cancel()
        total = len(plan.delivery_ids)
        result = BatchResult()
        if progress:
            progress(0, total)
        # One ranking for the edition, before any batch: each chunk of readers is ranked
        # and its picks stored, then its batches go out while the next chunk is ranked.
        ranked = rank_edition(rt, plan.delivery_ids, rows=plan.unranked, pool=pool.result)
        chunks = _ranked_then_rest(ranked, plan.delivery_ids)
        if rt.settings.in_process:
            done = 0
            for chunk in chunks:
                for batch in batches(chunk, rt.settings.batch_size):
                    result.merge(deliver_batch(rt, batch))
                    done += len(batch)
                    if progress:
                        progress(done, total)
        elif plan.delivery_ids:  # ranked in a thread, behind the workers once they send
            with RankAhead(chunks, nice=rt.settings.ranking_nice) as ahead:
                result = deliver_on_workers(rt, ahead, progress=progress, patience=patience)
    with rt.db.session() as session:
        ledger = tracking.ledger_state(session, plan.row_ids)
    return EditionReport(plan, result, ledger)


def _ranked_then_rest(ranked: Iterable[list[int]], due: Sequence[int]) -> Iterator[list[int]]:
    """The chunks as ranking stores their picks, then the due rows that had picks already
    (retries, rows of an interrupted run)."""
    seen: set[int] = set()
    for chunk in ranked:
        seen.update(chunk)
        yield chunk
    rest = [i for i in due if i not in seen]
    if rest:
        yield rest


def run_until_settled(
    rt: Runtime,
    *,
    respect_hour: bool = False,
    emails: Sequence[str] | None = None,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: Callable[[EditionReport], None] | None = None,
) -> EditionReport:
    """Run the edition, then wait for each retry time and run again, until no row waits
    for a retry (``digest run --wait``). Stops early when a batch could not reach the relay:
    waiting would not help."""
    report = run_edition(rt, respect_hour=respect_hour, emails=emails, progress=progress)
    sent = report.result.counts["sent"]
    while report.next_retry_at is not None and not report.result.errors:
        if on_wait:
            on_wait(report)
        sleep(max(1.0, (report.next_retry_at - rt.clock()).total_seconds()))
        report = run_edition(rt, respect_hour=respect_hour, emails=emails, progress=progress)
        sent += report.result.counts["sent"]
    report.result.counts["sent"] = sent  # "sent now": over every pass
    return report
