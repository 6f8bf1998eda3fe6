"""How often `digest run` polls the ledger: the count it makes reads every open row, so
polls are spaced out while many rows are open, and come at the usual pace near the end."""

from __future__ import annotations

from digest.pipeline.fanout import MAX_POLL, OPEN_ROWS_PER_POLL_SECOND, poll_interval


def test_few_open_rows_or_an_exact_poll_keep_the_usual_pace() -> None:
    assert poll_interval(0.5, 0, exact=False) == 0.5
    assert poll_interval(0.5, 2000, exact=False) == 0.5
    assert poll_interval(0.5, 1_000_000, exact=True) == 0.5  # following rows id by id


def test_many_open_rows_space_the_polls_out_up_to_a_bound() -> None:
    rows = 3 * OPEN_ROWS_PER_POLL_SECOND
    assert poll_interval(0.5, rows, exact=False) == 3.0
    assert poll_interval(0.5, 100 * OPEN_ROWS_PER_POLL_SECOND, exact=False) == MAX_POLL
    assert poll_interval(10.0, 100 * OPEN_ROWS_PER_POLL_SECOND, exact=False) == 10.0
