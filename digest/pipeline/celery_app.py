"""The Celery application and its one task: deliver a batch of ledger rows.

Tasks carry delivery ids only and call the same service function as the in-process run.
``acks_late`` with ``reject_on_worker_lost`` requeues the batch of a killed worker; the
ledger makes the redelivery harmless (rows already sent are not claimable).
Retries are scheduled through the ledger (``next_attempt_at``), never with long Celery
countdowns, which Redis would redeliver after its visibility timeout. Tasks return nothing
to wait for: ``digest run`` follows the ledger rows themselves (no result backend), so a
lost task, a killed worker or a restarted broker only delays an edition.
"""

from __future__ import annotations

import logging
import time
from functools import cache

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, worker_process_init

from digest.logs import JsonFormatter, log_format
from digest.pipeline.runtime import Runtime
from digest.pipeline.service import deliver_batch
from digest.settings import Settings

log = logging.getLogger(__name__)


@after_setup_logger.connect
@after_setup_task_logger.connect
def _json_logs(logger, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """``DIGEST_LOG_FORMAT=json``: the worker's own log lines are JSON objects too, one per
    line, like the scheduler's and the web app's (Celery's documented logging signals)."""
    if log_format() == "json":
        for handler in logger.handlers:
            handler.setFormatter(JsonFormatter())


def make_celery(settings: Settings) -> Celery:
    celery = Celery("digest", broker=settings.broker_url)
    celery.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        # A batch not acknowledged within a lease (and a minute) goes to another worker;
        # the ledger's claims make the second delivery harmless.
        broker_transport_options={"visibility_timeout": settings.lease_seconds + 60},
        task_default_queue="digest",
        worker_hijack_root_logger=False,
    )
    celery.task(name="digest.deliver_batch", bind=False)(_deliver_batch_task)
    return celery


@cache
def _runtime() -> Runtime:
    """One runtime per worker process: engine pool, cached templates, signer."""
    return Runtime.from_settings(Settings.from_env())


@worker_process_init.connect
def _fresh_runtime(**_: object) -> None:
    """Forked pool processes must not share the parent's database connections: each
    builds its own runtime as it starts (templates compiled and checked, the engine made),
    so that its first batch starts sending at once rather than after that. A runtime that
    cannot be built is left to the first task, which fails with the reason as before."""
    _runtime.cache_clear()
    started = time.perf_counter()
    try:
        _runtime()
    except Exception as exc:  # a broken template or setting: the tasks report it
        log.warning("the worker's runtime is not ready: %s", exc)
    else:
        log.info("runtime ready in %.2f s", time.perf_counter() - started)


def _deliver_batch_task(delivery_ids: list[int]) -> None:
    deliver_batch(_runtime(), delivery_ids)


app = make_celery(Settings.from_env())
