"""Job timetables, pure: which scheduled job runs when, and what a restart must catch up.

A source's ``schedule`` (a key of its ``[sources.NAME]`` table, or ``-o schedule=...``) is
either a crontab line of five fields, optionally followed by an IANA time zone
(``30 20 * * sun-thu America/New_York``; UTC without one), or an interval
(``every 1h``, ``every 30m``, ``every 1h30m``). The day of week has crontab's meaning
(0 and 7 are Sunday, ranges such as ``sun-thu`` go forward from Sunday); restricting both
the day of month and the day of week is refused, because crontab ORs them and most
readers expect AND. Without a ``schedule`` a source runs on its kind's default
(:data:`DEFAULT_SCHEDULES`).

The scheduler process (``scheduler/``) turns the :class:`JobSpec` list of
:func:`plan_jobs` into APScheduler jobs. A job "missed its slot" when a slot of its
schedule passed since its last recorded run (:func:`missed`): such a job runs once at
start-up (or when a standby takes over), however many slots were missed.

APScheduler's triggers are used as calculators only (no I/O): they know calendars and
daylight saving time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.errors import InputError

if TYPE_CHECKING:  # APScheduler is imported when a schedule is parsed, not with this module
    from apscheduler.triggers.base import BaseTrigger

# arXiv announces new submissions at 20:00 US Eastern, Sunday to Thursday (none on Friday
# and Saturday evenings, nor on its holidays); its API and feeds show them shortly after.
ARXIV_SCHEDULE = "30 20 * * sun-thu America/New_York"
DEFAULT_SCHEDULES: dict[str, str] = {
    "arxiv_feed": ARXIV_SCHEDULE,
    "arxiv_api": ARXIV_SCHEDULE,
    # Hugging Face Daily Papers are featured through the (European and American) day.
    "hf_daily": "15 6-22 * * * UTC",
    "feed": "every 1h",
    "file": "every 1h",
}
# The upkeep job: `digest db prune-vectors` once a week, on a quiet night.
PRUNE_SCHEDULE = "30 3 * * sun UTC"
JOB_KINDS = ("editions", "ingest", "prune-vectors")

_FIELDS = ("minute", "hour", "day", "month", "day_of_week")
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering
_INTERVAL = re.compile(r"^every\s+((?:\d+\s*[smhd]\s*)+)$", re.IGNORECASE)
_INTERVAL_PART = re.compile(r"(\d+)\s*([smhd])", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed schedule: a cron line in a time zone, or a fixed interval."""

    text: str  # as written (or the default it came from)
    cron: tuple[str, str, str, str, str] | None = None  # minute hour day month day-of-week
    timezone: str = "UTC"
    every: timedelta | None = None

    def trigger(self, anchor: datetime | None = None) -> BaseTrigger:
        """The APScheduler trigger; an interval counts from ``anchor`` (its last run)."""
        # Lazy: APScheduler loads when a schedule is used, not with this module.
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        if self.every is not None:
            return IntervalTrigger(seconds=self.every.total_seconds(), start_date=anchor)
        assert self.cron is not None
        minute, hour, day, month, day_of_week = self.cron
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=day_of_week,
            timezone=ZoneInfo(self.timezone),
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after ``moment``."""
        if self.every is not None:
            return moment + self.every
        later = moment + timedelta(microseconds=1)
        fire: datetime | None = self.trigger().get_next_fire_time(None, later)
        assert fire is not None  # a valid cron line always fires again
        return fire


def parse_schedule(text: str) -> Schedule:
    """A ``schedule`` value → :class:`Schedule`; a bad one is an InputError saying why."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("schedule: expected a cron line or an interval such as 'every 1h'")
    text = " ".join(text.split())
    interval = _INTERVAL.match(text)
    if interval:
        seconds = sum(
            int(n) * _UNIT_SECONDS[unit.lower()]
            for n, unit in _INTERVAL_PART.findall(interval.group(1))
        )
        if seconds < 1:
            raise InputError(f"schedule {text!r}: the interval must be at least one second")
        return Schedule(text, every=timedelta(seconds=seconds))
    fields = text.split(" ")
    if len(fields) not in (5, 6):
        raise InputError(
            f"schedule {text!r}: expected five cron fields (minute hour day month weekday) "
            "and an optional time zone, or an interval such as 'every 1h'"
        )
    zone = fields[5] if len(fields) == 6 else "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"schedule {text!r}: unknown time zone {zone!r}") from None
    minute, hour, day, month, weekday = fields[:5]
    if day != "*" and weekday != "*":
        raise InputError(
            f"schedule {text!r}: restrict the day of month or the day of week, not both"
        )
    try:
        cron = (minute, hour, day, month, _weekdays(weekday))
    except ValueError as exc:
        raise InputError(f"schedule {text!r}: day of week: {exc}") from None
    from apscheduler.triggers.cron import CronTrigger  # lazy, as above

    for name, value in zip(_FIELDS, cron, strict=True):
        try:
            CronTrigger(**{name: value})  # APScheduler checks the field
        except ValueError as exc:
            label = name.replace("_", " ")
            raise InputError(f"schedule {text!r}: {label} {value!r}: {exc}") from None
    return Schedule(text, cron=cron, timezone=zone)


