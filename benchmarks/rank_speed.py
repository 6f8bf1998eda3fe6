"""Batch ranking speed: 100,000 subscribers x 1,000 candidate papers -> top 10 each.

    .venv/bin/python benchmarks/rank_speed.py                   # lexical backend (the target)
    .venv/bin/python benchmarks/rank_speed.py --semantic        # also time the semantic backend
    .venv/bin/python benchmarks/rank_speed.py --subscribers 20000

Target (issue 4): lexical, at most 60 s and at most 2 GB peak memory on this 2-core machine.
Candidates are 1,000 real papers (the last days of the evaluation data, with synthetic
upvotes); profiles are synthetic but shaped like real ones: 1-3 free-text topics made of
phrases from other papers' titles, and for some readers followed authors, categories,
excluded and required keywords, liked papers and papers already sent. As a reference in
the same process, a bare BM25 top-10 (one sparse product, no filters, no reasons) is
timed on the same queries.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.domain import Paper, Profile  # noqa: E402
from digest.ingest.parse_jsonl import parse_jsonl, read_lines  # noqa: E402
from digest.rank import (  # noqa: E402
    RankOptions,
    build_pool,
    rank_pool,
    topic_texts,
)
from digest.rank import semantic as sem  # noqa: E402
from digest.rank.text import tokens  # noqa: E402
from digest.rank.vectors import KnownTexts  # noqa: E402

DATA = Path("/work/shared/data/arxiv-2025-04-05.jsonl.gz")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(path: Path, n_candidates: int) -> tuple[list[Paper], list[Paper]]:
    papers = parse_jsonl(read_lines(path), source="bench").records
    papers.sort(key=lambda p: (p.announced or p.published, p.id))
    rng = random.Random(7)
    candidates = [
        replace(p, upvotes=int(rng.paretovariate(1.5)) - 1) for p in papers[-n_candidates:]
    ]
    return candidates, papers[:-n_candidates]


def make_profiles(n: int, candidates: list[Paper], history: list[Paper]) -> list[Profile]:
    rng = random.Random(42)
    phrases = []
    for paper in history[:3000]:
        words = [w for w in paper.title.split() if tokens(w)]
        for i in range(0, max(len(words) - 1, 0), 2):
            phrases.append(" ".join(words[i : i + rng.choice((2, 2, 3))]))
    authors = [a for p in candidates for a in p.authors]
    categories = sorted({c for p in candidates for c in p.categories})
    liked_pool = [p.id for p in history[-2000:]]
    profiles = []
    for i in range(n):
        r = rng.random()
        profiles.append(
            Profile(
                id=f"s{i}",
                topics=tuple(rng.sample(phrases, rng.randint(1, 3))),
                authors=tuple(rng.sample(authors, 2)) if r < 0.2 else (),
                categories=(rng.choice(categories),) if 0.2 <= r < 0.5 else (),
                exclude=(rng.choice(phrases).split()[0],) if r > 0.9 else (),
                require=(rng.choice(phrases).split()[-1],) if 0.85 < r <= 0.9 else (),
                liked=tuple(rng.sample(liked_pool, rng.randint(1, 5))) if r < 0.1 else (),
            )
        )
    return profiles


def sent_sets(profiles: list[Profile], candidates: list[Paper]) -> dict[str, set[str]]:
    rng = random.Random(3)
    ids = [p.id for p in candidates]
    return {p.id: set(rng.sample(ids, 5)) for p in profiles[::10]}


def bare_bm25(candidates: list[Paper], profiles: list[Profile], chunk: int) -> float:
    """Reference: BM25 top-10 of each reader's first topic, nothing else."""
    from digest.rank.lexical import LexicalIndex

    started = time.perf_counter()
    index = LexicalIndex(candidates, RankOptions().lexical)
    for start in range(0, len(profiles), chunk):
        q, _ = index.query_matrix([p.topics[0] for p in profiles[start : start + chunk]])
        scores = (q @ index.bm25_t).toarray()
        np.argpartition(-scores, 10, axis=1)[:, :10]
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--candidates", type=int, default=1_000)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--semantic", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--semantic-subscribers", type=int, default=2_000)
    parser.add_argument("--options", default="", help="ranker options, any field ('k=v, k=v')")
    args = parser.parse_args(argv)

    candidates, history = load(args.data, args.candidates)
    profiles = make_profiles(args.subscribers, candidates, history)
    sent = sent_sets(profiles, candidates)
    opts = RankOptions.parse(args.options, RankOptions(semantic=False), research=True)
    print(
        f"{len(profiles):,} subscribers x {len(candidates):,} candidates -> top {args.top}; "
        f"chunk {opts.chunk_size}; start peak RSS {peak_mb():.0f} MB"
    )
    reference = bare_bm25(candidates, profiles, opts.chunk_size)
    print(f"reference, bare BM25 top-10 of one topic each: {reference:.1f} s")

    started = time.perf_counter()
    pool = build_pool(candidates, history, opts)
    prepared = time.perf_counter() - started
    picks = rank_pool(pool, profiles, already_sent=sent, top_k=args.top, options=opts)
    total = time.perf_counter() - started
    filled = sum(len(p) for p in picks) / len(picks)
    print(
        f"lexical: {total:.1f} s total ({prepared:.1f} s pool, "
        f"{(total - prepared) / len(profiles) * 1e6:.0f} us per subscriber), "
        f"{total / max(reference, 1e-9):.1f}x the bare BM25; "
        f"peak RSS {peak_mb():.0f} MB; {filled:.1f} picks per subscriber on average"
    )
    ok = total <= 60 and peak_mb() <= 2048
    print(f"target (<= 60 s, <= 2048 MB): {'met' if ok else 'NOT met'}")

    if args.semantic:
        if not sem.available():
            print(f"semantic: skipped, {sem.INSTALL_HINT}")
            return 0 if ok else 1
        embedder = sem.default_embedder()
        sub = profiles[: args.semantic_subscribers]
        known = {p.id: p for p in history}
        seeds = [known[i] for i in dict.fromkeys(i for p in sub for i in p.liked) if i in known]
        started = time.perf_counter()
        vectors = sem.embed_papers([*candidates, *seeds], embedder)
        per_paper = (time.perf_counter() - started) / (len(candidates) + len(seeds))
        stored = {p.id: v for p, v in zip([*candidates, *seeds], vectors, strict=True)}
        sem_opts = opts.with_(semantic=True)

        def edition(model: sem.Embedder) -> float:
            started = time.perf_counter()
            pool = build_pool(candidates, history, sem_opts, embedder=model, vectors=stored)
            rank_pool(pool, sub, already_sent=sent, top_k=args.top, options=sem_opts)
            return time.perf_counter() - started

        texts = topic_texts(sub)
        cold = edition(embedder)  # every topic through the model
        warm = edition(embedder)  # the same process again: topics from the model's LRU
        known = dict(zip(texts, embedder.embed(texts), strict=True))  # as stored in the db
        embedder.cache = sem.VectorCache(embedder.cache.size)  # a fresh process
        fresh = edition(KnownTexts(embedder, known))
        lexical_per_reader = total / len(profiles)
        print(
            f"semantic ({sem.MODEL_NAME}): embedding {per_paper * 1000:.0f} ms per paper "
            f"({len(candidates) + len(seeds):,} papers, done once at ingest and stored)"
        )
        print(f"  scoring {len(sub):,} subscribers with stored paper vectors:")
        for label, seconds in (
            (f"first edition, embedding their {len(texts):,} distinct topics", cold),
            ("next edition, same process (topics from the model's LRU)", warm),
            ("next edition, fresh process (topic vectors stored in the db)", fresh),
        ):
            print(
                f"    {label}: {seconds:.1f} s ({seconds / len(sub) * 1e3:.2f} ms per "
                f"subscriber, {seconds / len(sub) / lexical_per_reader:.1f}x lexical)"
            )
        print(f"  peak RSS {peak_mb():.0f} MB")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
