from datetime import UTC, datetime

import pytest

from digest.errors import InputError
from digest.schedule import due_edition, edition_for, next_delivery


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_edition_key_follows_the_local_calendar() -> None:
    now = at("2026-11-27T23:30:00")
    assert edition_for("daily", now, "UTC").key == "daily:2026-11-27"
    assert edition_for("daily", now, "Asia/Tokyo").key == "daily:2026-11-28"
    assert edition_for("daily", now, "America/Los_Angeles").key == "daily:2026-11-27"


def test_weekly_edition_is_the_iso_week() -> None:
    slot = edition_for("weekly", at("2026-11-27T12:00:00"), "UTC")
    assert slot.key == "weekly:2026-W48"
    assert slot.period_start.isoformat() == "2026-11-23"


def test_due_only_after_the_local_delivery_hour() -> None:
    # 06:30 UTC = 07:30 in Berlin (winter): due at hour 7, not at hour 8
    now = at("2026-11-27T06:30:00")
    assert due_edition("daily", 7, "Europe/Berlin", now, respect_hour=True) is not None
    assert due_edition("daily", 8, "Europe/Berlin", now, respect_hour=True) is None
    assert due_edition("daily", 8, "Europe/Berlin", now, respect_hour=False) is not None


def test_daylight_saving_is_respected() -> None:
    # Berlin is UTC+2 in summer: 05:30 UTC = 07:30 local
    assert due_edition("daily", 7, "Europe/Berlin", at("2026-07-01T05:30:00"), respect_hour=True)
    # in winter the same UTC time is 06:30 local: not yet
    assert (
        due_edition("daily", 7, "Europe/Berlin", at("2026-01-05T05:30:00"), respect_hour=True)
        is None
    )
    # the spring-forward day (2026-03-29, 02:00 -> 03:00) still has a 07:00
    assert due_edition("daily", 7, "Europe/Berlin", at("2026-03-29T05:00:00"), respect_hour=True)


def test_weekly_due_from_monday_and_caught_up_later_in_the_week() -> None:
    monday_early = at("2026-11-23T05:00:00")
    assert due_edition("weekly", 7, "UTC", monday_early, respect_hour=True) is None
    assert due_edition("weekly", 7, "UTC", at("2026-11-23T07:00:00"), respect_hour=True)
    wednesday = due_edition("weekly", 7, "UTC", at("2026-11-25T01:00:00"), respect_hour=True)
    assert wednesday is not None and wednesday.key == "weekly:2026-W48"


def test_unknown_timezone_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown timezone"):
        edition_for("daily", at("2026-11-27T00:00:00"), "Mars/Olympus")


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        edition_for("daily", datetime(2026, 1, 1), "UTC")


def test_weekly_readers_are_due_from_their_own_weekday() -> None:
    friday = 4
    thursday = at("2026-11-26T12:00:00")
    assert due_edition("weekly", 7, "UTC", thursday, respect_hour=True, weekday=friday) is None
    assert (
        due_edition(
            "weekly", 7, "UTC", at("2026-11-27T06:59:00"), respect_hour=True, weekday=friday
        )
        is None
    )
    due = due_edition("weekly", 7, "UTC", at("2026-11-27T07:00:00"), respect_hour=True, weekday=4)
    assert due is not None and due.key == "weekly:2026-W48"
    sunday = due_edition(
        "weekly", 7, "UTC", at("2026-11-29T01:00:00"), respect_hour=True, weekday=4
    )
    assert sunday is not None and sunday.key == "weekly:2026-W48"  # caught up before the week ends


def test_next_delivery_is_the_first_slot_after_now_on_the_local_calendar() -> None:
    now = at("2026-11-27T09:30:00")  # a Friday
    daily = next_delivery("daily", 7, "Europe/Berlin", now)
    assert daily.isoformat() == "2026-11-28T07:00:00+01:00"
    assert (
        next_delivery("daily", 11, "Europe/Berlin", now).isoformat() == "2026-11-27T11:00:00+01:00"
    )
    weekly = next_delivery("weekly", 7, "UTC", now, weekday=0)
    assert weekly.isoformat() == "2026-11-30T07:00:00+00:00"
    # across the spring DST change: 07:00 local is still 07:00
    spring = next_delivery("daily", 7, "Europe/Berlin", at("2027-03-27T12:00:00"))
    assert spring.isoformat() == "2027-03-28T07:00:00+02:00"


def test_a_promised_slot_is_never_a_time_the_clock_skips() -> None:
    # Chatham springs forward from 02:45 to 03:45 on 2026-09-27: there is no 03:00, and the
    # dispatcher sends at 03:45 (the first moment of that day at hour 3 or later)
    when = next_delivery("daily", 3, "Pacific/Chatham", at("2026-09-26T00:00:00"))
    assert when.isoformat() == "2026-09-27T03:45:00+13:45"
    # Berlin's missing 02:00 on 2026-03-29 is promised for 03:00 CEST, a real time
    berlin = next_delivery("daily", 2, "Europe/Berlin", at("2026-03-28T12:00:00"))
    assert berlin.isoformat() == "2026-03-29T03:00:00+02:00"
    # the repeated 02:00 of 2026-10-25 is promised at its first occurrence (CEST)
    autumn = next_delivery("daily", 2, "Europe/Berlin", at("2026-10-24T12:00:00"))
    assert autumn.isoformat() == "2026-10-25T02:00:00+02:00"