def _weekdays(field: str) -> str:
    """A crontab day-of-week field → APScheduler's names (its numbers start on Monday,
    crontab's on Sunday, so numbers and ranges are translated, never passed through)."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = _day_number(step_text, step=True) if step_text else 1
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            first_text, _, last_text = span.partition("-")
            first, last = _day_number(first_text), _day_number(last_text, upper=True)
            if first > last:
                raise ValueError(f"day-of-week range {span!r} goes backwards (Sunday is 0)")
        else:
            first = last = _day_number(span)
            if step_text:
                last = 7  # "5/2": 5 and then every second day up to 7 (Sunday)
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_DAY_NAMES[d] for d in sorted(days))


def _day_number(text: str, *, upper: bool = False, step: bool = False) -> int:
    text = text.strip().lower()
    if step:
        if not text.isdigit() or not 1 <= int(text) <= 7:
            raise ValueError(f"bad day-of-week step {text!r}")
        return int(text)
    if text in _DAY_NAMES:
        number = _DAY_NAMES.index(text)
        return 7 if upper and number == 0 else number  # "mon-sun" ends on Sunday
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text)
    raise ValueError(f"bad day of week {text!r} (0-7 or sun..sat)")


def check_schedule(value: object) -> str:
    """The option check of a source's ``schedule``: the text, validated."""
    if not isinstance(value, str):
        raise ValueError("expected a cron line or an interval such as 'every 1h'")
    try:
        return parse_schedule(value).text
    except InputError as exc:
        raise ValueError(str(exc).removeprefix("schedule ")) from None


def source_schedule(kind: str, text: str | None) -> Schedule:
    """A source's own schedule, or its kind's default."""
    return parse_schedule(text or DEFAULT_SCHEDULES.get(kind, "every 1h"))


def missed(schedule: Schedule, last_run: datetime | None, now: datetime) -> bool:
    """Did a slot pass since ``last_run``? (Never run counts as missed.)"""
    return last_run is None or schedule.next_after(last_run) <= now


def overdue(sources: Iterable[SourceInfo], now: datetime) -> list[str]:
    """The enabled sources with a slot that passed since their last run: what an editions
    tick ingests before it sends, so a reader's digest at their hour includes everything
    announced before it, even when the ingest job's own slot is at the same minute or was
    missed (a failed run counts as a run: it is tried again at its next slot)."""
    return [
        s.name
        for s in sources
        if s.enabled and missed(source_schedule(s.kind, s.schedule), s.last_run, now)
    ]


# -- the jobs of one scheduler ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What planning needs of a configured source."""

    name: str
    kind: str
    schedule: str | None
    enabled: bool
    last_run: datetime | None


@dataclass(frozen=True, slots=True)
class JobSpec:
    id: str  # "editions", "ingest:NAME", "prune-vectors"
    kind: str  # one of JOB_KINDS
    schedule: Schedule
    first_run: datetime | None  # set: run then (a catch-up); None: at the next slot
    source: str | None = None
    anchor: datetime | None = None  # where an interval counts from
    misfire_grace: int = 3600  # seconds a late slot may still start


def parse_job_kinds(text: str) -> frozenset[str]:
    """``--jobs editions,ingest`` → the set; ``all`` is every kind."""
    names = {n.strip() for n in text.split(",") if n.strip()}
    if names == {"all"}:
        return frozenset(JOB_KINDS)
    unknown = sorted(names - set(JOB_KINDS))
    if unknown or not names:
        raise InputError(
            f"--jobs: unknown job kind(s) {', '.join(unknown) or '(none)'} "
            f"(choose from {', '.join(JOB_KINDS)}, or all)"
        )
    return frozenset(names)


def plan_jobs(
    sources: Iterable[SourceInfo],
    now: datetime,
    *,
    every_minutes: int,
    kinds: frozenset[str] = frozenset(JOB_KINDS),
) -> list[JobSpec]:
    """Every job of an active scheduler, with the catch-ups a (re)start owes.

    - ``editions`` every ``every_minutes`` minutes, and once right away: the due-edition
      rule (``digest.schedule``) sends every reader whose hour passed today, and the ledger
      makes a repeated tick harmless, so downtime costs a delay, not a digest.
    - ``ingest:NAME`` per enabled source on its schedule; once right away when a slot
      passed since its last recorded run (the ``sources`` table: shared by every scheduler,
      so a standby that takes over catches up what the dead one missed, once).
    - ``prune-vectors`` weekly; no catch-up (nothing records its runs, and a missed week
      costs only disk space).

    Catch-up ingests are due a second before the editions' first tick, so on a one-thread
    executor a restart ingests first and sends after.
    """
    jobs: list[JobSpec] = []
    catching_up = False
    if "ingest" in kinds:
        for source in sorted(sources, key=lambda s: s.name):
            if not source.enabled:
                continue
            schedule = source_schedule(source.kind, source.schedule)
            late = missed(schedule, source.last_run, now)
            catching_up |= late
            jobs.append(
                JobSpec(
                    id=f"ingest:{source.name}",
                    kind="ingest",
                    schedule=schedule,
                    first_run=now if late else None,
                    source=source.name,
                    anchor=source.last_run if schedule.every is not None else None,
                )
            )
    if "editions" in kinds:
        schedule = parse_schedule(f"*/{every_minutes} * * * *")
        first = now + timedelta(seconds=1) if catching_up else now
        jobs.append(
            JobSpec("editions", "editions", schedule, first, misfire_grace=60 * every_minutes)
        )
    if "prune-vectors" in kinds:
        jobs.append(
            JobSpec(
                "prune-vectors",
                "prune-vectors",
                parse_schedule(PRUNE_SCHEDULE),
                None,
                misfire_grace=6 * 3600,
            )
        )
    return jobs


def describe(jobs: Sequence[JobSpec]) -> list[str]:
    """One line per job for the log."""
    return [
        f"{job.id}: {job.schedule.text}" + (" (catching up now)" if job.first_run else "")
        for job in jobs
    ]
