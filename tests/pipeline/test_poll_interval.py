"""How often `digest run` polls the ledger: the count it makes reads every open row, so
polls are spaced out while many rows are open, and come at the usual pace near the end;
and never so often that polling takes more than a twentieth of a core."""

from __future__ import annotations

from digest.pipeline.fanout import (
    MAX_COST_POLL,
    MAX_POLL,
    OPEN_ROWS_PER_POLL_SECOND,
    POLL_COST_SHARE,
    poll_interval,
)


def test_few_open_rows_or_an_exact_poll_keep_the_usual_pace() -> None:
    assert poll_interval(0.5, 0, exact=False) == 0.5
    assert poll_interval(0.5, 2000, exact=False) == 0.5
    assert poll_interval(0.5, 1_000_000, exact=True) == 0.5  # following rows id by id


def test_many_open_rows_space_the_polls_out_up_to_a_bound() -> None:
    rows = 3 * OPEN_ROWS_PER_POLL_SECOND
    assert poll_interval(0.5, rows, exact=False) == 3.0
    assert poll_interval(0.5, 100 * OPEN_ROWS_PER_POLL_SECOND, exact=False) == MAX_POLL
    assert poll_interval(10.0, 100 * OPEN_ROWS_PER_POLL_SECOND, exact=False) == 10.0


def test_a_poll_that_cost_much_spaces_the_next_one_out() -> None:
    # near the end of a big edition the count cost 0.25 s and came every 0.5 s
    assert poll_interval(0.5, 5000, exact=False, cost=0.25) == 0.25 * POLL_COST_SHARE
    assert poll_interval(0.5, 100, exact=True, cost=0.03) == 0.03 * POLL_COST_SHARE
    assert poll_interval(0.5, 100, exact=True, cost=0.001) == 0.5  # cheap: the usual pace
    assert poll_interval(0.5, 10**6, exact=False, cost=0.1) == MAX_POLL  # the rows' rule
    assert poll_interval(0.5, 10**6, exact=True, cost=3.0) == MAX_COST_POLL  # bounded
