"""What the digest shows: precision of the papers it mails, on days no choice has seen.

    .venv/bin/python benchmarks/shown.py                    # calibrate on the tuning months
    .venv/bin/python benchmarks/shown.py --period report    # the report months (count the look)
    .venv/bin/python benchmarks/shown.py --semantic ...     # with the semantic extra

The ranking ranks every eligible paper; the digest mails only the picks whose match is real
(``Pick.shown``: the share of a topic's words the paper says, ``show_topic_cover`` for
topics of up to six words and ``show_description_cover`` for longer ones; the TF-IDF cosine
to the closest liked paper, ``show_liked_cosine``; embedding cosines with the semantic
extra). This benchmark measures that choice on the tasks of ``benchmarks/ranking.py``
(stated: a category's name and description; names: the category's name alone, as readers
type topics; liked: an author's five earlier papers), over both data files, split as
there (``ranking.period_days``; a paper announced twice counts once, on its first day):

  tuning   2025-04-01 .. 2025-09-30 (every ``--every``-th day, for speed): for each task, the
           precision of the top-10 picks whose ``match`` clears each threshold of a grid,
           and the smallest threshold whose precision is >= ``--precision`` (0.7): the
           calibrated default;
  report   2025-10-01 .. 2025-12-31, only once a change is final: with the defaults, the
           precision of what is shown, the mean shown per reader, the readers with >= 3
           relevant papers in the pool who are shown none, and nDCG@10 of the full ranking
           against BM25 in the same run (with the 95 % half-width of the paired difference).

With ``--semantic`` a topic pick is also shown when its embedding cosine to the topic
reaches ``show_topic_cosine``, and a liked pick when its embedding cosine to the closest
seed reaches ``show_liked_dense`` (either rule shows it). On the tuning months those two
are calibrated by the same rule, with the words thresholds at their defaults: a pick is
kept at threshold t when the words rule shows it or its cosine is >= t (t 0 keeps every
pick, as no threshold does). ``show_topic_cosine`` decides the topics of the stated and
names tasks alike, so it is calibrated on their picks together (with the absent readers'
picks, as names is); ``show_liked_dense`` on the liked task.

A reader whose interest has no paper that day ("absent": the name of a category with no
paper) should be shown nothing: the mean shown to them is printed too.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ranking as rb

from digest.domain import Pick, Profile
from digest.rank import RankOptions, build_pool, rank_pool, topic_texts
from digest.rank import semantic as sem
from digest.rank.pool import Pool

TASKS = ("stated", "names", "liked")
OPTION = {  # which threshold decides each task's topic or liked picks
    "stated": "show_description_cover",
    "names": "show_topic_cover",
    "liked": "show_liked_cosine",
}
# With the semantic extra: the embedding threshold that can also show a pick, and the tasks
# whose picks it decides (calibrated together: one threshold serves short and long topics).
SEMANTIC_OPTION = {
    "show_topic_cosine": ("stated", "names"),
    "show_liked_dense": ("liked",),
}
NEVER = float("inf")  # a threshold no cosine reaches: the embedding rules off
GRID = [round(x, 3) for x in np.arange(0.0, 1.001, 0.025)]


@dataclass(frozen=True)
class Seen:
    """One top-10 pick as the calibration needs it."""

    match: float  # Pick.match: the words rule's strength (or the cosine, by meaning only)
    relevant: bool
    shown: bool  # what the ranker decided with the options of the run
    words: bool = False  # semantic runs: shown with the embedding rules off
    cosine: float = float("nan")  # semantic runs: the cosine the embedding rule reads


Rule = Callable[[Seen, float], bool]  # is a pick kept at this threshold?


def by_match(pick: Seen, threshold: float) -> bool:
    """The words thresholds: the pick's own match."""
    return pick.match >= threshold


def by_cosine(pick: Seen, threshold: float) -> bool:
    """The embedding thresholds: the words rule shows it, or the cosine reaches it."""
    return pick.words or pick.cosine >= threshold


