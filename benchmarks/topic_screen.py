"""A fast screen of topic changes on the tuning months: the stated, names and two-topics
tasks of ``benchmarks/ranking.py`` only (the tasks whose readers have topics), each row
against the defaults (paired 95 % half-width) and against bm25, on every N-th tuning day
or on the days between them (``--odd``: a confirmation half that the screen did not see).

    .venv/bin/python benchmarks/topic_screen.py --every 2 "lexical.head_weight=0.3" ...
    .venv/bin/python benchmarks/topic_screen.py --every 2 --odd "lexical.prf_scored=off"

Never the report months. docs/ranking.md, "Lifting the unseen-days figures", used it.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ranking as rb

from digest.rank import RankOptions

TASKS = (("stated", "stated"), ("names", "names"), ("two topics", "two_topics"))


def run(days: list[rb.Day], opts: RankOptions, baseline: bool = False):  # type: ignore[no-untyped-def]
    ours: dict[str, list[float]] = {name: [] for name, _ in TASKS}
    bm25: dict[str, list[float]] = {name: [] for name, _ in TASKS}
    for day in days:
        for name, attr in TASKS:
            tasks = getattr(day, attr)
            if not tasks:
                continue
            ranked = rb.run_ranker(day.stated_pool, tasks, day.history, opts, None, None)
            ours[name] += [rb.ndcg(r, t.relevant) for r, t in zip(ranked, tasks, strict=True)]
            if baseline:
                base = rb.bm25_rankings(day.stated_pool, [t.bm25_query for t in tasks])
                bm25[name] += [rb.ndcg(r, t.relevant) for r, t in zip(base, tasks, strict=True)]
    return ours, bm25


def paired(a: list[float], b: list[float]) -> tuple[float, float]:
    d = np.asarray(a) - np.asarray(b)
    return float(d.mean()), float(1.96 * d.std(ddof=1) / math.sqrt(d.size))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="*", help="option rows ('k=v, k=v'), research keys too")
    parser.add_argument("--every", type=int, default=2)
    parser.add_argument("--odd", action="store_true", help="the days between the sampled ones")
    args = parser.parse_args(argv)
    papers, taxonomy = rb.load_all(rb.DATA, rb.CATEGORIES)
    rb.GLOSSARY.update(rb.glossary(taxonomy))
    before = [p for p in papers if p.announced and p.announced < rb.REPORT_FROM]
    all_days = sorted({p.announced for p in before if p.announced >= rb.TUNE_FROM})  # type: ignore[operator]
    step = max(1, args.every)
    wanted = set(all_days[1::step] if args.odd else all_days[::step])
    days = rb.build_days(before, taxonomy, wanted=wanted)
    base_opts = RankOptions(semantic=False)
    started = time.perf_counter()
    base, bm25 = run(days, base_opts, baseline=True)
    print(f"{len(days)} tuning days; defaults ({time.perf_counter() - started:.0f} s)")
    for name, values in base.items():
        diff, half = paired(values, bm25[name])
        ratio = np.mean(values) / np.mean(bm25[name])
        print(
            f"  {name:11s} {len(values)} readers: bm25 {np.mean(bm25[name]):.4f}, digest"
            f" {np.mean(values):.4f}, x{ratio:.3f} ({diff:+.4f} ± {half:.4f})"
        )
    for row in args.rows:
        ours, _ = run(days, RankOptions.parse(row, base_opts, research=True))
        parts = []
        for name, values in ours.items():
            diff, half = paired(values, base[name])
            ratio = np.mean(values) / np.mean(bm25[name])
            parts.append(f"{name} {np.mean(values):.4f} x{ratio:.3f} ({diff:+.4f} ± {half:.4f})")
        print(f"{row}: " + " | ".join(parts), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
