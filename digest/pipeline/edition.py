"""Run one edition: plan, then deliver the batches in-process or on Celery workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from digest.errors import ConfigError, DigestError
from digest.pipeline.runtime import Runtime
from digest.pipeline.service import BatchResult, Plan, batches, deliver_batch, plan_edition
from digest.settings import Settings

Progress = Callable[[int, int], None]  # (rows done, rows total)


@dataclass
class EditionReport:
    plan: Plan
    result: BatchResult

    def summary(self) -> dict[str, int]:
        counts = self.result.counts
        return {
            "sent": counts["sent"],
            "skipped": counts["skipped"],
            "failed": counts["failed"] + counts["retry"],
            "will retry": counts["retry"],
            "already done": sum(self.plan.settled.values()) + counts["not claimed"],
            "unknown": self.plan.expired_leases,
        }

    @property
    def ok(self) -> bool:
        counts = self.result.counts
        return counts["failed"] + counts["retry"] == 0 and not self.result.errors


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
    timeout: float = 3600,
) -> EditionReport:
    check_links_for_smtp(rt.settings)
    plan = plan_edition(rt, respect_hour=respect_hour, emails=emails)
    total = len(plan.delivery_ids)
    result = BatchResult()
    done = 0
    if progress:
        progress(0, total)
    chunks = batches(plan.delivery_ids, rt.settings.batch_size)
    if rt.settings.in_process:
        for chunk in chunks:
            result.merge(deliver_batch(rt, chunk))
            done += len(chunk)
            if progress:
                progress(done, total)
    elif chunks:
        for chunk, batch in zip(chunks, _on_workers(rt, chunks, timeout), strict=True):
            result.merge(batch)
            done += len(chunk)
            if progress:
                progress(done, total)
    return EditionReport(plan, result)


def _on_workers(rt: Runtime, chunks: list[list[int]], timeout: float) -> Iterator[BatchResult]:
    """Enqueue one task per batch (ids only) and yield their results in order."""
    from celery import group
    from celery.exceptions import TimeoutError as CeleryTimeout
    from kombu.exceptions import OperationalError

    from digest.pipeline.celery_app import make_celery

    celery = make_celery(rt.settings)
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=5)
        task = celery.tasks["digest.deliver_batch"]
        pending = group(task.s(chunk) for chunk in chunks).apply_async()
    except OperationalError as exc:
        raise ConfigError(f"DIGEST_BROKER_URL: cannot reach the broker: {exc}") from None
    try:
        for async_result in pending.results:
            yield BatchResult.from_json(async_result.get(timeout=timeout))
    except CeleryTimeout:
        raise DigestError(
            f"no worker finished a batch within {timeout:.0f} s (is `celery -A digest.pipeline "
            "worker` running?); the ledger keeps what was sent, run again to continue"
        ) from None