@dataclass
class Tally:
    """Per task: each reader's top-10 picks and relevant papers in the pool, and counts."""

    readers: list[tuple[list[Seen], int]] = field(default_factory=list)
    shown_per_reader: list[int] = field(default_factory=list)
    starved: int = 0  # readers with >= 3 relevant papers in the pool, shown none
    eligible_readers: int = 0  # readers with >= 3 relevant papers in the pool
    ours: list[float] = field(default_factory=list)  # nDCG@10 of the full ranking
    bm25: list[float] = field(default_factory=list)

    @property
    def picks(self) -> list[Seen]:
        return [pick for top, _ in self.readers for pick in top]

    def add(self, picks: Sequence[Pick], relevant: set[str], seen: Sequence[Seen]) -> None:
        top = list(seen[: rb.K])
        self.readers.append((top, len(relevant)))
        shown = sum(p.shown for p in top)
        self.shown_per_reader.append(shown)
        if len(relevant) >= 3:
            self.eligible_readers += 1
            self.starved += shown == 0
        self.ours.append(rb.ndcg([p.paper_id for p in picks], relevant))


def rank(  # type: ignore[no-untyped-def]
    pool, tasks, history, opts, embedder, vectors
) -> tuple[list[list[Pick]], list[list[Seen]]]:
    """Each task's picks, and each pick as the calibration sees it. With embeddings, the
    same pool is ranked again with the embedding rules off (the ranking itself does not
    depend on the show thresholds) to learn which picks the words alone show, and each
    pick's cosine is read from the pool's own vectors: to the reader's topic, or to their
    closest seed."""
    prepared = build_pool(
        pool, history, opts, embedder=embedder, vectors=vectors.by_id if vectors else None
    )
    profiles = [t.profile for t in tasks]
    ranked = rank_pool(prepared, profiles, top_k=rb.K, options=opts)
    relevant = [t.relevant for t in tasks]
    if prepared.dense is None:
        seen = [
            [Seen(p.match, p.paper_id in rel, p.shown) for p in picks]
            for picks, rel in zip(ranked, relevant, strict=True)
        ]
        return ranked, seen
    words_opts = opts.with_(show_topic_cosine=NEVER, show_liked_dense=NEVER)
    words = rank_pool(prepared, profiles, top_k=rb.K, options=words_opts)
    seen = []
    for profile, picks, plain, rel in zip(profiles, ranked, words, relevant, strict=True):
        assert [p.paper_id for p in picks] == [p.paper_id for p in plain]
        cosine = _cosines(prepared, profile)
        seen.append(
            [
                Seen(p.match, p.paper_id in rel, p.shown, w.shown, cosine(p.paper_id))
                for p, w in zip(picks, plain, strict=True)
            ]
        )
    return ranked, seen


def _cosines(prepared: Pool, profile: Profile) -> Callable[[str], float]:
    """The cosine the embedding rule reads for this reader's picks: to their topic (these
    tasks give one) or, for a reader with liked papers, to the closest of them."""
    assert prepared.dense is not None
    if profile.topics:
        (topic,) = topic_texts([profile])
        row = prepared.embed_texts([topic]) @ prepared.dense.T
    else:
        seeds = [s for s in profile.liked if s in prepared.known]
        row = prepared.seed_vectors(seeds) @ prepared.dense.T
        for k, seed in enumerate(seeds):  # a seed in the pool is no candidate for itself
            if seed in prepared.index:
                row[k, prepared.index[seed]] = 0.0
    best = row.max(axis=0)
    return lambda paper_id: float(best[prepared.index[paper_id]])


