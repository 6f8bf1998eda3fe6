"""digest.timetable: source schedules, catch-up after downtime, the jobs of a scheduler."""

from datetime import UTC, datetime, timedelta

import pytest

from digest.errors import InputError
from digest.ingest.sources import make_source
from digest.timetable import (
    DEFAULT_SCHEDULES,
    SourceInfo,
    missed,
    overdue,
    parse_job_kinds,
    parse_schedule,
    plan_jobs,
    source_schedule,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def slots(text: str, start: datetime, count: int) -> list[datetime]:
    schedule, found, moment = parse_schedule(text), [], start
    for _ in range(count):
        moment = schedule.next_after(moment)
        found.append(moment)
    return found


def test_arxiv_default_follows_the_announcements_in_new_york_time() -> None:
    """20:30 US Eastern, Sunday to Thursday: 01:30 UTC in winter, 00:30 UTC in summer."""
    schedule = source_schedule("arxiv_feed", None)
    assert schedule.text == DEFAULT_SCHEDULES["arxiv_feed"]
    # Friday 2026-01-09 noon UTC: the next announcement is Sunday evening in New York
    winter = slots(schedule.text, at("2026-01-09T12:00:00"), 5)
    assert [s.astimezone(UTC).isoformat() for s in winter] == [
        "2026-01-12T01:30:00+00:00",  # Sun 20:30 EST
        "2026-01-13T01:30:00+00:00",  # Mon
        "2026-01-14T01:30:00+00:00",  # Tue
        "2026-01-15T01:30:00+00:00",  # Wed
        "2026-01-16T01:30:00+00:00",  # Thu, then nothing until Sunday
    ]
    summer = slots(schedule.text, at("2026-07-10T12:00:00"), 1)[0]
    assert summer.astimezone(UTC).isoformat() == "2026-07-13T00:30:00+00:00"  # EDT


def test_day_of_week_has_crontabs_meaning() -> None:
    """APScheduler counts weekdays from Monday; a crontab line counts from Sunday (0 or 7)."""
    friday = at("2026-01-09T12:00:00")
    assert slots("0 9 * * 0", friday, 1) == slots("0 9 * * sun", friday, 1)
    assert slots("0 9 * * 7", friday, 1) == slots("0 9 * * sun", friday, 1)
    assert slots("0 9 * * 0", friday, 1)[0].weekday() == 6  # Sunday
    assert slots("30 20 * * 0-4", friday, 5) == slots("30 20 * * sun-thu", friday, 5)
    assert slots("0 9 * * 1-5", friday, 5) == slots("0 9 * * mon-fri", friday, 5)
    assert {s.weekday() for s in slots("0 9 * * mon-sun", friday, 7)} == set(range(7))
    assert {s.weekday() for s in slots("0 9 * * */2", friday, 8)} == {6, 1, 3, 5}
    assert {s.weekday() for s in slots("0 9 * * 5/2", friday, 4)} == {4, 6}  # Fri, Sun


def test_intervals() -> None:
    assert parse_schedule("every 1h30m").every == timedelta(minutes=90)
    assert parse_schedule("Every  30 m").every == timedelta(minutes=30)
    assert parse_schedule("every 2d").every == timedelta(days=2)
    assert slots("every 45s", at("2026-01-01T00:00:00"), 2)[1] == at("2026-01-01T00:01:30")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "expected a cron line"),
        ("61 * * * *", "minute"),
        ("* * * *", "five cron fields"),
        ("0 9 1 * mon", "not both"),
        ("0 9 * * 3-1", "goes backwards"),
        ("0 9 * * funday", "bad day of week"),
        ("0 9 * * * Mars/Olympus", "unknown time zone"),
        ("every 0m", "at least one second"),
        ("every 3 weeks", "five cron fields"),
    ],
)
def test_bad_schedules_say_why(text: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        parse_schedule(text)


def test_a_source_takes_a_schedule_option() -> None:
    config = make_source("hf", "hf_daily", {"schedule": "every 2h"})
    assert config.options["schedule"] == "every 2h"
    with pytest.raises(InputError, match=r"source hf: option schedule: .*five cron fields"):
        make_source("hf", "hf_daily", {"schedule": "hourly"})


def test_missed_slots() -> None:
    nightly = parse_schedule("0 3 * * *")
    now = at("2026-03-10T12:00:00")
    assert missed(nightly, None, now)  # never ran
    assert not missed(nightly, at("2026-03-10T03:00:00"), now)  # ran at today's slot
    assert missed(nightly, at("2026-03-09T03:00:00"), now)  # today's slot passed unrun
    assert missed(nightly, at("2026-03-01T03:00:00"), now)  # many missed: still one catch-up
    hourly = parse_schedule("every 1h")
    assert not missed(hourly, now - timedelta(minutes=59), now)
    assert missed(hourly, now - timedelta(minutes=60), now)


def test_an_editions_tick_ingests_what_was_announced_before_it() -> None:
    """arXiv announces at 20:00 New York time (01:00 UTC in winter); its feed is read at
    20:30. A reader in Kolkata at 07:00 (01:30 UTC) is due at the same moment: the tick
    ingests first, so the digest holds that evening's announcements."""
    tick = at("2026-01-14T01:30:00")
    arxiv = SourceInfo("arxiv", "arxiv_feed", None, True, at("2026-01-13T01:30:00"))
    assert overdue([arxiv], tick) == ["arxiv"]  # tonight's slot passed, not yet read
    read = SourceInfo("arxiv", "arxiv_feed", None, True, at("2026-01-14T01:30:00"))
    assert overdue([read], tick) == []  # the ingest job ran first: nothing to do
    assert overdue([read], at("2026-01-14T12:00:00")) == []  # no slot since
    # Friday and Saturday evenings have no announcements: no slot, no ingest.
    friday = SourceInfo("arxiv", "arxiv_feed", None, True, at("2026-01-16T01:30:00"))
    assert overdue([friday], at("2026-01-18T00:00:00")) == []
    disabled = SourceInfo("old", "feed", None, False, None)
    never = SourceInfo("new", "feed", None, True, None)
    assert overdue([disabled, never], tick) == ["new"]  # never run: overdue; disabled: never


def test_plan_jobs_catches_up_once_and_ingests_before_sending() -> None:
    now = at("2026-03-10T12:00:00")
    sources = [
        SourceInfo("arxiv", "arxiv_feed", None, True, at("2026-03-10T00:30:00")),  # on time
        SourceInfo("hf", "hf_daily", "every 1h", True, at("2026-03-10T09:00:00")),  # late
        SourceInfo("old", "feed", None, False, None),  # disabled: no job
    ]
    jobs = {job.id: job for job in plan_jobs(sources, now, every_minutes=5)}
    assert set(jobs) == {"ingest:arxiv", "ingest:hf", "editions", "prune-vectors"}
    assert jobs["ingest:arxiv"].first_run is None
    assert jobs["ingest:hf"].first_run == now
    assert jobs["ingest:hf"].anchor == at("2026-03-10T09:00:00")  # the interval's grid
    assert jobs["editions"].first_run == now + timedelta(seconds=1)  # after the catch-up
    assert jobs["prune-vectors"].first_run is None
    # nothing to catch up: the editions tick runs at once
    on_time = [SourceInfo("arxiv", "arxiv_feed", None, True, at("2026-03-10T00:30:00"))]
    assert {j.id: j.first_run for j in plan_jobs(on_time, now, every_minutes=5)}["editions"] == now


def test_plan_jobs_runs_only_the_kinds_asked_for() -> None:
    sources = [SourceInfo("hf", "hf_daily", None, True, None)]
    now = at("2026-03-10T12:00:00")
    only = plan_jobs(sources, now, every_minutes=5, kinds=parse_job_kinds("ingest"))
    assert [j.id for j in only] == ["ingest:hf"]
    assert parse_job_kinds("all") == parse_job_kinds("editions,ingest,prune-vectors")
    with pytest.raises(InputError, match="unknown job kind"):
        parse_job_kinds("editions,backups")
