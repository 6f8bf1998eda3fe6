"""RankOptions parsing (DIGEST_RANK), feedback labels, vector encoding, the lexical index,
and the ranking benchmark's command line."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from digest.domain import FeedbackEvent, Profile
from digest.errors import ConfigError
from digest.rank import RankOptions
from digest.rank.feedback import labels
from digest.rank.lexical import LexicalIndex, required_words
from digest.rank.options import DEPLOYMENT
from digest.rank.text import analyze, fold, keyword_pattern
from digest.rank.vectors import decode, encode
from digest.settings import Settings
from tests.rank.conftest import paper


def test_parse_options() -> None:
    opts = RankOptions.parse("semantic=off, trending_weight=0.5, category_mode=filter")
    assert opts.semantic is False and opts.trending_weight == 0.5
    assert opts.category_mode == "filter"
    assert RankOptions.parse("semantic=auto").semantic is None
    assert RankOptions.parse("") == RankOptions()


# A value of each deployment setting that differs from its default.
DEPLOYMENT_VALUES = {
    "semantic": ("off", False),
    "chunk_size": ("250", 250),
    "category_mode": ("filter", "filter"),
    "topic_weight": ("0.5", 0.5),
    "liked_weight": ("2", 2.0),
    "trending_weight": ("0.1", 0.1),
    "show_topic_cover": ("0.8", 0.8),
    "show_description_cover": ("0.3", 0.3),
    "show_topic_cosine": ("0.5", 0.5),
    "show_liked_cosine": ("0.1", 0.1),
    "show_liked_dense": ("0.7", 0.7),
    "trending_fill": ("0", 0),
}


def test_the_deployment_settings_are_the_documented_ones() -> None:
    assert set(DEPLOYMENT) == set(DEPLOYMENT_VALUES)
    docs = (Path(__file__).resolve().parents[2] / "docs" / "ranking.md").read_text()
    configuring = docs[docs.index("## Configuring") :].split("\n## ")[0]
    assert all(f"`{key}`" in configuring for key in DEPLOYMENT)


@pytest.mark.parametrize("key", sorted(DEPLOYMENT_VALUES))
def test_digest_rank_accepts_each_deployment_setting(key: str) -> None:
    raw, value = DEPLOYMENT_VALUES[key]
    assert getattr(RankOptions(), key) != value
    assert getattr(RankOptions.parse(f"{key}={raw}"), key) == value


@pytest.mark.parametrize(
    "text", ["lexical.k1=2", "diversity=no", "liked_top_k=1", "coauthor_weight=0"]
)
def test_digest_rank_refuses_research_knobs_in_one_line_naming_the_allowed_keys(
    text: str,
) -> None:
    key = text.partition("=")[0]
    with pytest.raises(ConfigError) as info:
        RankOptions.parse(text)
    message = str(info.value)
    assert message.startswith(f"DIGEST_RANK: {key!r} is a research knob") and "\n" not in message
    assert all(allowed in message for allowed in DEPLOYMENT)
    # The benchmarks may still set it.
    opts = RankOptions.parse(text, research=True)
    assert opts != RankOptions()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour=red", "unknown option 'colour'"),
        ("trending_weight=lots", "bad value for trending_weight"),
        ("semantic", "expected key=value"),
        ("lexical.zeta=1", "unknown option 'lexical.zeta'"),
        ("category_mode=sometimes", "category_mode must be boost or filter"),
    ],
)
def test_bad_options_name_the_variable(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        RankOptions.parse(text)
    assert str(info.value).startswith("DIGEST_RANK")


def test_settings_check_digest_rank(tmp_path) -> None:
    env = {"DIGEST_VAR_DIR": str(tmp_path), "DIGEST_RANK": "trending_weight=0.2"}
    assert Settings.from_env(env).rank == "trending_weight=0.2"
    with pytest.raises(ConfigError, match="DIGEST_RANK"):
        Settings.from_env({**env, "DIGEST_RANK": "nope=1"})
    with pytest.raises(ConfigError, match="DIGEST_RANK: 'learned_weight' is a research knob"):
        Settings.from_env({**env, "DIGEST_RANK": "learned_weight=0.9"})


def test_feedback_labels_latest_vote_wins_and_clicks_are_weaker() -> None:
    t = [datetime(2025, 5, d, tzinfo=UTC) for d in (1, 2, 3)]
    events = [
        FeedbackEvent("a", "up", t[0]),
        FeedbackEvent("a", "down", t[1]),
        FeedbackEvent("b", "down", t[0]),
        FeedbackEvent("b", "up", t[2]),
        FeedbackEvent("c", "click", t[0]),
        FeedbackEvent("d", "click", t[0]),
        FeedbackEvent("d", "down", t[1]),
    ]
    result = labels(events)
    assert result.positive == {"b": 1.0, "c": 0.5}
    assert set(result.negative) == {"a", "d"}
    assert labels([]).positive == {}


def test_clicked_papers_are_positives_in_the_order_they_were_clicked() -> None:
    """The positives' order (the rows the reader's model is fitted on) follows the events,
    not a set's order, which changes with each process's hash seed (so did the picks of a
    reader with clicks, from one run to the next)."""
    start = datetime(2025, 5, 1, tzinfo=UTC)
    ids = [f"2505.{n:05d}" for n in range(40)]
    events = [
        FeedbackEvent(pid, "click", start + timedelta(minutes=n)) for n, pid in enumerate(ids)
    ]
    assert list(labels(events).positive) == ids
    voted = [FeedbackEvent("2505.99999", "up", start), *reversed(events)]
    assert list(labels(voted).positive) == ["2505.99999", *ids]  # by time, votes first


def test_profile_is_empty_counts_only_usable_fields() -> None:
    assert Profile("r", topics=("  ",), exclude=("x",)).is_empty
    assert not Profile("r", feedback=(FeedbackEvent("a", "up"),)).is_empty
    assert Profile("r", feedback=(FeedbackEvent("a", "down"),)).is_empty


def test_vectors_round_trip() -> None:
    v = np.array([0.25, -1.5, 3.0], dtype=np.float32)
    assert np.array_equal(decode(encode(v)), v)
    assert len(encode(v)) == 12


def test_analysis_phrases_stems_and_folding() -> None:
    assert analyze("Graph Neural Networks") == [
        "graph",
        "neural",
        "network",
        "graph neural",
        "neural network",
    ]
    assert fold("Schrödinger ÉCOLE") == "schrodinger ecole"
    pattern = keyword_pattern(["large language model"])
    assert pattern is not None and pattern.search(fold("a Large-Language Model here"))
    assert pattern.search("large language models")  # the last word's plural too
    assert not pattern.search("large language modeling")  # whole words only
    assert keyword_pattern(["  ", ""]) is None


def test_required_words_by_topic_length() -> None:
    assert required_words(np.array([1, 2, 3, 6, 7, 40], dtype=np.float32)).tolist() == [
        1,
        2,
        2,
        2,
        1,
        1,
    ]


def test_lexical_index_phrase_beats_loose_words_and_title_counts() -> None:
    papers = [
        paper("phrase", "Neural networks for graphs", "graph neural network layers"),
        paper("loose", "Networks", "a graph and a neural model and a network"),
        paper("none", "Cooking", "recipes and kitchens"),
    ]
    index = LexicalIndex(papers)
    scores = index.score_topics(["graph neural network"])
    rel, matched = scores.relevance[0], scores.matched[0]
    assert rel[0] == 1.0 and rel[0] > rel[1] > rel[2] == 0.0
    assert matched.tolist() == [True, True, False]
    assert LexicalIndex.build([paper("x", "?!")]) is None


def test_code_owners_from_links() -> None:
    from digest.rank.text import code_owners

    assert code_owners(
        "Code: https://github.com/OpenGVLab/InternVL. Data: huggingface.co/datasets/Org/set",
        "Project page: https://foo-bar.github.io/x; gitlab.com/Group/repo",
    ) == {"github.com/opengvlab", "huggingface.co/org", "foo-bar.github.io", "gitlab.com/group"}
    # Hosts of other pages, bare hosts and text without links name no owner.
    assert code_owners("https://doi.org/10.1/x and https://lab.example.org/p", None, "") == set()
    assert code_owners("see github.com and GitHub stars, https://github.com/.") == set()
    # A page under another page's path is not an owner; a broken 'https: //' link still is.
    assert code_owners("https://me.github.io/Demo.github.io/") == {"me.github.io"}
    assert code_owners("page: https: //njuvision.github.io/x/") == {"njuvision.github.io"}


def test_code_owners_in_linear_time_on_hostile_text() -> None:
    """A pattern with nested repeats would take a minute on this (quadratic backtracking)."""
    from digest.rank.text import code_owners

    started = time.perf_counter()
    hostile = ("github " + "a" * 100_000, "github.io " + "a-" * 50_000, "gitlab " + "a." * 50_000)
    for text in hostile:
        assert code_owners(text) == set()
    assert time.perf_counter() - started < 2.0
    # A paper's repository link (Hugging Face daily papers) counts like a link in the text.
    from digest.domain import Paper
    from digest.rank.pool import Pool

    hf = Paper(id="x", title="t", links={"github": "https://github.com/Foo/bar", "hf": "h"})
    assert Pool([hf]).owners("x") == {"github.com/foo"}


def test_ranking_benchmark_rejects_bad_options_before_loading_data(tmp_path) -> None:
    """``benchmarks/ranking.py --options`` takes DIGEST_RANK's syntax; a bad key or value is
    a usage error (exit 2, one line, no traceback) before any data is read."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "ranking.py"
    missing = tmp_path / "absent.jsonl.gz"
    for bad in ("nope=1", "liked_top_k=many"):
        done = subprocess.run(
            [sys.executable, str(script), "--data", str(missing), "--options", bad],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert "--options: DIGEST_RANK" in done.stderr and "Traceback" not in done.stderr


def _tiny_benchmark_data(folder: Path) -> tuple[Path, Path]:
    """Twelve days of made-up papers, 2025-09-23 .. 2025-10-04 (eight tuning days, four
    report days): each day five cs.LG papers, one of them by Ada Lovelace about spiking
    networks, and five cs.CV papers, one by Grace Hopper about point clouds; enough for
    every task, two-interest ones included, in both periods."""
    lines = []
    for d in range(12):
        day = (date(2025, 9, 23) + timedelta(days=d)).isoformat()
        for category, author, subject, other in (
            ("cs.LG", "Ada Lovelace", "Spiking neurons learn by surrogate gradients.", "optimiser"),
            ("cs.CV", "Grace Hopper", "Lidar point clouds are registered by voxels.", "pixel"),
        ):
            for k in range(5):
                own = k == 0
                lines.append(
                    {
                        "id": f"2504.{d:02d}{category[-2:]}{k}",
                        "day": day,
                        "title": f"{subject.split()[0] if own else other.title()} study {d}-{k}",
                        "abstract": subject if own else f"We study {other} trick number {k}.",
                        "authors": [author, f"Helper {d}"] if own else [f"Writer {d}-{k}"],
                        "categories": [category],
                    }
                )
    data = folder / "papers.jsonl.gz"
    with gzip.open(data, "wt") as fh:
        fh.write("\n".join(json.dumps(line) for line in lines) + "\n")
    taxonomy = folder / "categories.json"
    taxonomy.write_text(
        json.dumps(
            {
                "categories": {
                    "cs.LG": {
                        "name": "Machine Learning",
                        "description": "Every optimiser trick, and spiking neurons that learn.",
                    },
                    "cs.CV": {
                        "name": "Computer Vision",
                        "description": "Pixel tricks, lidar point clouds and their voxels.",
                    },
                    "cs.CR": {  # no paper: its name is an absent subject every day
                        "name": "Cryptography and Security",
                        "description": "Ciphers.",
                    },
                }
            }
        )
    )
    return data, taxonomy


def _run_benchmark_on_tiny_data(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    data, taxonomy = _tiny_benchmark_data(folder)
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "ranking.py"
    inputs = ["--data", str(data), "--categories", str(taxonomy), "--no-semantic"]
    done = subprocess.run(
        [sys.executable, str(script), *inputs, *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done


def test_ranking_benchmark_runs_end_to_end_and_bounds_its_ratios(tmp_path) -> None:
    """The whole benchmark on a tiny dataset: every task scored, each ratio to BM25 given
    with the 95 % interval of the paired per-query difference around it."""
    out = tmp_path / "figures.json"
    done = _run_benchmark_on_tiny_data(
        tmp_path, "--period", "report", "--no-feedback", "--json", str(out)
    )
    figures = json.loads(out.read_text())
    assert figures["period"] == "report" and figures["days"] == 4  # 2025-10-01 .. 10-04
    assert figures["stated"]["queries"] == 8  # both categories on each report day
    assert figures["liked"]["queries"] == 8  # Ada and Grace: 5 earlier papers from day 6 on
    assert figures["two topics"]["queries"] == 4 and figures["two authors"]["queries"] == 4
    assert figures["topic + author"]["queries"] == 8  # each liked reader with a topic
    assert figures["names"]["queries"] == 8  # the stated readers, with the names alone
    for task in ("stated", "liked", "two topics", "two authors", "topic + author", "names"):
        low, high = figures[task]["ratio_95"]
        assert low - 1e-9 <= figures[task]["ratio"] <= high + 1e-9
    # Each author's paper is plainly closest to their five earlier ones; a reader liking
    # both gets both.
    assert figures["liked"]["digest"]["ndcg@10"] == 1.0
    assert figures["two authors"]["digest"]["both_interests"] == 1.0
    # Intent-aware nDCG: one author's paper first, the other's second (each has one).
    assert figures["two authors"]["digest"]["ia_ndcg@10"] == pytest.approx((1 + 1 / np.log2(3)) / 2)
    # A topic and an author: both in every top 10, the author's paper near the top (it is
    # plainly closest to the five liked ones; a topic's best match may come before it).
    mixed = figures["topic + author"]["digest"]
    assert mixed["both_interests"] == 1.0 and mixed["per_interest_ndcg@10"][1] > 0.6
    assert 0 < mixed["per_interest_ndcg@10"][0] <= 1
    # No paper has both words of 'Machine Learning' or of 'Computer Vision': the digest
    # shows nothing rather than papers that do not match; BM25 always shows ten.
    assert figures["names"]["digest"]["shown"] == 0 and figures["names"]["bm25"]["shown"] == 10
    assert figures["stated"]["digest"]["shown"] > 0  # a description matches by one word
    # A reader of a subject with no paper that day is shown nothing.
    assert figures["absent subjects"] == {"readers": 4, "shown": 0.0, "shown_any": 0.0}
    assert "x bm25 between" in done.stdout and "both interests in the top 10" in done.stdout


def test_ranking_benchmark_tune_prints_each_row_against_the_defaults(tmp_path) -> None:
    """``--tune`` runs the ablation grid on the tuning months and prints, per task, each
    row's difference from the defaults with its 95 % half-width (zero for the defaults)."""
    done = _run_benchmark_on_tiny_data(tmp_path, "--tune")
    assert "tune period: 8 days 2025-09-23 .. 2025-09-30" in done.stdout
    rows = [line for line in done.stdout.splitlines() if line.startswith("  ")]
    assert rows[0].split()[0] == "defaults" and "stated 1.0000 (+0.0000 ± 0.0000)" in rows[0]
    assert [row.split()[0] for row in rows[1:]] == list(_benchmark_module().ABLATIONS)
    assert all(row.count("±") == 7 for row in rows)  # one per task
    assert "liked 1.0000 (+0.0000" in rows[0]  # the tuning days have liked readers too
    chosen = _run_benchmark_on_tiny_data(tmp_path, "--tune", "--try", "liked_top_k=1")
    rows = [line for line in chosen.stdout.splitlines() if line.startswith("  ")]
    assert [row.split()[0] for row in rows] == ["defaults", "liked_top_k=1"]


def test_benchmark_split_keeps_the_report_months_out_of_the_tuning_days(tmp_path) -> None:
    """Both benchmarks take their days from ``period_days``: tuning days (every N-th) see no
    paper of the report months, not even as a liked seed; a paper announced again later
    counts once, on its first day."""
    bench = _benchmark_module()
    data, taxonomy = _tiny_benchmark_data(tmp_path)
    again = tmp_path / "again.jsonl.gz"
    with gzip.open(data, "rt") as fh:
        first = json.loads(fh.readline())
    with gzip.open(again, "wt") as fh:
        fh.write(json.dumps({**first, "day": "2025-10-02"}) + "\n")
    papers, tax = bench.load_all([data, again], taxonomy)
    copies = [p for p in papers if p.title == first["title"]]
    assert len(papers) == 120 and [str(p.announced) for p in copies] == ["2025-09-23"]
    tune = bench.period_days(papers, tax, "tune")
    report = bench.period_days(papers, tax, "report")
    assert [str(d.day) for d in tune][::7] == ["2025-09-23", "2025-09-30"] and len(tune) == 8
    assert [str(d.day) for d in report] == [f"2025-10-0{k}" for k in range(1, 5)]
    assert [str(d.day) for d in bench.period_days(papers, tax, "tune", every=3)] == [
        "2025-09-23",
        "2025-09-26",
        "2025-09-29",
    ]
    seen_in_tuning = {p.announced for d in tune for p in [*d.history, *d.coauthor_pool]}
    assert max(seen_in_tuning) < bench.REPORT_FROM
    # A report day's liked readers have their seeds from earlier days, tuning months included.
    assert min(p.announced for d in report for p in d.history) < bench.REPORT_FROM


def _benchmark_module():  # type: ignore[no-untyped-def]
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "ranking.py"
    spec = importlib.util.spec_from_file_location("ranking_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def test_benchmark_paired_difference_and_its_half_width() -> None:
    bench = _benchmark_module()
    ours = bench.Score([1.0, 0.5, 0.0, 1.0], [0.0] * 4)
    theirs = bench.Score([0.5, 0.5, 0.0, 0.5], [0.0] * 4)
    diff, half = ours.minus(theirs)
    differences = np.array([0.5, 0.0, 0.0, 0.5])
    assert diff == pytest.approx(0.25)
    assert half == pytest.approx(1.96 * differences.std(ddof=1) / 2)
    assert ours.minus(ours) == (0.0, 0.0)
    assert np.isnan(bench._ratio(0.3, 0.0)) and bench._ratio(0.3, 0.2) == pytest.approx(1.5)


def test_benchmark_pairs_readers_by_day_and_drops_the_odd_one() -> None:
    from datetime import date

    bench = _benchmark_module()
    tasks = [
        bench.Task(Profile(id=f"r{i}", topics=(f"topic {i}",)), {f"p{i}"}, f"topic {i}")
        for i in range(5)
    ]
    day = date(2025, 5, 2)
    pairs = bench.pair_up(tasks, day)
    assert len(pairs) == 2  # five readers: two pairs, one left over
    assert [p.profile.id for p in pairs] == [p.profile.id for p in bench.pair_up(tasks, day)]
    for pair in pairs:
        first, second = pair.interests
        assert pair.relevant == first | second and len(pair.profile.topics) == 2
    ids = [p.profile.id for p in pairs]
    assert len({name for i in ids for name in i.split(" + ")}) == 4  # nobody paired twice


def test_benchmark_gives_each_liked_reader_a_topic_in_turn() -> None:
    from datetime import date

    bench = _benchmark_module()
    stated = [
        bench.Task(Profile(id=f"cat{i}", topics=(f"topic {i}",)), {f"c{i}"}, f"topic {i}")
        for i in range(2)
    ]
    liked = [
        bench.Task(Profile(id=f"author{i}", liked=(f"s{i}",)), {f"a{i}"}, f"seed {i}")
        for i in range(5)
    ]
    day = date(2025, 5, 2)
    mixed = bench.mix_up(stated, liked, day)
    assert [m.profile.liked for m in mixed] == [(f"s{i}",) for i in range(5)]  # each once
    topics = [m.profile.topics[0] for m in mixed]
    assert topics[:2] != topics[1:3] and sorted(set(topics)) == ["topic 0", "topic 1"]
    for m in mixed:
        topic, author = m.interests
        assert m.relevant == topic | author and len(topic) == len(author) == 1
    assert [m.profile.id for m in mixed] == [m.profile.id for m in bench.mix_up(stated, liked, day)]
    assert bench.mix_up([], liked, day) == []  # no topic that day: no mixed readers