def measure(days: Sequence[rb.Day], opts: RankOptions, embedder, vectors) -> dict[str, Tally]:  # type: ignore[no-untyped-def]
    out = {task: Tally() for task in (*TASKS, rb.ABSENT)}
    for day in days:
        for name, pool, tasks in (
            ("stated", day.stated_pool, day.stated),
            ("names", day.stated_pool, day.names),
            ("liked", day.liked_pool, day.liked),
            (rb.ABSENT, day.stated_pool, day.absent),
        ):
            if not tasks:
                continue
            ranked, seen = rank(pool, tasks, day.history, opts, embedder, vectors)
            for task, picks, pick_seen in zip(tasks, ranked, seen, strict=True):
                out[name].add(picks, task.relevant, pick_seen)
            if name != rb.ABSENT:
                baseline = rb.bm25_rankings(pool, [t.bm25_query for t in tasks])
                out[name].bm25 += [
                    rb.ndcg(b, t.relevant) for b, t in zip(baseline, tasks, strict=True)
                ]
    return out


def calibrate(
    tallies: Sequence[Tally],
    wanted: float,
    starving: float,
    absent: Tally | None = None,
    rule: Rule = by_match,
) -> tuple[float | None, str, list[tuple[float, float, float, float]]]:
    """Precision, picks kept per reader and the share of readers with >= 3 relevant papers
    in the pool who keep none, at each threshold, over the picks of ``tallies`` (the tasks
    the threshold decides; ``rule`` says whether a pick is kept at a threshold). Precision
    counts, with ``absent``, the picks of readers whose subject has no paper that day too
    (every one of them wrong): a threshold is also there so that those readers are not
    mailed junk.

    Only thresholds that leave at most ``starving`` more of those readers with nothing than
    no threshold does qualify (a digest of nobody is not precise, it is absent); among them,
    the smallest whose precision reaches ``wanted``, else the most precise (ties: the
    smaller threshold, which shows more)."""
    readers = [reader for tally in tallies for reader in tally.readers]
    own = [pick for top, _ in readers for pick in top]
    picks = own + (absent.picks if absent else [])
    relevant = np.array([p.relevant for p in picks], dtype=bool)
    eligible = [top for top, n in readers if n >= 3]
    rows = []
    for threshold in GRID:
        kept = np.array([rule(p, threshold) for p in picks], dtype=bool)
        if not kept.any():
            break
        starved = sum(1 for top in eligible if not any(rule(p, threshold) for p in top))
        share = starved / max(len(eligible), 1)
        per_reader = kept[: len(own)].sum() / max(len(readers), 1)
        rows.append((threshold, float(relevant[kept].mean()), float(per_reader), share))
    if not rows:
        return None, "no picks", rows
    fair = [row for row in rows if row[3] <= rows[0][3] + starving]
    for threshold, precision, _, _ in fair:
        if precision >= wanted:
            return threshold, f"precision >= {wanted}", rows
    best = max(fair, key=lambda row: (round(row[1], 3), -row[0]))
    return best[0], f"precision {wanted} unreachable: the most precise", rows


def report(
    label: str,
    current: float,
    chosen: float | None,
    rule: str,
    rows: list[tuple[float, float, float, float]],
) -> None:
    print(f"  {label} -> {chosen} ({rule}; now {current})")
    print("      threshold  precision  kept/reader  starved")
    for threshold, precision, per_reader, starved in rows:
        if GRID.index(threshold) % 2 and threshold not in (chosen, current):
            continue  # every 0.05, and the chosen and current thresholds
        print(f"      >= {threshold:5.3f}  {precision:9.3f}  {per_reader:11.2f}  {starved:7.1%}")


def check(tallies: dict[str, Tally], opts: RankOptions) -> None:
    """The embedding rule as this benchmark rebuilds it (words, or cosine >= threshold)
    against the ranker's own ``shown``, at the run's thresholds: they should agree."""
    for names, option in (
        ((*SEMANTIC_OPTION["show_topic_cosine"], rb.ABSENT), "show_topic_cosine"),
        (SEMANTIC_OPTION["show_liked_dense"], "show_liked_dense"),
    ):
        picks = [p for name in names for p in tallies[name].picks]
        threshold = getattr(opts, option)
        differ = sum(by_cosine(p, threshold) != p.shown for p in picks)
        print(f"  check, {option} {threshold}: rebuilt rule differs on {differ}/{len(picks)} picks")


