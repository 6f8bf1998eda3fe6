"""What the digest shows: only picks whose match is real, with reasons in the reader's words
(lexical backend). The ranking itself keeps every eligible paper (``digest rank``)."""

from __future__ import annotations

import numpy as np
import pytest

from digest.domain import Profile
from digest.rank import rank
from digest.rank.lexical import LexicalIndex
from tests.rank.conftest import LEXICAL, paper

# Papers of the demo's day (titles and abstracts cut from the real arXiv records).
MEDICAL = paper(
    "2505.23503",
    "Can Large Language Models Challenge CNNS in Medical Image Analysis?",
    "This study presents a multimodal AI framework designed for precisely classifying medical "
    "diagnostic images. These findings highlight the transformative potential of multimodal "
    "AI systems to enhance the reliability of medical diagnostics in clinical settings.",
)
JAILBREAK = paper(
    "jb",
    "Jailbreaking Large Language Models with Adversarial Suffixes",
    "We study attacks that make aligned chat models produce harmful content.",
)
PRIVACY = paper(
    "pv",
    "Membership Inference against Deployed AI Systems",
    "We audit the privacy and security of machine learning services against leakage.",
)
FILLER = [
    paper(f"f{n}", f"{subject} with neural networks", f"We study {subject} on benchmarks.")
    for n, subject in enumerate(
        ["Protein folding", "Weather forecasting", "Speech recognition", "Image segmentation"]
    )
]
POOL = [MEDICAL, JAILBREAK, PRIVACY, *FILLER]


def picks_for(*topics: str, options=LEXICAL):  # type: ignore[no-untyped-def]
    return rank([Profile("r", topics=topics)], POOL, options=options)[0]


def test_a_paper_sharing_only_common_words_with_a_topic_is_ranked_but_not_shown() -> None:
    picks = {p.paper_id: p for p in picks_for("privacy and security of AI systems")}
    assert picks["pv"].shown  # privacy, security, AI, systems: all said
    assert "2505.23503" in picks  # 'AI systems' makes it eligible for the ranking ...
    weak = picks["2505.23503"]
    assert not weak.shown  # ... but not for the email
    assert weak.match < LEXICAL.show_topic_cover <= picks["pv"].match
    assert weak.why == "partly: 'AI systems' in the abstract"
    assert "matches your topic" not in weak.why


def test_the_threshold_decides_what_is_shown() -> None:
    loose = LEXICAL.with_(show_topic_cover=0.0)
    assert all(p.shown for p in picks_for("privacy and security of AI systems", options=loose))
    strict = LEXICAL.with_(show_topic_cover=1.01)
    assert not any(p.shown for p in picks_for("privacy and security of AI systems", options=strict))


def test_reasons_name_the_words_found_and_where_without_repeating_the_topic() -> None:
    picks = {p.paper_id: p for p in picks_for("jailbreak attacks on language models")}
    why = picks["jb"].why
    assert why == "'jailbreak' and 'language models' in the title, 'attacks' in the abstract"
    assert picks["jb"].section == "jailbreak attacks on language models"
    assert "jailbreak attacks on language models" not in why


def test_coverage_weighs_rare_words_more_and_counts_unknown_words() -> None:
    index = LexicalIndex(POOL)
    cover = index.coverage(["privacy security", "AI systems", "privacy zyzzyva"])
    pv, medical = POOL.index(PRIVACY), POOL.index(MEDICAL)
    assert cover[0, pv] == pytest.approx(1.0)
    assert cover[0, medical] == 0.0
    assert cover[1, medical] == pytest.approx(1.0)
    # A word no paper says weighs like the rarest: 'privacy' alone covers at most half.
    assert 0 < cover[2, pv] <= 0.5 + 1e-6
    assert np.all((cover >= 0) & (cover <= 1 + 1e-6))


def test_a_new_reader_is_shown_trending_papers_only() -> None:
    trending = paper("hot", "A popular paper", "Everyone reads it.", upvotes=120)
    picks = rank([Profile("r")], [trending, *FILLER], options=LEXICAL)[0]
    assert {p.paper_id for p in picks if p.shown} == {"hot"}
    assert all(not p.shown for p in picks if p.paper_id != "hot")


def test_the_digest_takes_only_shown_picks_and_fills_from_further_down() -> None:
    profile = Profile("r", topics=("privacy and security of AI systems",))
    full = rank([profile], POOL, options=LEXICAL)[0]
    shown = [p.paper_id for p in full if p.shown]
    assert shown and any(
        not p.shown for p in full[: full.index(next(p for p in full if p.shown))] + full[1:]
    )
    mailed = rank([profile], POOL, options=LEXICAL, shown_only=True)[0]
    assert [p.paper_id for p in mailed] == shown
    first = [
        p.paper_id for p in rank([profile], POOL, options=LEXICAL, top_k=1, shown_only=True)[0]
    ]
    assert first == shown[:1]
    nothing = rank([Profile("r", topics=("quantum error correction",))], POOL, shown_only=True)
    assert nothing == [[]]
