"""Deliver an edition on Celery workers, following the ledger rather than task results.

``digest run`` enqueues one task per batch (delivery ids only), then watches the rows
themselves: progress is what the database says, not what a result backend reports. So a
worker killed with ``kill -9``, tasks lost when the broker restarts, or a task that never
arrives only delay the edition: rows that stay open while nothing moves are enqueued again
(the sweeper), and the claims make a row delivered twice harmless. A batch that could not
reach the relay notes the reason on its rows, and the run stops with that one line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.db import ledger, tracking
from digest.db.leader import advisory_unlock, try_advisory_lock
from digest.errors import ConfigError, DigestError
from digest.pipeline.runtime import Runtime
from digest.pipeline.service import BatchResult, batches

log = logging.getLogger(__name__)

EXACT_BELOW = 10_000  # open rows under which progress is followed id by id
# A poll's count reads every open row of the editions (about 2 us a row on PostgreSQL):
# polled every 0.5 s, a 100,000-reader edition spent about a third of a core counting at its
# start. So polls come less often while many rows are open: at most this many open rows
# a second of waiting, and at least every MAX_POLL seconds (well within ``stall``).
OPEN_ROWS_PER_POLL_SECOND = 10_000
MAX_POLL = 5.0
# A poll also waits at least POLL_COST_SHARE times what the last one took: the count reads
# the status index's entries of rows sent since the table was last vacuumed too (0.15 to
# 0.25 s by the end of a 100,000-reader edition, whatever is left open), so polling by the
# rule above spent up to half a core on it near the end. So that polling takes at most a
# twentieth of a core, up to MAX_COST_POLL seconds between polls.
POLL_COST_SHARE = 20
MAX_COST_POLL = 10.0

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Patience:
    """How long to wait: for any progress before open rows are enqueued again, and in all
    without progress before the run gives up (the rows stay open for the next run)."""

    stall: float = 30.0
    give_up: float = 600.0
    poll: float = 0.5
    enqueue_attempts: int = 5


# A PostgreSQL advisory lock key of its own (the scheduler's leader lock uses another).
ENQUEUE_LOCK_KEY = 0x6469676573740001  # "digest" + 1


class EnqueueLock:
    """One `digest run` at a time puts rows on the queue; another that overlaps it (a second
    shell, cron and the scheduler) only follows the ledger, so no row is enqueued twice. It
    tries again at every poll and, once the first run ends (or dies: the lock goes with its
    database session), takes over, which includes enqueueing rows that stalled or that only
    it planned. PostgreSQL only (a session-level advisory lock on a connection of its own);
    with SQLite every run enqueues, as before (the claims keep a row from being sent twice).
    """

    def __init__(self, rt: Runtime):
        self.conn = rt.db.engine.connect() if rt.db.is_postgres else None
        self.held = self.conn is None
        self.try_take()

    def try_take(self) -> bool:
        if not self.held and self.conn is not None:
            self.held = try_advisory_lock(self.conn, ENQUEUE_LOCK_KEY)
            self.conn.commit()
            if self.held:
                log.info("this run now enqueues (no other run does)")
        return self.held

    def release(self) -> None:
        if self.conn is None:
            return
        try:
            if self.held:
                advisory_unlock(self.conn, ENQUEUE_LOCK_KEY)
                self.conn.commit()
        finally:
            self.conn.close()
            self.conn = None


class Broker:
    """Enqueues batches, reconnecting when the broker went away."""

    def __init__(self, rt: Runtime, attempts: int, sleep: Callable[[float], None]):
        # Lazy: Celery loads only when an edition is fanned out to workers.
        from digest.pipeline.celery_app import make_celery

        self.celery = make_celery(rt.settings)
        self.task = self.celery.tasks["digest.deliver_batch"]
        self.attempts = attempts
        self.sleep = sleep

    def enqueue(self, chunks: Sequence[Sequence[int]]) -> None:
        # Lazy, like Celery itself: the broker clients' errors, only when enqueueing.
        from kombu.exceptions import OperationalError
        from redis.exceptions import RedisError

        for attempt in range(1, self.attempts + 1):
            try:
                with self.celery.connection_for_write() as conn:
                    conn.ensure_connection(max_retries=1, timeout=5)
                    for chunk in chunks:
                        self.task.apply_async((list(chunk),), connection=conn)
                return
            except (OperationalError, RedisError, OSError) as exc:
                if attempt == self.attempts:
                    raise ConfigError(
                        f"DIGEST_BROKER_URL: cannot reach the broker: {exc}"
                    ) from None
                log.warning("broker unreachable (%s); trying again", exc)
                self.sleep(min(2.0 * attempt, 10.0))


def deliver_on_workers(
    rt: Runtime,
    chunks: Iterable[Sequence[int]],
    *,
    progress: Progress | None = None,
    patience: Patience | None = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> BatchResult:
    """Enqueue the rows in batches, chunk by chunk as ranking hands them over, and wait
    until none is left to handle now."""
    patience = patience or Patience(
        stall=rt.settings.stall_seconds, give_up=rt.settings.give_up_seconds
    )
    started = rt.clock()
    broker = Broker(rt, patience.enqueue_attempts, sleep)
    lock = EnqueueLock(rt)
    try:
        return _deliver(rt, chunks, broker, lock, started, progress, patience, sleep, monotonic)
    finally:
        lock.release()


def poll_interval(poll: float, open_count: int, *, exact: bool, cost: float = 0.0) -> float:
    """Seconds until the next poll: ``poll`` when following rows id by id (the end of the
    run, a stall, a relay error), longer while many rows are open (see MAX_POLL), and at
    least POLL_COST_SHARE times ``cost``, what the next poll should take, going by the last
    one (up to MAX_COST_POLL)."""
    pace = poll
    if not exact:
        pace = min(max(poll, open_count / OPEN_ROWS_PER_POLL_SECOND), max(poll, MAX_POLL))
    return max(pace, min(POLL_COST_SHARE * cost, max(poll, MAX_COST_POLL)))


def _deliver(
    rt: Runtime,
    chunks: Iterable[Sequence[int]],
    broker: Broker,
    lock: EnqueueLock,
    started: datetime,
    progress: Progress | None,
    patience: Patience,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
) -> BatchResult:
    ids: list[int] = []
    for chunk in chunks:
        if lock.held:  # else another run is enqueueing this edition: follow it
            broker.enqueue(batches(chunk, rt.settings.batch_size))
        ids.extend(chunk)
    if not lock.held:
        log.info("another `digest run` is enqueueing; this one follows the ledger")
    total = len(ids)
    result = BatchResult()
    left = total
    remaining = ids  # each exact poll reads only the rows still open at the last one
    with rt.db.session() as session:
        editions = tracking.edition_ids_of(session, ids)
    moved_at = monotonic()
    progressed_at = moved_at
    by_id = False  # following our rows id by id from now on (the last ones, a relay error)
    while True:
        now = rt.clock()
        polled_at = monotonic()
        stalled = polled_at - moved_at > patience.stall
        open_rows: dict[int, str] = {}
        errors: list[str] = []
        with rt.db.session() as session:
            ledger.expire_leases(session, now)  # a dead worker's row in 'sending' settles
            # Cheap while many rows are open: a count over the editions' open rows (the
            # status index), not a lookup of every id. Exact (our ids only, and only those
            # still open at the last exact poll) near the end, when a batch noted a relay
            # error, or when nothing moved; from then on, without the count.
            if not (by_id or stalled):
                open_count, noted = tracking.open_in_editions(session, editions, now, since=started)
                by_id = open_count <= EXACT_BELOW or noted > 0
            exact = by_id or stalled
            if exact:
                read = len(remaining)
                open_rows, noted = tracking.following(session, remaining, now, since=started)
                remaining = list(open_rows)
                open_count = len(open_rows)
                if noted:
                    errors = tracking.session_errors(session, remaining, started)
        cost = monotonic() - polled_at
        if exact:  # the next poll reads only the rows still open: it costs that much less
            cost *= open_count / max(read, 1)
        if progress:
            progress(total - min(open_count, total), total)
        if exact and not open_rows:
            break
        if errors and "sending" not in open_rows.values():
            result.errors.extend(errors)  # the relay refuses us: waiting will not help
            break
        if open_count < left:
            left, moved_at = open_count, monotonic()
            progressed_at = moved_at
        elif monotonic() - progressed_at > patience.give_up:
            raise DigestError(
                f"no worker delivered anything for {patience.give_up:.0f} s (is `celery -A "
                "digest.pipeline worker` running?); the ledger keeps what was sent, run "
                "again to continue"
            )
        elif stalled and exact and lock.try_take():  # only the run that enqueues sweeps
            waiting = [i for i, status in open_rows.items() if status != "sending"]
            log.info("%d rows made no progress: enqueued again", len(waiting))
            try:
                broker.enqueue(batches(waiting, rt.settings.batch_size))
            except ConfigError as exc:
                log.warning("%s; will try again", exc)
            moved_at = monotonic()
        sleep(poll_interval(patience.poll, open_count, exact=exact, cost=cost))
    with rt.db.session() as session:
        for outcome in tracking.outcomes_of(session, ids):
            result.counts[str(outcome["status"])] += 1
            result.outcomes.append(outcome)
    return result
