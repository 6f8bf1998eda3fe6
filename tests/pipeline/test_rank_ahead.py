"""On workers, `digest run` ranks in a thread of its own: the first chunk at the run's
priority, the next ones ``DIGEST_RANKING_NICE`` steps lower, so that on a machine shared
with the workers sending comes first and ranking takes what they leave."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator

import pytest

from digest.pipeline.rank_ahead import RankAhead

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice")


def chunks(seen: list[tuple[str, int]], n: int = 4) -> Iterator[list[int]]:
    """A ranking stand-in that notes the thread and nice value each chunk was made at."""
    for i in range(n):
        tid = threading.get_native_id()
        seen.append((threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, tid)))
        yield [i * 10 + k for k in range(3)]


@linux
def test_chunks_come_in_order_the_first_at_the_runs_priority_the_rest_lower() -> None:
    seen: list[tuple[str, int]] = []
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    with RankAhead(chunks(seen), nice=5) as ahead:
        got = list(ahead)
    assert got == [[0, 1, 2], [10, 11, 12], [20, 21, 22], [30, 31, 32]]
    assert [name for name, _ in seen] == ["digest-rank"] * 4
    assert [nice for _, nice in seen] == [mine, mine + 5, mine + 5, mine + 5]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine  # ours kept
    seen.clear()
    with RankAhead(chunks(seen), nice=0) as same:
        assert len(list(same)) == 4 and {nice for _, nice in seen} == {mine}


def test_an_error_of_the_ranking_is_raised_to_the_run_at_its_chunk() -> None:
    def failing() -> Iterator[list[int]]:
        yield [1]
        raise RuntimeError("no pool")

    got: list[list[int]] = []
    with RankAhead(failing(), nice=0) as ahead, pytest.raises(RuntimeError, match="no pool"):
        for chunk in ahead:
            got.append(chunk)
    assert got == [[1]]


def test_closing_stops_the_ranking_at_its_next_chunk() -> None:
    seen: list[tuple[str, int]] = []
    first_taken = threading.Event()

    def slow() -> Iterator[list[int]]:
        for chunk in chunks(seen, n=1000):
            yield chunk
            first_taken.wait(5)

    ahead = RankAhead(slow(), nice=0)
    assert next(iter(ahead)) == [0, 1, 2]
    threading.Timer(0.2, first_taken.set).start()  # the ranking goes on while close() waits
    ahead.close()
    assert len(seen) <= 2  # it stopped instead of ranking 1,000 chunks
