"""`python -m scheduler` (or `digest scheduler`): one active scheduler, any number of standbys.

The active process runs every job on its clock (``digest.timetable``): each configured
source's ingest on its own schedule, the due editions every few minutes (the same service
as `digest run --due-only`; the delivery ledger makes ticks idempotent), and the weekly
`prune-vectors` upkeep. It holds a lock while it does (``scheduler.leader``: a PostgreSQL
advisory lock, a Redis lock, or none on SQLite); another process started the same way
waits as a hot standby and takes over when the active one dies. A (re)start catches up
once: the editions tick runs at once, and a source whose slot passed since its last run is
ingested at once. SIGTERM (or Ctrl-C) stops it between jobs: the running job finishes,
nothing new starts, the lock is released, exit 0.

Jobs run one at a time, in the order they come due. Cron or systemd timers (deploy/) are
an alternative to this process: use one or the other for each kind of job (``--jobs``).
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from digest.cli.common import open_database
from digest.errors import DigestError, InputError
from digest.logs import configure_logging
from digest.pipeline.runtime import Runtime, utcnow
from digest.settings import Settings
from digest.timetable import JOB_KINDS, JobSpec, describe, parse_job_kinds, plan_jobs
from scheduler import jobs
from scheduler.jobs import tick
from scheduler.leader import (
    DEFAULT_RETRY,
    DEFAULT_TTL,
    LockKind,
    Role,
    Timings,
    choose_lock,
    next_role,
)
from scheduler.locks import LeaderLock, make_lock

__all__ = ["SchedulerProcess", "main", "tick"]

log = logging.getLogger("digest.scheduler")
LOCK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class SchedulerProcess:
    """The leader loop (main thread) around an APScheduler with one worker thread."""

    def __init__(
        self,
        runtime: Runtime,
        lock: LeaderLock,
        timings: Timings,
        *,
        every: int,
        kinds: frozenset[str],
        stop: threading.Event,
    ):
        self.runtime = runtime
        self.lock = lock
        self.timings = timings
        self.every = every
        self.kinds = kinds
        self.stop = stop
        self.role = Role.STARTING
        self.scheduler = BackgroundScheduler(
            timezone=UTC, executors={"default": ThreadPoolExecutor(max_workers=1)}
        )

    def run(self) -> int:
        self.scheduler.start(paused=True)
        problem = None
        try:
            while not self.stop.is_set():
                has_lock = self.lock.held() if self.role is Role.ACTIVE else self.lock.acquire()
                if self.lock.problem and self.lock.problem != problem:
                    log.warning("%s: %s", self.lock.label, self.lock.problem)
                problem = self.lock.problem
                change = next_role(
                    self.role, has_lock, lock=self.lock.label, retry=self.timings.retry
                )
                if change.stop_jobs:
                    self._stop_jobs()
                self.role = change.role
                if change.message:
                    log.info(change.message)
                if change.start_jobs and not self._start_jobs():
                    self.lock.release()  # could not plan: let another scheduler try
                    self.role = Role.STANDBY
                self.stop.wait(self.timings.retry * change.wait_retries)
        finally:
            log.info("stopping: waiting for the running job, starting nothing new")
            self.scheduler.shutdown(wait=True)
            self.lock.release()
        log.info("stopped")
        return 0

    def _start_jobs(self) -> bool:
        try:
            sources = jobs.load_sources(self.runtime) if "ingest" in self.kinds else []
            specs = plan_jobs(sources, utcnow(), every_minutes=self.every, kinds=self.kinds)
        except DigestError as exc:
            log.error("cannot plan the jobs: %s", exc)
            return False
        except Exception as exc:  # the database went away between the lock and the plan
            log.error("cannot plan the jobs: %s: %s", type(exc).__name__, exc)
            return False
        for spec in specs:
            self._add(spec)
        for line in describe(specs):
            log.info("job %s", line)
        self.scheduler.resume()
        return True

    def _add(self, spec: JobSpec) -> None:
        extra: dict[str, Any] = {}
        if spec.first_run is not None:
            extra["next_run_time"] = spec.first_run
        self.scheduler.add_job(
            self._run,
            spec.schedule.trigger(spec.anchor),
            args=[spec.id, self._action(spec)],
            id=spec.id,
            name=spec.id,
            replace_existing=True,
            coalesce=True,  # slots missed while busy or paused run once, not once each
            max_instances=1,
            misfire_grace_time=spec.misfire_grace,
            **extra,
        )

    def _action(self, spec: JobSpec) -> Callable[[], None]:
        if spec.kind == "ingest":
            assert spec.source is not None
            source = spec.source
            return lambda: jobs.ingest(self.runtime, source)
        if spec.kind == "prune-vectors":
            return lambda: jobs.prune_vectors(self.runtime)
        return lambda: tick(self.runtime, ingest_first="ingest" in self.kinds)

    def _stop_jobs(self) -> None:
        self.scheduler.pause()
        self.scheduler.remove_all_jobs()

    def _run(self, job_id: str, action: Callable[[], None]) -> None:
        """One job, unless the process is stopping or no longer active (a job queued
        behind a long one when SIGTERM came or the lock was lost)."""
        if self.stop.is_set() or self.role is not Role.ACTIVE:
            log.info(
                "%s: not started (%s)", job_id, "stopping" if self.stop.is_set() else "standby"
            )
            return
        try:
            action()
        except Exception:  # a bug in one job must not stop the scheduler
            log.exception("%s: failed", job_id)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scheduler", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument(
        "--every",
        type=int,
        default=5,
        metavar="MINUTES",
        help="minutes between edition ticks (default 5)",
    )
    parser.add_argument("--once", action="store_true", help="run one edition tick now and exit")
    parser.add_argument(
        "--jobs",
        default="all",
        metavar="KINDS",
        help=f"comma-separated job kinds to run: {', '.join(JOB_KINDS)} (default all)",
    )
    parser.add_argument(
        "--lock-name",
        default="default",
        metavar="NAME",
        help="schedulers with the same name (and database) elect one active (default 'default')",
    )
    parser.add_argument(
        "--standby-retry",
        type=float,
        default=DEFAULT_RETRY,
        metavar="SECONDS",
        help="how often a standby tries the lock and the active one checks it "
        f"(default {DEFAULT_RETRY:g})",
    )
    parser.add_argument(
        "--lock-ttl",
        type=float,
        default=DEFAULT_TTL,
        metavar="SECONDS",
        help=f"Redis lock: expiry after the last renewal (default {DEFAULT_TTL:g})",
    )
    return parser


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    parser = build_parser()
    if prog:
        parser.prog = prog
    args = parser.parse_args(argv)
    try:
        configure_logging()
        if not 1 <= args.every <= 60:
            raise InputError("--every: must be between 1 and 60 minutes")
        if not LOCK_NAME.match(args.lock_name):
            raise InputError("--lock-name: use 1-64 letters, digits, '.', '_' or '-'")
        kinds = parse_job_kinds(args.jobs)
        timings = Timings(retry=args.standby_retry, ttl=args.lock_ttl)
        settings = Settings.from_env()
        runtime = Runtime.from_settings(settings, db=open_database(settings))
        if args.once:
            tick(runtime)
            return 0
        if "ingest" in kinds:  # a bad [sources.*] table stops the start, not every takeover
            plan_jobs(jobs.load_sources(runtime), utcnow(), every_minutes=args.every)
    except DigestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    kind = choose_lock(runtime.db.engine.dialect.name, settings.redis_url)
    lock = make_lock(
        kind,
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        name=args.lock_name,
        timings=timings,
    )
    if kind is LockKind.NONE:
        log.info(
            "SQLite without Redis: no lock is taken; run one scheduler process only "
            "(PostgreSQL or DIGEST_REDIS_URL give a standby)"
        )
    else:
        log.info(
            "leader election with a %s named %r: a standby takes over within %g s",
            lock.label, args.lock_name, timings.takeover_bound(kind),
        )  # fmt: skip
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("%s received", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    process = SchedulerProcess(runtime, lock, timings, every=args.every, kinds=kinds, stop=stop)
    return process.run()


if __name__ == "__main__":
    sys.exit(main())
