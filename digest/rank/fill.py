"""The "Also trending" fill: pure decisions, no I/O.

The digest shows only papers whose match is real, so a personalised reader may get fewer
than ``top_k``. The places left are filled, up to ``RankOptions.trending_fill`` (3 by
default), with the pool's most trending papers (upvotes, GitHub stars, comments) that the
reader may get and has not been shown: a separate section that says it is not picked for
them. Only papers with trending figures fill: on a day without any, nothing does, and a
reader with no match gets no email. Readers with no interest at all (cold start) get
trending papers in their own section already and are never filled.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

SECTION = "Also trending"  # the ranker's section name; the email says "today" or "this week"


def fill_places(shown: int, top_k: int, cap: int, *, cold: bool = False) -> int:
    """How many trending papers a reader's digest gets after its ``shown`` matches: the
    places left under ``top_k``, at most ``cap``; none for a cold-start reader."""
    if cold or cap <= 0:
        return 0
    return max(0, min(cap, top_k - shown))


def hot_order(trending: np.ndarray) -> list[int]:
    """The pool's papers with a trending figure (a prior above 0), most trending first
    (ties in pool order)."""
    hot = np.flatnonzero(trending > 0)
    order: list[int] = hot[np.argsort(-trending[hot], kind="stable")].tolist()
    return order


def choose(
    hot: Sequence[int],
    allowed: Sequence[bool] | np.ndarray,
    taken: Collection[int],
    places: int,
    duplicates: Sequence[Collection[int]] = (),
) -> list[int]:
    """The first ``places`` papers of ``hot`` (pool indices, most trending first) that the
    reader may get (``allowed``: not sent, not excluded by their filters), that are not
    already in their digest (``taken``) and not near-copies of one that is."""
    chosen: list[int] = []
    if places <= 0:
        return chosen
    seen = set(taken)
    for i in hot:
        if i in seen or not allowed[i]:
            continue
        if duplicates and not seen.isdisjoint(duplicates[i]):
            continue
        chosen.append(i)
        seen.add(i)
        if len(chosen) >= places:
            break
    return chosen