def half_width(diff: np.ndarray) -> float:
    return float(1.96 * diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, action="append", help="(repeatable)")
    parser.add_argument("--categories", type=Path, default=rb.CATEGORIES)
    parser.add_argument("--period", choices=("tune", "report"), default="tune")
    parser.add_argument("--every", type=int, default=3, help="tuning: every N-th day")
    parser.add_argument("--precision", type=float, default=0.7)
    parser.add_argument("--starving", type=float, default=0.05, help="share allowed to get none")
    parser.add_argument("--semantic", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--options", default="", help="ranker options, any field ('k=v, k=v')")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    opts = RankOptions.parse(args.options, RankOptions(semantic=args.semantic), research=True)
    papers, taxonomy = rb.load_all(args.data or rb.DATA, args.categories)
    days = rb.period_days(papers, taxonomy, args.period, args.every)  # the one split
    embedder = sem.default_embedder() if args.semantic else None
    vectors = rb.Vectors(papers, embedder, rb.needed_ids(days)) if embedder else None
    print(
        f"{args.period}: {len(days)} days ({days[0].day} .. {days[-1].day}), "
        f"{'semantic' if args.semantic else 'lexical'}; loaded in "
        f"{time.perf_counter() - started:.0f} s"
    )
    tallies = measure(days, opts, embedder, vectors)

    print("\ntask     readers  shown/reader  precision(shown)  precision(top10)  starved")
    for name in TASKS:
        t = tallies[name]
        shown = [p.relevant for p in t.picks if p.shown]
        every = [p.relevant for p in t.picks]
        print(
            f"{name:8} {len(t.shown_per_reader):7}  {np.mean(t.shown_per_reader):12.2f}  "
            f"{np.mean(shown) if shown else float('nan'):16.3f}  {np.mean(every):16.3f}  "
            f"{t.starved}/{t.eligible_readers}"
        )
    absent = tallies[rb.ABSENT]
    print(
        f"absent   {len(absent.shown_per_reader):7}  "
        f"{np.mean(absent.shown_per_reader or [0]):12.2f}  (readers whose subject has no "
        f"paper that day: every shown paper is wrong; top 10 held "
        f"{len(absent.picks) / max(len(absent.shown_per_reader), 1):.2f})"
    )
    print("\nnDCG@10 of the full ranking vs BM25 (same pools, same run):")
    for name in TASKS:
        t = tallies[name]
        ours, base = np.array(t.ours), np.array(t.bm25)
        print(
            f"  {name:8} digest {ours.mean():.3f}  bm25 {base.mean():.3f}  "
            f"x{ours.mean() / base.mean():.2f}  (diff {np.mean(ours - base):+.3f} "
            f"± {half_width(ours - base):.3f})"
        )
    if args.semantic:
        check(tallies, opts)
    if args.period == "tune":
        print(
            f"\ncalibration (precision >= {args.precision}, at most {args.starving:.0%} more "
            "readers with >= 3 relevant papers starved; names: with the absent readers' picks):"
        )
        if args.semantic:
            for option, names in SEMANTIC_OPTION.items():
                with_absent = tallies[rb.ABSENT] if "names" in names else None
                found = calibrate(
                    [tallies[n] for n in names],
                    args.precision,
                    args.starving,
                    with_absent,
                    rule=by_cosine,
                )
                report(f"{' + '.join(names)}: {option}", getattr(opts, option), *found)
                if len(names) > 1:  # each task alone, for the record
                    for name in names:
                        alone = tallies[rb.ABSENT] if name == "names" else None
                        found = calibrate(
                            [tallies[name]], args.precision, args.starving, alone, by_cosine
                        )
                        report(f"  {name} alone: {option}", getattr(opts, option), *found)
        else:
            for name in TASKS:
                absent = tallies[rb.ABSENT] if name == "names" else None
                found = calibrate([tallies[name]], args.precision, args.starving, absent)
                report(f"{name}: {OPTION[name]}", getattr(opts, OPTION[name]), *found)
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
