"""Topic expansion research knobs: a glossary (the arXiv taxonomy) and RM3-weighted feedback."""

from __future__ import annotations

import numpy as np

from digest.domain import Profile
from digest.rank import RankOptions, build_pool, rank_pool
from digest.rank.lexical import Glossary, LexicalIndex, head_of
from digest.rank.options import LexicalParams
from tests.rank.conftest import paper

GLOSSARY = {
    "Sound": "Audio signal processing, speech recognition and music analysis.",
    "Machine Learning": "Learning from data: neural networks and optimization.",
    "Machine learning": "Statistical learning theory and kernels.",
}

PAPERS = [
    paper("a1", "Music transcription with transformers", "We analyse music audio recordings."),
    paper("a2", "Sound of the city", "A sound map of noise in streets and parks."),
    paper("a3", "Graph kernels", "Statistical learning with kernels on graphs."),
]


def test_a_topic_names_an_entry_by_its_words_and_a_description_by_its_first_sentence() -> None:
    glossary = Glossary(GLOSSARY)
    assert glossary.lookup("sound") == GLOSSARY["Sound"]
    assert glossary.lookup("Sound. Anything about audio.") == GLOSSARY["Sound"]
    assert glossary.lookup("sound design for games") is None  # Jaccard 1/4
    assert glossary.lookup("sound design for games", 0.25) == GLOSSARY["Sound"]
    # Two categories called 'Machine Learning' (cs.LG, stat.ML): both descriptions.
    both = glossary.lookup("machine learning")
    assert both is not None and "kernels" in both and "neural networks" in both
    assert Glossary({}).lookup("sound") is None


def test_glossary_expansion_ranks_papers_that_say_the_entrys_words() -> None:
    params = LexicalParams(prf_docs=0, glossary_weight=0.5)
    plain = LexicalIndex(PAPERS, LexicalParams(prf_docs=0), GLOSSARY).score_topics(["sound"])
    expanded = LexicalIndex(PAPERS, params, GLOSSARY).score_topics(["sound"])
    # 'music ... audio' says no word of 'sound', but the description's words: it gains.
    assert plain.relevance[0, 0] == 0 and expanded.relevance[0, 0] > 0
    assert expanded.relevance[0, 1] == 1.0  # the paper that says the topic stays first
    # Matching (eligibility) still reads the topic's own words only.
    assert expanded.matched.tolist() == plain.matched.tolist() == [[False, True, False]]


def test_glossary_off_by_default_and_without_entries() -> None:
    default = LexicalIndex(PAPERS, None, GLOSSARY).score_topics(["sound"]).relevance
    without = LexicalIndex(PAPERS, LexicalParams(glossary_weight=0.5)).score_topics(["sound"])
    np.testing.assert_array_equal(default, without.relevance)


def test_ranker_passes_the_glossary_through_build_pool() -> None:
    opts = RankOptions.parse(
        "lexical.glossary_weight=0.5", RankOptions(semantic=False), research=True
    )
    pool = build_pool(PAPERS, [], opts, glossary=GLOSSARY)
    assert pool.lexical is not None and pool.lexical.glossary.entries
    picks = rank_pool(pool, [Profile(id="r", topics=("sound",))], top_k=3, options=opts)[0]
    assert [p.paper_id for p in picks] == ["a2"]  # only the word match is eligible


def test_rm3_weights_feedback_papers_by_their_score() -> None:
    papers = [
        paper("p1", "Speech recognition", "speech recognition acoustic model lattice"),
        paper("p2", "Speech", "speech prosody"),
        paper("p3", "Acoustic lattice decoding", "acoustic lattice beam search"),
        paper("p4", "Prosody of poems", "prosody metre rhyme"),
    ]
    uniform = LexicalIndex(papers, LexicalParams(prf_docs=2, prf_weight=0.5, prf_scored=False))
    scored = LexicalIndex(papers, LexicalParams(prf_docs=2, prf_weight=0.5, prf_scored=True))
    u = uniform.score_topics(["speech recognition"]).relevance[0]
    s = scored.score_topics(["speech recognition"]).relevance[0]
    # The best paper (p1) counts more than the weaker p2: its words (lattice) gain on p2's.
    assert s[2] / max(s[3], 1e-9) > u[2] / max(u[3], 1e-9)


def test_head_of_a_description() -> None:
    assert head_of("Computation and Language. Covers natural language processing.") == (
        "Computation and Language"
    )
    assert head_of("Graphics: covers all aspects of computer graphics") == "Graphics"
    assert head_of("privacy and security of AI systems") == ""


def test_head_weight_favours_the_papers_that_say_the_heading() -> None:
    papers = [
        paper("h1", "Sound synthesis", "We synthesise sound."),
        paper("h2", "Audio effects", "Filters, reverb and other effects for audio and music."),
        paper("h3", "Graphs", "Nothing in common."),
    ]
    topic = "Sound. Audio filters, reverb, effects, music mixing and mastering."
    plain = LexicalIndex(papers, LexicalParams(prf_docs=0, head_weight=0)).score_topics([topic])
    headed = LexicalIndex(papers, LexicalParams(prf_docs=0, head_weight=0.8)).score_topics([topic])
    assert plain.relevance[0].argmax() == 1 and headed.relevance[0].argmax() == 0
    assert headed.matched.tolist() == plain.matched.tolist()
    # A short topic has no heading to favour: unchanged.
    short = LexicalIndex(papers, LexicalParams(prf_docs=0, head_weight=0.8))
    np.testing.assert_array_equal(
        short.score_topics(["sound. audio"]).relevance,
        LexicalIndex(papers, LexicalParams(prf_docs=0, head_weight=0))
        .score_topics(["sound. audio"])
        .relevance,
    )


def test_topic_cosine_blends_a_second_lexical_score() -> None:
    index = LexicalIndex(PAPERS, LexicalParams(prf_docs=0, topic_cosine=0.5))
    relevance = index.score_topics(["music audio", "sound"]).relevance
    assert relevance[0].argmax() == 0 and relevance[1].argmax() == 1
    assert relevance.max() <= 1.0 + 1e-6
