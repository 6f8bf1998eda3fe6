"""Scheduling decisions, pure: which edition a subscriber is due for at a given instant.

An edition is keyed by the subscriber's *local* calendar: ``daily:YYYY-MM-DD`` for daily
readers, ``weekly:YYYY-Www`` (ISO week) for weekly readers, who are due from their chosen
weekday on (Monday unless they chose another). With
``respect_hour`` a reader is due only once their local clock has reached their delivery
hour; zoneinfo makes this correct across daylight-saving changes. A missed slot is caught up
later the same day (or week): the delivery ledger, not the clock, prevents a second send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.errors import InputError

WEEKLY_DAY = 0  # Monday: the weekly day of readers who chose none


@dataclass(frozen=True, slots=True)
class EditionSlot:
    key: str
    frequency: str
    period_start: date


def local_now(now: datetime, timezone: str) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    try:
        return now.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown timezone {timezone!r}") from None


def edition_for(frequency: str, now: datetime, timezone: str) -> EditionSlot:
    """The edition that is current for a reader at ``now`` (due or not)."""
    today = local_now(now, timezone).date()
    if frequency == "weekly":
        year, week, _ = today.isocalendar()
        monday = today - timedelta(days=today.weekday())
        return EditionSlot(f"weekly:{year}-W{week:02d}", "weekly", monday)
    return EditionSlot(f"daily:{today.isoformat()}", "daily", today)


def due_edition(
    frequency: str,
    delivery_hour: int,
    timezone: str,
    now: datetime,
    *,
    respect_hour: bool,
    weekday: int = WEEKLY_DAY,
) -> EditionSlot | None:
    """The edition the reader should get now, or None when it is not time yet."""
    slot = edition_for(frequency, now, timezone)
    if not respect_hour:
        return slot
    local = local_now(now, timezone)
    if frequency == "weekly":
        if local.weekday() < weekday:
            return None  # their day of this week has not come
        if local.weekday() > weekday:
            return slot  # later in the week: catch up on a day that was missed
    return slot if local.hour >= delivery_hour else None


def next_delivery(
    frequency: str, delivery_hour: int, timezone: str, now: datetime, *, weekday: int = WEEKLY_DAY
) -> datetime:
    """When the reader's next digest is due (local time): for a welcome email's promise.

    The first slot strictly after ``now`` (a reader who subscribes at 09:00 with hour 7
    gets tomorrow's), computed on the local calendar so that DST is respected: a slot whose
    hour the clock skips is promised for when the gap ends (:func:`slot_start`).
    """
    local = local_now(now, timezone)
    zone = local.tzinfo
    assert isinstance(zone, ZoneInfo)
    day = local.date()
    for offset in range(0, 15):
        candidate_day = day + timedelta(days=offset)
        if frequency == "weekly" and candidate_day.weekday() != weekday:
            continue
        candidate = slot_start(candidate_day, delivery_hour, zone)
        if candidate.astimezone(UTC) > now.astimezone(UTC):
            return candidate
    raise AssertionError("a slot exists within two weeks")  # pragma: no cover


def slot_start(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """The first instant of the local ``day`` whose local hour is ``hour`` or later, as a
    real local time: when ``due_edition`` starts to return the reader's slot that day.

    Usually ``hour``:00; its first occurrence when the clock falls back and the hour comes
    twice; when the clock springs forward over it, the end of the gap (Berlin's missing
    02:00 gives 03:00; Chatham's missing 03:00, in a gap from 02:45 to 03:45, gives 03:45),
    never a wall time that does not exist.
    """
    wall = datetime(day.year, day.month, day.day, hour, tzinfo=zone)
    instant = wall.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return instant.astimezone(zone)
    # In a gap: read with the later offset (fold=1) the wall time lies before the change,
    # with the earlier one (fold=0) after it. Find the change to the second.
    low, high = wall.replace(fold=1).astimezone(UTC), instant
    after = high.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0).astimezone(zone)
