"""A whole year of dispatcher ticks on a frozen clock, per time zone: every reader gets
exactly one digest per local day (daily) or ISO week (weekly), at their hour.

No clock is patched: the simulated dispatcher passes each tick's instant to the pure
``due_edition`` (as ``plan_edition`` does with ``rt.clock()``) and remembers what it sent,
as the delivery ledger does. The time each digest should go out is computed on its own,
from the zone's offsets (not from ``due_edition``): the reader's hour on that day, its first
occurrence when the clock falls back, and the end of the gap when the hour does not exist
(spring forward), such as 02:00 in Berlin on 2026-03-29 or 03:00 in Chatham (02:45 ->
03:45) on 2026-09-27.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.schedule import due_edition, next_delivery

ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # 30-minute DST: 02:00 -> 02:30, 02:00 -> 01:30
    "Pacific/Chatham",  # UTC+12:45 / +13:45, changes at 02:45 local
    "Pacific/Kiritimati",  # UTC+14: its day starts ten hours before UTC's
)
YEAR = 2026
TICK = timedelta(minutes=15)
START = datetime(YEAR - 1, 12, 30, tzinfo=UTC)
END = datetime(YEAR + 1, 1, 3, tzinfo=UTC)


def ticks() -> list[datetime]:
    count = int((END - START) / TICK)
    return [START + TICK * i for i in range(count)]


TICKS = ticks()


def shifted_hours(zone: ZoneInfo) -> set[int]:
    """The local hours that a DST change of ``YEAR`` skips or repeats (wholly or in part)."""
    hours: set[int] = set()
    instant = datetime(YEAR, 1, 1, tzinfo=UTC)
    before = instant.astimezone(zone).utcoffset()
    while instant.year == YEAR:
        after = instant.astimezone(zone).utcoffset()
        if after != before:
            wall = instant.astimezone(zone).replace(tzinfo=None)
            assert before is not None and after is not None
            edge = wall - (after - before)  # the other side of the change, on the wall
            for moment in (min(wall, edge), max(wall, edge) - timedelta(minutes=1)):
                hours.add(moment.hour)
            before = after
        instant += timedelta(minutes=15)
    return hours


def hours_for(timezone: str) -> list[int]:
    return sorted({0, 7, 23} | shifted_hours(ZoneInfo(timezone)))


def expected_instant(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """The first instant of ``day`` (local) whose local hour is ``hour`` or later."""
    first = datetime(day.year, day.month, day.day, hour, tzinfo=zone, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == first.replace(tzinfo=None):
        return instant  # the hour exists (its first occurrence when it exists twice)
    # It falls in a spring-forward gap: the digest is due when the gap ends, the instant the
    # offset changes, which lies between the two readings of the missing wall time.
    moment = first.replace(fold=1).astimezone(UTC)  # read with the later offset: before
    offset = moment.astimezone(zone).utcoffset()
    while moment.astimezone(zone).utcoffset() == offset:
        moment += timedelta(minutes=1)
        assert moment <= instant  # read with the earlier offset: after
    return moment


def simulate(
    frequency: str, hour: int, timezone: str, weekday: int = 0
) -> dict[str, list[datetime]]:
    """Run the dispatcher at every tick; what it sent: edition key -> instants."""
    sent: dict[str, list[datetime]] = {}
    for now in TICKS:
        slot = due_edition(frequency, hour, timezone, now, respect_hour=True, weekday=weekday)
        if slot is None:
            continue
        if slot.key in sent:  # the ledger row exists: a second plan sends nothing
            continue
        sent[slot.key] = [now]
    return sent


def days_of_year() -> list[date]:
    first = date(YEAR, 1, 1)
    return [first + timedelta(days=i) for i in range((date(YEAR + 1, 1, 1) - first).days)]


def check_next_delivery(
    frequency: str, hour: int, timezone: str, weekday: int, instant: datetime
) -> None:
    """What a welcome email promises agrees with when the digest goes out."""
    promised = next_delivery(
        frequency, hour, timezone, instant - timedelta(minutes=1), weekday=weekday
    )
    assert promised.astimezone(UTC) == instant, (timezone, hour, instant)


@pytest.mark.parametrize("timezone", ZONES)
def test_a_daily_reader_gets_one_digest_each_local_day_at_their_hour(timezone: str) -> None:
    zone = ZoneInfo(timezone)
    for hour in hours_for(timezone):
        sent = simulate("daily", hour, timezone)
        for day in days_of_year():
            key = f"daily:{day.isoformat()}"
            assert key in sent, (timezone, hour, day)
            [instant] = sent[key]
            expected = expected_instant(day, hour, zone)
            assert expected.minute % 15 == 0  # every tick of the dispatcher can meet it
            assert instant == expected, (timezone, hour, day, instant.astimezone(zone))
            local = instant.astimezone(zone)
            assert local.date() == day and local.hour >= hour
            check_next_delivery("daily", hour, timezone, 0, instant)
        # each send belongs to the local day its key names, so one key is one day
        for key, [instant] in sent.items():
            assert key == f"daily:{instant.astimezone(zone).date().isoformat()}"


def iso_weeks() -> list[date]:
    """The Mondays of the ISO weeks that lie wholly inside the simulated span."""
    monday = date(YEAR, 1, 1) + timedelta(days=(7 - date(YEAR, 1, 1).weekday()) % 7)
    weeks = []
    while monday + timedelta(days=7) <= date(YEAR, 12, 31):
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


@pytest.mark.parametrize("timezone", ZONES)
def test_a_weekly_reader_gets_one_digest_each_week_on_their_day_and_hour(timezone: str) -> None:
    zone = ZoneInfo(timezone)
    # Monday (the default) and Sunday, the day of the DST changes of most of these zones
    for weekday in (0, 6):
        for hour in hours_for(timezone):
            sent = simulate("weekly", hour, timezone, weekday)
            for monday in iso_weeks():
                year, week, _ = monday.isocalendar()
                key = f"weekly:{year}-W{week:02d}"
                assert key in sent, (timezone, weekday, hour, key)
                [instant] = sent[key]
                day = monday + timedelta(days=weekday)
                assert instant == expected_instant(day, hour, zone), (
                    timezone, weekday, hour, key, instant.astimezone(zone),
                )  # fmt: skip
                check_next_delivery("weekly", hour, timezone, weekday, instant)
            # each send belongs to the local week its key names, so one key is one week
            for key, [instant] in sent.items():
                year, week, _ = instant.astimezone(zone).isocalendar()
                assert key == f"weekly:{year}-W{week:02d}"


def test_the_year_covers_gaps_and_repeats_of_every_kind() -> None:
    """The hours tested include the ones DST skips or repeats in each zone that has DST."""
    assert 2 in hours_for("Europe/Berlin") and 1 in hours_for("America/New_York")
    assert {1, 2} <= set(hours_for("Australia/Lord_Howe"))
    assert {2, 3} <= set(hours_for("Pacific/Chatham"))
    assert hours_for("Asia/Kolkata") == [0, 7, 23] == hours_for("Pacific/Kiritimati")
    # the missing 02:00 in Berlin is due at 03:00 CEST; the missing 03:00 in Chatham at 03:45
    berlin = expected_instant(date(2026, 3, 29), 2, ZoneInfo("Europe/Berlin"))
    assert berlin == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    chatham = expected_instant(date(2026, 9, 27), 3, ZoneInfo("Pacific/Chatham"))
    assert chatham.astimezone(ZoneInfo("Pacific/Chatham")).strftime("%H:%M") == "03:45"
    # the repeated 01:00 in New York goes out at its first occurrence (EDT)
    new_york = expected_instant(date(2026, 11, 1), 1, ZoneInfo("America/New_York"))
    assert new_york == datetime(2026, 11, 1, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize("timezone", ["Europe/Berlin", "America/New_York", "Pacific/Chatham"])
def test_weekly_readers_on_every_weekday_get_one_digest_a_week_on_their_day(timezone: str) -> None:
    """Readers who chose Tuesday ... Saturday (Monday and Sunday above), at the hours the
    zone's DST changes skip or repeat: one digest per local ISO week, on their weekday at
    their hour, and never on another day."""
    zone = ZoneInfo(timezone)
    for weekday in range(1, 6):
        for hour in hours_for(timezone):
            sent = simulate("weekly", hour, timezone, weekday)
            for monday in iso_weeks():
                year, week, _ = monday.isocalendar()
                [instant] = sent[f"weekly:{year}-W{week:02d}"]
                expected = expected_instant(monday + timedelta(days=weekday), hour, zone)
                assert instant == expected, (weekday, hour, instant.astimezone(zone))
                check_next_delivery("weekly", hour, timezone, weekday, instant)
            # the weeks at the ends of the span too: always their weekday, never earlier
            for key, [instant] in sent.items():
                local = instant.astimezone(zone)
                assert local.weekday() == weekday and local.hour >= hour, (key, local)
