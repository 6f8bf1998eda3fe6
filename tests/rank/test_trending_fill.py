"""The "Also trending" fill (digest.rank.fill): when fewer than top_k papers match a
personalised reader, a few of the day's most trending papers fill a separate section;
only with trending figures, never for cold-start readers, never counted as a match, and
never in the ranking that ``digest rank`` prints."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from digest.domain import Paper, Pick, Profile
from digest.errors import ConfigError
from digest.rank import RankOptions, rank
from digest.rank.fill import SECTION, choose, fill_places, hot_order
from tests.rank.conftest import LEXICAL, paper

# -- the decision, pure ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shown", "top_k", "cap", "cold", "places"),
    [
        (2, 10, 3, False, 3),  # room for more than the cap: the cap
        (8, 10, 3, False, 2),  # the places left under top_k
        (10, 10, 3, False, 0),  # a full digest gets none
        (12, 10, 3, False, 0),
        (0, 10, 3, False, 3),  # nothing matched: only the trending section
        (0, 1, 3, False, 1),
        (2, 10, 0, False, 0),  # trending_fill=0 turns it off
        (0, 10, 3, True, 0),  # a cold-start reader's digest is trending already
    ],
)
def test_fill_places(shown: int, top_k: int, cap: int, cold: bool, places: int) -> None:
    assert fill_places(shown, top_k, cap, cold=cold) == places


def test_hot_order_keeps_only_papers_with_trending_figures_most_first() -> None:
    assert hot_order(np.array([0.0, 0.5, 1.0, 0.0, 0.5], dtype=np.float32)) == [2, 1, 4]
    assert hot_order(np.zeros(4, dtype=np.float32)) == []  # no trending data: no fill


def test_choose_skips_what_the_reader_has_may_not_get_or_nearly_has() -> None:
    hot = [5, 4, 3, 2, 1, 0]
    allowed = [True, True, True, True, False, True]  # 4: sent before, or excluded
    duplicates = [frozenset()] * 6
    duplicates[3] = frozenset({0})  # 3 is a near-copy of 0, which the digest has
    assert choose(hot, allowed, taken=[0], places=3, duplicates=duplicates) == [5, 2, 1]
    assert choose(hot, allowed, taken=[0], places=3) == [5, 3, 2]
    assert choose(hot, allowed, taken=[5], places=2) == [3, 2]
    assert choose(hot, allowed, taken=[], places=0) == []
    assert choose([], allowed, taken=[], places=3) == []


# -- in the ranking ----------------------------------------------------------------------

PRIVACY = [
    paper("pv1", "Membership inference attacks and privacy", "Privacy leakage of models."),
    paper("pv2", "Differential privacy for language models", "Training with privacy."),
]
OTHERS = [
    paper(f"o{n}", f"{subject} with neural networks", f"We study {subject} on benchmarks.")
    for n, subject in enumerate(
        ["Protein folding", "Weather forecasting", "Speech recognition", "Image segmentation"]
    )
]


def _hot(upvotes: list[int]) -> list[Paper]:
    return [replace(p, upvotes=u) for p, u in zip(OTHERS, upvotes, strict=True)]


def test_two_matches_get_up_to_the_cap_of_the_most_trending_after_them() -> None:
    pool = [*PRIVACY, *_hot([5, 50, 0, 20])]
    reader = Profile("r", topics=("privacy",))
    [picks] = rank([reader], pool, options=LEXICAL.with_(trending_fill=2), shown_only=True)
    assert {p.paper_id for p in picks[:2]} == {"pv1", "pv2"}  # the matches first
    assert [p.paper_id for p in picks[2:]] == ["o1", "o3"]  # most upvoted first, capped at 2
    for pick in picks[2:]:
        assert pick.trending and not pick.shown and pick.section == SECTION
        assert pick.why.startswith("trending: ")
    assert all(p.shown and not p.trending for p in picks[:2])
    default = rank([reader], pool, options=LEXICAL, shown_only=True)[0]
    assert len([p for p in default if p.trending]) == 3  # the default cap
    full = rank([reader], pool, options=LEXICAL, top_k=2, shown_only=True)[0]
    assert not any(p.trending for p in full)  # top_k reached: nothing fills


def test_nothing_relevant_gets_only_trending_and_without_trending_data_nothing() -> None:
    reader = Profile("r", topics=("quantum error correction",))
    [only] = rank([reader], [*PRIVACY, *_hot([5, 50, 0, 20])], options=LEXICAL, shown_only=True)
    assert [p.paper_id for p in only] == ["o1", "o3", "o0"]
    assert all(p.trending and not p.shown for p in only)
    [none] = rank([reader], [*PRIVACY, *OTHERS], options=LEXICAL, shown_only=True)
    assert none == []  # no upvotes, stars or comments: no email


def test_the_fill_respects_what_was_sent_and_the_readers_filters() -> None:
    pool = [*PRIVACY, *_hot([5, 50, 0, 20])]
    reader = Profile("r", topics=("privacy",), exclude=("weather",))
    [picks] = rank([reader], pool, options=LEXICAL, shown_only=True, already_sent={"r": {"o3"}})
    assert [p.paper_id for p in picks if p.trending] == ["o0"]  # o1 excluded, o3 sent


def test_digest_rank_and_cold_start_readers_are_not_filled() -> None:
    pool = [*PRIVACY, *_hot([5, 50, 0, 20])]
    ranked = rank([Profile("r", topics=("privacy",))], pool, options=LEXICAL)[0]
    assert not any(p.trending for p in ranked)  # the ranking (digest rank): matches only
    [cold] = rank([Profile("new")], pool, options=LEXICAL, shown_only=True)
    assert not any(p.trending for p in cold)  # their own trending section, not a fill
    assert {p.paper_id for p in cold} == {"o0", "o1", "o3"}


def test_trending_fill_is_a_deployment_setting() -> None:
    assert RankOptions.parse("trending_fill=0").trending_fill == 0
    with pytest.raises(ConfigError, match="trending_fill"):
        RankOptions.parse("trending_fill=-1")


def test_a_stored_fill_pick_keeps_its_mark() -> None:
    pick = Pick("o1", 1.0, "trending: 50 upvotes", SECTION, shown=False, match=0.0, trending=True)
    assert Pick.from_json(pick.to_json()) == pick
    plain = Pick("pv1", 0.5, "'privacy' in the title", "privacy")
    assert "trending" not in plain.to_json() and Pick.from_json(plain.to_json()) == plain
