"""`python -m scheduler`: an APScheduler process that runs due editions every few minutes.

Each tick calls the same service as `digest run --due-only`: readers whose local delivery
hour has come get their edition; the delivery ledger makes ticks idempotent, so a missed
or doubled tick neither skips nor repeats an email. Ingestion jobs and per-source
schedules arrive with the scheduling issue; cron/systemd timers (see deploy/) are an
alternative to this process.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from digest.cli.common import open_database
from digest.errors import DigestError
from digest.pipeline.edition import run_edition
from digest.pipeline.runtime import Runtime
from digest.settings import Settings

log = logging.getLogger("digest.scheduler")


def tick(runtime: Runtime) -> None:
    """One scheduling pass: send every edition that is due now."""
    try:
        report = run_edition(runtime, respect_hour=True)
    except DigestError as exc:
        log.error("edition run failed: %s", exc)
        return
    log.info("edition tick: %s", report.summary())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduler", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--every", type=int, default=5, metavar="MINUTES", help="minutes between ticks (default 5)"
    )
    parser.add_argument("--once", action="store_true", help="run one tick now and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = Settings.from_env()
        runtime = Runtime.from_settings(settings, db=open_database(settings))
    except DigestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.once:
        tick(runtime)
        return 0
    if not 1 <= args.every <= 60:
        parser.error("--every must be between 1 and 60 minutes")
    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(
        tick,
        CronTrigger(minute=f"*/{args.every}"),
        args=[runtime],
        id="editions",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=300,
    )
    log.info("scheduler started: editions every %d minutes", args.every)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
