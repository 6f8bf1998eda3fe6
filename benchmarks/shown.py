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

A reader whose interest has no paper that day ("absent": the name of a category with no
paper) should be shown nothing: the mean shown to them is printed too.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ranking as rb

from digest.domain import Pick
from digest.rank import RankOptions, build_pool, rank_pool
from digest.rank import semantic as sem

TASKS = ("stated", "names", "liked")
OPTION = {  # which threshold decides each task's topic or liked picks
    "stated": "show_description_cover",
    "names": "show_topic_cover",
    "liked": "show_liked_cosine",
}
GRID = [round(x, 3) for x in np.arange(0.0, 1.001, 0.025)]


@dataclass
class Tally:
    """Per task: each top-10 pick's (match, relevant, shown), and per reader the counts."""

    picks: list[tuple[float, bool, bool]] = field(default_factory=list)
    readers: list[tuple[list[float], int]] = field(default_factory=list)  # top-10 matches,
    # relevant papers in the pool
    shown_per_reader: list[int] = field(default_factory=list)
    starved: int = 0  # readers with >= 3 relevant papers in the pool, shown none
    eligible_readers: int = 0  # readers with >= 3 relevant papers in the pool
    ours: list[float] = field(default_factory=list)  # nDCG@10 of the full ranking
    bm25: list[float] = field(default_factory=list)

    def add(self, picks: Sequence[Pick], relevant: set[str]) -> None:
        top = list(picks[: rb.K])
        self.picks += [(p.match, p.paper_id in relevant, p.shown) for p in top]
        self.readers.append(([p.match for p in top], len(relevant)))
        shown = sum(p.shown for p in top)
        self.shown_per_reader.append(shown)
        if len(relevant) >= 3:
            self.eligible_readers += 1
            self.starved += shown == 0
        self.ours.append(rb.ndcg([p.paper_id for p in picks], relevant))


def rank(pool, tasks, history, opts, embedder, vectors) -> list[list[Pick]]:  # type: ignore[no-untyped-def]
    prepared = build_pool(
        pool, history, opts, embedder=embedder, vectors=vectors.by_id if vectors else None
    )
    return rank_pool(prepared, [t.profile for t in tasks], top_k=rb.K, options=opts)


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
            ranked = rank(pool, tasks, day.history, opts, embedder, vectors)
            for task, picks in zip(tasks, ranked, strict=True):
                out[name].add(picks, task.relevant)
            if name != rb.ABSENT:
                baseline = rb.bm25_rankings(pool, [t.bm25_query for t in tasks])
                out[name].bm25 += [
                    rb.ndcg(b, t.relevant) for b, t in zip(baseline, tasks, strict=True)
                ]
    return out


def calibrate(
    tally: Tally, wanted: float, starving: float, absent: Tally | None = None
) -> tuple[float | None, str, list[tuple[float, float, float, float]]]:
    """Precision, picks kept per reader and the share of readers with >= 3 relevant papers
    in the pool who keep none, at each threshold. Precision counts, with ``absent``, the
    picks of readers whose subject has no paper that day too (every one of them wrong): a
    threshold is also there so that those readers are not mailed junk.

    Only thresholds that leave at most ``starving`` more of those readers with nothing than
    no threshold does qualify (a digest of nobody is not precise, it is absent); among them,
    the smallest whose precision reaches ``wanted``, else the most precise (ties: the
    smaller threshold, which shows more)."""
    picks = tally.picks + (absent.picks if absent else [])
    match = np.array([m for m, _, _ in picks])
    relevant = np.array([r for _, r, _ in picks])
    readers = max(len(tally.readers), 1)
    eligible = [matches for matches, n in tally.readers if n >= 3]
    rows = []
    for threshold in GRID:
        kept = match >= threshold
        if not kept.any():
            break
        starved = sum(1 for m in eligible if not any(x >= threshold for x in m))
        share = starved / max(len(eligible), 1)
        kept_here = np.array([m >= threshold for m, _, _ in tally.picks]).sum()
        rows.append((threshold, float(relevant[kept].mean()), kept_here / readers, share))
    if not rows:
        return None, "no picks", rows
    fair = [row for row in rows if row[3] <= rows[0][3] + starving]
    for threshold, precision, _, _ in fair:
        if precision >= wanted:
            return threshold, f"precision >= {wanted}", rows
    best = max(fair, key=lambda row: (round(row[1], 3), -row[0]))
    return best[0], f"precision {wanted} unreachable: the most precise", rows


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
    vectors = rb.Vectors(papers, embedder) if embedder else None
    print(
        f"{args.period}: {len(days)} days ({days[0].day} .. {days[-1].day}), "
        f"{'semantic' if args.semantic else 'lexical'}; loaded in "
        f"{time.perf_counter() - started:.0f} s"
    )
    tallies = measure(days, opts, embedder, vectors)

    print("\ntask     readers  shown/reader  precision(shown)  precision(top10)  starved")
    for name in TASKS:
        t = tallies[name]
        shown = [r for _, r, s in t.picks if s]
        every = [r for _, r, _ in t.picks]
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
    if args.period == "tune":
        print(
            f"\ncalibration (precision >= {args.precision}, at most {args.starving:.0%} more "
            "readers with >= 3 relevant papers starved; names: with the absent readers' picks):"
        )
        for name in TASKS:
            absent = tallies[rb.ABSENT] if name == "names" else None
            chosen, rule, rows = calibrate(tallies[name], args.precision, args.starving, absent)
            current = getattr(opts, OPTION[name])
            print(f"  {name}: {OPTION[name]} -> {chosen} ({rule}; now {current})")
            print("      threshold  precision  kept/reader  starved")
            for threshold, precision, per_reader, starved in rows[::4]:
                print(
                    f"      >= {threshold:5.3f}  {precision:9.3f}  {per_reader:11.2f}"
                    f"  {starved:7.1%}"
                )
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
