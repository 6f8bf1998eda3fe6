"""Ranking: (profiles, candidate papers, history) -> picks with reasons. Pure, no I/O.

The heavy parts (numpy, scipy, scikit-learn) load on first use, so importing
``RankOptions`` (every CLI command does) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from digest.rank.options import LexicalParams, RankOptions

if TYPE_CHECKING:
    from digest.rank.ranker import build_pool, rank, rank_pool, topic_texts

__all__ = ["LexicalParams", "RankOptions", "build_pool", "rank", "rank_pool", "topic_texts"]


def __getattr__(name: str) -> Any:
    if name in ("build_pool", "rank", "rank_pool", "topic_texts"):
        from digest.rank import ranker  # lazy: scikit-learn and SciPy load on first use

        return getattr(ranker, name)
    raise AttributeError(name)
