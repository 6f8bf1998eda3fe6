"""Ranking: (profiles, candidate papers, history) -> picks with reasons. Pure, no I/O."""

from digest.rank.ranker import RankOptions, rank

__all__ = ["RankOptions", "rank"]
