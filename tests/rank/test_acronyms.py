"""Acronyms learned from the papers' definitions: topics match either form."""

from __future__ import annotations

import numpy as np

from digest.domain import Profile
from digest.rank import rank
from digest.rank.acronyms import Acronyms, definitions_in
from digest.rank.lexical import LexicalIndex
from digest.rank.options import LexicalParams
from digest.rank.text import analyze
from tests.rank.conftest import LEXICAL, paper


def test_definitions_found_the_way_papers_write_them() -> None:
    text = (
        "Large language models (LLMs) and Human-Computer Interaction (HCI) meet "
        "text-to-image (T2I) generation with a mixture of experts (MoE) and a "
        "Frequency Decoupled Head (FDHead)."
    )
    assert definitions_in(text) == {
        "LLM": "large language model",  # a plural acronym gives a singular long form
        "HCI": "human computer interaction",
        "T2I": "text to image",  # 'to' is a function word, not the T
        "MoE": "mixture of experts",
        "FDHead": "frequency decoupled head",
    }


def test_no_definition_where_the_initials_do_not_fit() -> None:
    assert definitions_in("we train on a single card (GPU) and report (FID) scores") == {}
    assert definitions_in("the (A) and (b) settings, see (Fig) and (NaN)") == {}
    assert definitions_in("") == {}


def test_table_takes_the_long_form_most_papers_give() -> None:
    table = Acronyms.learn(
        [
            "Segment Anything Model (SAM) masks.",
            "We extend the segment anything model (SAM).",
            "Sharpness-aware minimization (SAM) flattens the loss.",
        ]
    ).table
    assert table == {"SAM": "segment anything model"}


def test_completion_adds_the_other_form_and_a_papers_own_definition_wins() -> None:
    acronyms = Acronyms(
        {
            "AI": "artificial intelligence",
            "LLM": "large language model",
            "SAM": "segment anything model",
        }
    )
    assert (
        acronyms.completion("AI agents built on LLMs")
        == "artificial intelligence . large language model"
    )
    assert acronyms.completion("Large-language-models as judges") == "LLM"
    own = "Sharpness-aware minimization (SAM) for LLMs; SAM helps."
    assert acronyms.completion(own).split(" . ").count("sharpness aware minimization") == 2
    assert acronyms.completion("nothing to complete here") == ""
    vit = Acronyms.learn(["vision transformers (ViT) and the Large-Language-Models (LLMs)"])
    assert vit.completion("a vision transformer") == "ViT"  # the long form was plural
    assert vit.completion("large language model") == "LLM"
    assert Acronyms({}).completion("AI") == ""


POOL = [
    paper("def", "Large language models (LLMs) in artificial intelligence (AI)", "A survey."),
    paper("ai", "AI assistants in the classroom", "Teachers try chat assistants."),
    paper("llm", "Tool use for agents", "Agents built on LLMs call tools."),
    paper("long", "Planning with a large language model", "Agents that plan."),
    paper("other", "Protein folding", "Structures of proteins."),
]


def test_topic_matches_a_paper_that_only_uses_the_acronym() -> None:
    picks = rank([Profile("r", topics=("artificial intelligence",))], POOL, options=LEXICAL)[0]
    assert {"def", "ai"} <= {p.paper_id for p in picks}
    assert "other" not in {p.paper_id for p in picks}
    reason = next(p.why for p in picks if p.paper_id == "ai")
    assert reason == "'artificial intelligence' in the title (as 'AI')"
    # A paper that says the words itself needs no 'as'.
    assert next(p.why for p in picks if p.paper_id == "def") == (
        "'artificial intelligence' in the title"
    )


def test_acronym_topic_matches_the_long_form_and_the_plural() -> None:
    picks = rank([Profile("r", topics=("LLM agents",))], POOL, options=LEXICAL)[0]
    assert {"llm", "long"} <= {p.paper_id for p in picks}
    why = {p.paper_id: p.why for p in picks}
    assert why["long"] == (
        "'LLM' in the title, 'agents' in the abstract (as 'large language model')"
    )
    assert why["llm"] == "'agents' in the title, 'LLM' in the abstract"  # its "LLMs" is 'LLM'


def test_acronyms_off_matches_only_the_words_said() -> None:
    off = LEXICAL.with_(lexical=LexicalParams(acronyms=False))
    picks = rank([Profile("r", topics=("artificial intelligence",))], POOL, options=off)[0]
    assert [p.paper_id for p in picks] == ["def"]


def test_paper_similarity_reads_only_what_papers_say() -> None:
    """Completions feed topic matching only: the TF-IDF vectors that compare papers (liked
    papers, near duplicates) are the same with and without them."""
    with_ = LexicalIndex(POOL, LexicalParams(acronyms=True))
    without = LexicalIndex(POOL, LexicalParams(acronyms=False))
    assert with_.acronyms.table and not without.acronyms.table
    for index in (with_, without):
        assert "artifici" in index.vocabulary
    shared = sorted(without.vocabulary)
    a = with_.tfidf.toarray()[:, [with_.vocabulary[t] for t in shared]]
    b = without.tfidf.toarray()[:, [without.vocabulary[t] for t in shared]]
    np.testing.assert_allclose(a, b, rtol=1e-6)
    # Terms only the completions hold weigh nothing in a liked paper from the history.
    only = [i for t, i in with_.vocabulary.items() if t not in without.vocabulary]
    assert only and not with_.idf[only].any()


def test_plural_acronym_is_the_acronym() -> None:
    assert analyze("LLMs GPUs ViTs")[:3] == ["llm", "gpu", "vit"]
    assert "gain" in analyze("gains")  # ordinary plurals are the stemmer's
