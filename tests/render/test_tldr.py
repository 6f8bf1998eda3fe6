"""The TL;DR: whole sentences that say what a paper does (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from mailcheck import sample_papers

from digest.render.tldr import (
    LIMIT,
    contribution_score,
    from_abstract,
    is_whole_sentence,
    sentences,
    tldr,
)

BACKGROUND = (
    "Large language models have shown remarkable abilities in many tasks. However, they "
    "still struggle with long multi-step proofs. "
)


def test_the_contribution_over_the_background() -> None:
    abstract = BACKGROUND + (
        "We propose DeepTheorem, a framework that trains models on informal theorems. "
        "Experiments show gains of 10 points."
    )
    assert tldr(abstract) == (
        "We propose DeepTheorem, a framework that trains models on informal theorems."
    )
    passive = BACKGROUND + "In this paper, a trust-region method is proposed to solve it."
    assert tldr(passive) == "In this paper, a trust-region method is proposed to solve it."
    assert contribution_score("Extensive experiments show that we propose well.") == 0


def test_a_short_contribution_takes_the_next_sentence() -> None:
    abstract = (
        BACKGROUND + "We introduce Foo. Foo routes tokens by difficulty. Code: https://x.y/z."
    )
    assert tldr(abstract) == "We introduce Foo. Foo routes tokens by difficulty."


def test_no_cue_gives_the_first_sentence() -> None:
    assert tldr("Cats are nice. Dogs too.") == "Cats are nice. Dogs too."


def test_the_ai_summary_first_and_whole() -> None:
    assert tldr(BACKGROUND, "X speeds up proofs. It is open. And more.") == (
        "X speeds up proofs. It is open."
    )
    too_long = "word " * 100 + "end."
    assert tldr(BACKGROUND + "We propose X.", too_long) == "We propose X."


def test_abbreviations_numbers_and_urls_do_not_end_sentences() -> None:
    text = (
        "We use e.g. GPT-4 and models of Smith et al. for this. Accuracy rose 3.5 points "
        "(see Fig. 2). Data at https://a.b/c.d. Done."
    )
    assert sentences(text) == [
        "We use e.g. GPT-4 and models of Smith et al. for this.",
        "Accuracy rose 3.5 points (see Fig. 2).",
        "Data at https://a.b/c.d.",
        "Done.",
    ]


def test_never_cut_nothing_rather_than_half() -> None:
    assert tldr("word " * 400) == ""
    assert tldr("An abstract without an end") == ""


def test_sample_papers_tldrs_are_whole_sentences() -> None:
    """Over the project's sample: every TL;DR is one or two whole sentences of the abstract,
    within the limit, and most state the contribution."""
    papers = sample_papers()
    stated = 0
    for paper in papers.values():
        chosen, contribution = from_abstract(paper.abstract)
        assert chosen, paper.id
        assert is_whole_sentence(chosen), (paper.id, chosen)
        assert len(chosen) <= LIMIT
        assert chosen in " ".join(paper.abstract.split())
        parts = sentences(chosen)
        assert 1 <= len(parts) <= 2
        stated += contribution
    assert stated >= 0.8 * len(papers), stated


@given(st.text(max_size=600))
def test_any_text_gives_whole_sentences_or_nothing(text: str) -> None:
    chosen = tldr(text)
    assert chosen == "" or (is_whole_sentence(chosen) and len(chosen) <= LIMIT)
