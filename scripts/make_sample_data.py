"""Build the bundled sample (digest/sample_data/papers.jsonl) from the shared arXiv dump.

Run once by a developer; the output is committed so `make demo` and the tests work offline
on a clone without ../shared. Picks one announcement day, the papers that the demo
subscribers' interests match best, and a handful of unrelated papers as distractors.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.demo import DEMO_SUBSCRIBERS  # noqa: E402
from digest.domain import Paper, Profile  # noqa: E402
from digest.rank import rank  # noqa: E402

SOURCE = ROOT.parent / "shared" / "data" / "arxiv-2025-04-05.jsonl.gz"
DAY = "2025-05-30"
PER_SUBSCRIBER = 8
DISTRACTORS = 12


def main() -> None:
    with gzip.open(SOURCE, "rt") as fh:
        rows = [json.loads(line) for line in fh]
    day = {r["id"]: r for r in rows if r["day"] == DAY}
    papers = [
        Paper(r["id"], r["title"], r["abstract"], tuple(r["authors"]), tuple(r["categories"]))
        for r in day.values()
    ]
    profiles = [
        Profile(
            id=s["email"],
            topics=tuple(s.get("topics", ())),
            exclude=tuple(s.get("exclude", ())),
            require=tuple(s.get("require", ())),
            categories=tuple(s.get("categories", ())),
        )
        for s in DEMO_SUBSCRIBERS
        if s.get("topics") or s.get("categories")
    ]
    chosen: dict[str, None] = {}
    for picks in rank(profiles, papers, top_k=PER_SUBSCRIBER):
        chosen.update((p.paper_id, None) for p in picks)
    rest = sorted(set(day) - set(chosen))
    random.Random(7).shuffle(rest)
    chosen.update((pid, None) for pid in rest[:DISTRACTORS])
    out = ROOT / "digest" / "sample_data" / "papers.jsonl"
    with open(out, "w", encoding="utf-8") as fh:
        for pid in sorted(chosen):
            fh.write(json.dumps(day[pid], ensure_ascii=False) + "\n")
    print(f"wrote {len(chosen)} papers of {DAY} to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
