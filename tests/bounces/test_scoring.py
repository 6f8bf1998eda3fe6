"""Mailman's scoring of soft bounces, with explicit times (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from digest.db.bounces import BounceRules, next_score

RULES = BounceRules(threshold=5.0, window=timedelta(days=7))
DAY = timedelta(days=1)
T0 = datetime(2025, 5, 30, 7, 0, tzinfo=UTC)


def run(times: list[datetime]) -> list[tuple[float, bool]]:
    score, last, out = 0.0, None, []
    for now in times:
        score, counted = next_score(score, last, now, RULES)
        if counted:
            last = now
        out.append((score, counted))
    return out


def test_first_bounce_scores_half() -> None:
    assert next_score(0.0, None, T0, RULES) == (0.5, True)


def test_one_bounce_per_day_counts() -> None:
    steps = run([T0, T0 + timedelta(hours=3), T0 + timedelta(hours=18)])
    assert steps == [(0.5, True), (0.5, False), (1.0, True)]  # 01:00 the next UTC day


def test_ten_daily_soft_bounces_reach_the_threshold() -> None:
    steps = run([T0 + n * DAY for n in range(10)])
    assert [s for s, _ in steps][-1] == 5.0
    assert all(s < RULES.threshold for s, _ in steps[:-1])


def test_gaps_within_the_window_keep_the_score() -> None:
    steps = run([T0, T0 + 7 * DAY, T0 + 14 * DAY])
    assert [s for s, _ in steps] == [0.5, 1.0, 1.5]


def test_a_score_older_than_the_window_restarts() -> None:
    steps = run([T0, T0 + DAY, T0 + 2 * DAY, T0 + 2 * DAY + 7 * DAY + timedelta(seconds=1)])
    assert [s for s, _ in steps] == [0.5, 1.0, 1.5, 0.5]


def test_days_are_utc_days_whatever_the_zone() -> None:
    from zoneinfo import ZoneInfo

    tokyo = ZoneInfo("Asia/Tokyo")
    late = datetime(2025, 5, 30, 23, 30, tzinfo=UTC)
    # 08:30 in Tokyo on the 31st is still 23:30 UTC on the 30th: same day
    assert next_score(0.5, late, late.astimezone(tokyo) + timedelta(minutes=10), RULES) == (
        0.5,
        False,
    )
