"""The blend and its rules, on hand-made papers (lexical backend: runs without the extra)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from digest.domain import FeedbackEvent, Profile
from digest.rank import rank
from tests.rank.conftest import LEXICAL, paper


def ids(picks) -> list[str]:  # type: ignore[no-untyped-def]
    return [p.paper_id for p in picks]


def one(profile: Profile, pool, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("options", LEXICAL)
    return rank([profile], pool, **kw)[0]


# -- topics -----------------------------------------------------------------------------
def test_topic_matches_rank_first_and_say_where(pool) -> None:
    picks = one(Profile("r", topics=("continual learning",)), pool)
    assert set(ids(picks)[:3]) == {"cl1", "cl2", "cl3"}
    assert picks[0].why.startswith("'continual learning' in the title")
    assert picks[0].shown
    assert all(p.section == "continual learning" for p in picks)
    # A paper that only says 'learning' is not a match for a two-word topic.
    assert "gr1" not in ids(picks) and "tr1" not in ids(picks)


def test_words_a_topic_repeats_weigh_more() -> None:
    """'graph' said three times outweighs 'speech' said once (query_k3); with query_k3=0
    every word weighs 1 and the shorter speech paper wins."""
    pool = [
        paper("g", "Graph data methods", "Graph data with networks for many kinds of tasks."),
        paper("s", "Speech data", "Speech data."),
        paper("x", "Other methods", "Tables."),
    ]
    profile = Profile("r", topics=("graph learning: graph structure, graph data and speech",))
    opts = LEXICAL.with_(trending_weight=0.0, recency_weight=0.0, diversity=False)
    opts = opts.with_(lexical=replace(opts.lexical, prf_docs=0))
    assert ids(one(profile, pool, options=opts)) == ["g", "s"]
    flat = opts.with_(lexical=replace(opts.lexical, query_k3=0.0))
    assert ids(one(profile, pool, options=flat)) == ["s", "g"]


def test_abstract_only_match_says_abstract(pool) -> None:
    picks = one(Profile("r", topics=("catastrophic forgetting",)), pool)
    assert ids(picks)[0] == "cl1"
    assert "in the title" in picks[0].why  # 'catastrophic forgetting' is in cl1's title
    picks = one(Profile("r", topics=("replay buffers",)), pool)
    assert ids(picks) == ["cl1"]
    assert picks[0].why == "'replay buffers' in the abstract"


def test_stemming_and_accents_match(pool) -> None:
    assert "gr1" in ids(one(Profile("r", topics=("Graph Neural Network molécule",)), pool))


# -- hard filters ------------------------------------------------------------------------
def test_excluded_keyword_wins_over_everything(pool) -> None:
    profile = Profile(
        "r",
        topics=("continual learning",),
        authors=("Ada Lovelace",),
        liked=("cl2",),
        exclude=("catastrophic forgetting", "MEDICAL"),
    )
    picks = one(profile, pool)
    # cl1: followed author, topic match, close to a liked paper, but excluded.
    assert "cl1" not in ids(picks)
    assert "md1" not in ids(picks)
    assert "cl3" in ids(picks)


def test_required_keywords_keep_only_papers_with_one_of_them(pool) -> None:
    plain = one(Profile("r", topics=("continual learning",)), pool)
    assert "md1" in ids(plain)
    picks = one(Profile("r", topics=("continual learning",), require=("replay", "survey")), pool)
    assert set(ids(picks)) == {"cl1", "cl2", "cl3"}


def test_required_keyword_phrase_is_whole_words_or_a_plural(pool) -> None:
    picks = one(Profile("r", topics=("continual learning",), require=("replay buff",)), pool)
    assert ids(picks) == []  # 'replay buffers' is not the whole word 'buff'
    for keyword in ("replay buffers", "replay buffer", "Replay-Buffer"):
        picks = one(Profile("r", topics=("continual learning",), require=(keyword,)), pool)
        assert ids(picks) == ["cl1"], keyword


def test_excluded_keyword_covers_its_plural_and_symbols_still_work() -> None:
    pool = [
        paper("llm", "Agents built on LLMs", "Tool use for LLMs."),
        paper("cls", "Object classes", "Counting classes of objects."),
        paper("cpp", "Fast C++ kernels for agents", "Tool use for agents, in C++."),
        paper("llx", "LLMX agents", "Tool use for agents."),
    ]
    picks = one(Profile("r", topics=("tool use",), exclude=("LLM",)), pool)
    assert ids(picks) and "llm" not in ids(picks) and "llx" in ids(picks)
    picks = one(Profile("r", topics=("objects",), require=("class",)), pool)
    assert ids(picks) == ["cls"]  # 'classes'
    picks = one(Profile("r", topics=("tool use",), exclude=("C++",)), pool)
    assert "cpp" not in ids(picks) and "llm" in ids(picks)
    picks = one(Profile("r", topics=("tool use",), require=("c++",)), pool)
    assert ids(picks) == ["cpp"]


def test_paper_already_sent_never_returns(pool) -> None:
    profile = Profile("r", topics=("continual learning",), authors=("Jane Doe",))
    picks = one(profile, pool, already_sent={"r": {"cl1", "gr1"}})
    assert "cl1" not in ids(picks) and "gr1" not in ids(picks)
    assert {"cl2", "cl3"} <= set(ids(picks))
    # Only the reader it was sent to is affected.
    other = rank(
        [profile, replace(profile, id="s")], pool, already_sent={"r": {"cl1"}}, options=LEXICAL
    )
    assert "cl1" in ids(other[1])


def test_category_filter_and_boost(pool) -> None:
    boost = Profile("r", topics=("continual learning",), categories=("cs.CV",))
    filtered = replace(boost, category_mode="filter")
    plain = {p.paper_id: p.score for p in one(replace(boost, categories=()), pool)}
    boosted = {p.paper_id: p.score for p in one(boost, pool)}
    assert boosted["cl2"] - plain["cl2"] == pytest.approx(LEXICAL.category_boost)
    assert boosted["cl1"] == pytest.approx(plain["cl1"])  # not in cs.CV
    stronger = LEXICAL.with_(category_boost=0.3)
    assert ids(one(boost, pool, options=stronger))[0] == "cl2"  # boosted to the top
    assert set(ids(one(filtered, pool))) == {"cl2", "md1"}  # only cs.CV papers remain
    only = one(Profile("r", categories=("eess.AS",)), pool)
    assert ids(only) == ["sp1"]
    assert only[0].why.startswith("in your category eess.AS")


# -- authors ------------------------------------------------------------------------------
def test_followed_author_always_included_and_first(pool) -> None:
    profile = Profile("r", topics=("continual learning",), authors=("Doe, Jane",))
    picks = one(profile, pool, top_k=2)
    assert ids(picks)[0] == "gr1"  # no topic match, still in, and first
    assert picks[0].why == "by Jane Doe, whom you follow"
    assert picks[0].section == "Authors you follow"
    assert len(picks) == 2


# -- liked / disliked ---------------------------------------------------------------------
def test_liked_paper_pulls_similar_ones_and_names_it(pool) -> None:
    history = [
        paper(
            "old1",
            "Rehearsal and replay for continual learning",
            "Replay of stored examples against forgetting in continual learning.",
        )
    ]
    picks = one(Profile("r", liked=("old1",)), pool, history=history)
    assert ids(picks)[0] in {"cl1", "cl2"}
    assert picks[0].why.startswith(
        "close to 'Rehearsal and replay for continual learning', which you liked"
    )
    assert "tr1" not in ids(picks)


def test_liked_seeds_kept_per_interest_not_averaged(pool) -> None:
    """Three seeds about continual learning and one about speech: the speech paper still
    comes (an average over all four seeds would drown it)."""
    history = [
        paper(
            f"c{i}", f"Continual learning study {i}", "continual learning forgetting replay tasks"
        )
        for i in range(3)
    ] + [
        paper("s0", "Speech recognition models", "speech recognition acoustic models low-resource")
    ]
    picks = one(Profile("r", liked=("c0", "c1", "c2", "s0")), pool, history=history)
    assert "sp1" in ids(picks)


GENERIC = "We propose a new learning method for models and data and show results on tasks"


def test_seed_similarity_is_standardized_per_seed() -> None:
    """One seed is written in words every paper of the pool uses, the other is specific: the
    one paper close to the specific seed comes first, and scores run from 0 to 1. Raw
    cosines (liked_standardize=False) let the common-words seed fill the top."""
    pool = [
        paper(f"g{i}", f"Learning models {i}", f"{GENERIC} with experiments number {i}.")
        for i in range(6)
    ]
    pool.append(
        paper(
            "hop",
            "Hopfield associative memory retrieval",
            "Modern Hopfield networks store patterns in an associative memory; retrieval.",
        )
    )
    history = [
        paper("s1", "A learning method for models", GENERIC + " and benchmarks."),
        paper(
            "s2",
            "Hopfield energy landscapes",
            "Associative memory in Hopfield networks: energy and retrieval of stored patterns.",
        ),
    ]
    profile = Profile("r", liked=("s1", "s2"))
    opts = LEXICAL.with_(liked_top_k=1, trending_weight=0.0, recency_weight=0.0)
    picks = one(profile, pool, history=history, options=opts, top_k=3)
    assert ids(picks)[0] == "hop"
    assert picks[0].score == 1.0 and all(0 <= p.score <= 1 for p in picks)
    assert picks[0].why == "close to 'Hopfield energy landscapes', which you liked"
    raw = one(profile, pool, history=history, options=opts.with_(liked_standardize=False), top_k=3)
    assert ids(raw)[0] != "hop"


def test_paper_linking_a_seeds_code_owner_is_a_match() -> None:
    """A seed links github.com/Acme-Lab/...; a pool paper on another subject links the same
    owner's repository: it comes first, before a paper merely written like the seed, and
    its reason names the owner and the seed. With the signal off, or for an owner that
    much of the pool links to, the paper written like the seed comes first."""
    pool = [
        paper("near", "Diffusion models for proteins", "Protein structure with diffusion."),
        paper(
            "own",
            "Sparse tensor kernels on accelerators",
            "Fast sparse kernels: https://github.com/acme-lab/spk",
        ),
        *[paper(f"f{i}", f"Filler topic {i}", f"Unrelated words number {i}.") for i in range(8)],
    ]
    history = [
        paper(
            "seed",
            "Protein folding with diffusion",
            "Diffusion for protein folding. Code at https://github.com/Acme-Lab/fold.",
        )
    ]
    profile = Profile("r", liked=("seed",))
    opts = LEXICAL.with_(trending_weight=0.0, recency_weight=0.0)
    picks = one(profile, pool, history=history, options=opts)
    assert ids(picks)[:2] == ["own", "near"]
    assert picks[0].why == (
        "code from github.com/acme-lab, like 'Protein folding with diffusion', which you liked"
    )
    assert picks[1].why == "close to 'Protein folding with diffusion', which you liked"
    off = one(profile, pool, history=history, options=opts.with_(code_owner_weight=0.0))
    assert ids(off)[0] == "near" and "code from" not in " ".join(p.why for p in off)
    crowded = [replace(p, abstract=p.abstract + " github.com/acme-lab/x") for p in pool]
    many = one(profile, crowded, history=history, options=opts)
    assert ids(many)[0] == "near" and "code from" not in " ".join(p.why for p in many)


def test_paper_sharing_an_author_with_a_seed_is_a_match() -> None:
    """A pool paper on another subject by one of a seed's authors is a match and comes
    before the paper merely written like the seed; its reason names the author as the paper
    spells it; two shared authors weigh more than one (also with unstandardized similarity).
    With the signal off, for a name on much of the pool, or for a seed with more than
    ``coauthor_max_authors`` authors (when capped; by default no cap), the paper on another
    subject is no match at all."""
    pool = [
        paper("near", "Diffusion models for proteins", "Protein structure with diffusion."),
        paper(
            "one",
            "Sparse tensor kernels on accelerators",
            "Fast sparse kernels.",
            authors=("Zoë Quill", "Someone Else"),
        ),
        paper(
            "two",
            "Query planning for column stores",
            "Plans for analytic queries.",
            authors=("Quill, Zoe", "Max Mustermann"),
        ),
        *[paper(f"f{i}", f"Filler topic {i}", f"Unrelated words number {i}.") for i in range(7)],
    ]
    seed = paper(
        "seed",
        "Protein folding with diffusion",
        "Diffusion for protein folding.",
        authors=("Zoe Quill", "Max Mustermann", "Ina Iverson"),
    )
    profile = Profile("r", liked=("seed",))
    opts = LEXICAL.with_(trending_weight=0.0, recency_weight=0.0)
    picks = {p.paper_id: p for p in one(profile, pool, history=[seed], options=opts)}
    assert list(picks)[:3] == ["two", "one", "near"]  # two of the seed's authors, then one
    raw = one(profile, pool, history=[seed], options=opts.with_(liked_standardize=False))
    assert ids(raw)[:3] == ["two", "one", "near"]
    assert picks["one"].why == (
        "by Zoë Quill, an author of 'Protein folding with diffusion', which you liked"
    )
    off = one(profile, pool, history=[seed], options=opts.with_(coauthor_weight=0.0))
    assert ids(off)[0] == "near" and not {"one", "two"} & set(ids(off))
    crowded = [replace(p, authors=(*p.authors, "Max Mustermann")) for p in pool]
    crowd = {p.paper_id: p for p in one(profile, crowded, history=[seed], options=opts)}
    assert crowd["one"].score == crowd["two"].score  # only the rare shared name counts now
    assert "Mustermann" not in " ".join(p.why for p in crowd.values())
    # Names with nothing to compare (on two papers: below the share that skips a name).
    blank = [replace(p, authors=(" . ",)) if p.id in ("one", "two") else p for p in pool]
    nameless = one(profile, blank, history=[replace(seed, authors=("", "-"))], options=opts)
    assert ids(nameless)[0] == "near" and not {"one", "two"} & set(ids(nameless))
    big = replace(seed, authors=(*seed.authors, *[f"Member {i}" for i in range(20)]))
    collab = one(profile, pool, history=[big], options=opts.with_(coauthor_max_authors=20))
    assert ids(collab)[0] == "near" and not {"one", "two"} & set(ids(collab))
    uncapped = one(profile, pool, history=[big], options=opts)  # the default: no cap
    assert ids(uncapped)[:3] == ["two", "one", "near"]


def test_disliked_pushes_down(pool) -> None:
    history = [
        paper(
            "bad",
            "Lifelong learning survey",
            "A survey of lifelong learning and continual learning",
        )
    ]
    plain = ids(one(Profile("r", topics=("continual learning",)), pool))
    pushed = ids(
        one(Profile("r", topics=("continual learning",), disliked=("bad",)), pool, history=history)
    )
    assert plain.index("cl3") < pushed.index("cl3")


# -- diversity -----------------------------------------------------------------------------
def test_diversity_keeps_two_interests_represented(pool) -> None:
    # cs.LG boosts the continual-learning papers above the one speech paper...
    profile = Profile(
        "r", topics=("continual learning", "speech recognition"), categories=("cs.LG",)
    )
    opts = LEXICAL.with_(category_boost=0.5, trending_weight=0.0)
    flat = one(profile, pool, top_k=2, options=opts.with_(diversity=False))
    assert set(ids(flat)) <= {"cl1", "cl2", "cl3"}
    # ...yet with quotas each interest keeps a place.
    picks = one(profile, pool, top_k=2, options=opts)
    assert "sp1" in ids(picks)
    assert {p.section for p in picks} == {"continual learning", "speech recognition"}


def test_near_duplicates_are_skipped_while_others_remain(pool) -> None:
    twin = replace(pool[0], id="cl1-copy")
    picks = one(Profile("r", topics=("continual learning",)), [*pool, twin], top_k=3)
    assert not {"cl1", "cl1-copy"} <= set(ids(picks))
    # With room to spare, the copy may still fill a place nothing else could.
    assert len(one(Profile("r", topics=("continual learning",)), [*pool, twin], top_k=20)) == 5


# -- reasons ------------------------------------------------------------------------------
def test_reasons_name_only_signals_that_scored(pool) -> None:
    picks = one(Profile("r", topics=("speech recognition", "continual learning")), pool)
    by_id = {p.paper_id: p for p in picks}
    assert by_id["sp1"].why == "'speech recognition' in the title; trending: 40 upvotes"
    assert "trending" not in by_id["cl1"].why  # no upvotes, nothing to claim
    assert "follow" not in " ".join(p.why for p in picks)  # no author followed
    assert "liked" not in " ".join(p.why for p in picks)
    quiet = one(
        Profile("r", topics=("speech recognition",)),
        pool,
        options=LEXICAL.with_(trending_weight=0.0),
    )
    assert quiet[0].why == "'speech recognition' in the title"


# -- feedback -----------------------------------------------------------------------------
def test_thumbs_up_act_as_seeds_and_learned_model(pool) -> None:
    history = [
        paper(
            f"f{i}",
            f"Speech recognition paper {i}",
            "speech recognition acoustic audio transcription",
        )
        for i in range(4)
    ]
    at = datetime(2025, 5, 1, tzinfo=UTC)
    events = tuple(FeedbackEvent(f"f{i}", "up", at) for i in range(4))
    profile = Profile("r", topics=("continual learning",), feedback=events)
    picks = one(profile, pool, history=history)
    assert "sp1" in ids(picks)
    assert any("👍" in p.why for p in picks if p.paper_id == "sp1")


def test_later_thumbs_down_overrides_up(pool) -> None:
    history = [paper("f0", "Speech recognition", "speech recognition acoustic audio")]
    t0, t1 = datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 5, 2, tzinfo=UTC)
    events = (FeedbackEvent("f0", "down", t1), FeedbackEvent("f0", "up", t0))
    picks = one(
        Profile("r", topics=("continual learning",), feedback=events), pool, history=history
    )
    assert "sp1" not in ids(picks)


# -- cold start and bad input --------------------------------------------------------------
def test_empty_profile_gets_trending_with_invitation(pool) -> None:
    picks = one(Profile("r"), pool, top_k=3)
    assert ids(picks)[:2] == ["tr1", "sp1"]
    assert picks[0].why == "trending: 312 upvotes"
    assert all(p.section == "Trending today" for p in picks)
    assert picks[2].why == "new today; set your interests to get papers picked for you"
    # Trending papers are shown to a new reader; a paper with no trending figure is not.
    assert [p.shown for p in picks] == [True, True, False]


def test_only_excluded_keywords_is_a_cold_start_without_them(pool) -> None:
    picks = one(Profile("r", exclude=("language model",)), pool)
    assert "tr1" not in ids(picks)
    assert ids(picks)[0] == "sp1"
    assert len(picks) == len(pool) - 1


def test_unknown_liked_ids_are_ignored(pool) -> None:
    picks = one(Profile("r", liked=("9999.99999", "no-such"), topics=("speech recognition",)), pool)
    assert ids(picks) == ["sp1"]
    cold = one(Profile("r", liked=("9999.99999",)), pool)
    assert cold and cold[0].section == "Trending today"


def test_ten_thousand_character_topic(pool) -> None:
    topic = ("continual learning " * 600)[:10_000]
    picks = one(Profile("r", topics=(topic, "speech recognition")), pool)
    assert "cl1" in ids(picks) and "sp1" in ids(picks)
    assert all(len(p.why) < 120 and len(p.section) <= 60 for p in picks)


def test_non_english_text(pool) -> None:
    extra = [
        paper("zh1", "连续学习的新方法", "我们研究连续学习和灾难性遗忘。"),
        paper("ru1", "Непрерывное обучение нейронных сетей", "Мы изучаем непрерывное обучение."),
    ]
    picks = one(Profile("r", topics=("непрерывное обучение", "连续学习的新方法")), [*pool, *extra])
    assert set(ids(picks)) == {"zh1", "ru1"}


def test_empty_pool_and_no_profiles() -> None:
    assert rank([Profile("r", topics=("x",))], [], options=LEXICAL) == [[]]
    assert rank([], [paper("a", "A title")], options=LEXICAL) == []
    assert rank(
        [Profile("r", topics=("x",))], [paper("a", "A title")], top_k=0, options=LEXICAL
    ) == [[]]


def test_pool_without_indexable_words() -> None:
    papers = [paper("a", "?!"), paper("b", "...", upvotes=3)]
    assert ids(one(Profile("r", topics=("anything",)), papers)) == []
    assert ids(one(Profile("r"), papers)) == ["b", "a"]


def test_results_do_not_depend_on_chunking(pool) -> None:
    profiles = [
        Profile("a", topics=("continual learning",)),
        Profile("b", authors=("Jane Doe",), topics=("speech recognition",)),
        Profile("c"),
        Profile("d", categories=("cs.CV",), exclude=("medical",)),
    ]
    whole = rank(profiles, pool, options=LEXICAL)
    chunked = rank(profiles, pool, options=LEXICAL.with_(chunk_size=1))
    assert whole == chunked
    assert [len(x) for x in whole] == [len(x) for x in chunked]
