"""How good the TL;DRs are over a large sample of abstracts (no AI summaries there).

    .venv/bin/python benchmarks/tldr.py [FILE.jsonl.gz ...]

Default: the arXiv samples in ../shared/data. Reports the share of TL;DRs that are whole
sentences of the abstract (never cut), the share that picked a sentence stating the
contribution ("we propose...", "this paper introduces...", "... is proposed"), the share
empty (no sentence fits the limit), the mean length, and the time per paper.
"""

from __future__ import annotations

import gzip
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.render.tldr import LIMIT, from_abstract, is_whole_sentence  # noqa: E402

DEFAULT = sorted((ROOT.parent / "shared" / "data").glob("arxiv-*.jsonl.gz"))


def main(paths: list[Path]) -> int:
    abstracts = []
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            abstracts.extend(json.loads(line).get("abstract") or "" for line in lines)
    abstracts = [a for a in abstracts if a.strip()]
    if not abstracts:
        print("no abstracts found", file=sys.stderr)
        return 1
    whole = stated = empty = 0
    lengths = []
    start = time.perf_counter()
    for abstract in abstracts:
        chosen, contribution = from_abstract(abstract)
        if not chosen:
            empty += 1
            continue
        normalized = " ".join(abstract.split())
        at = normalized.find(chosen)
        after = normalized[at + len(chosen) : at + len(chosen) + 1]
        if at >= 0 and after in ("", " ") and is_whole_sentence(chosen) and len(chosen) <= LIMIT:
            whole += 1
        stated += contribution
        lengths.append(len(chosen))
    elapsed = time.perf_counter() - start
    n = len(abstracts)
    print(f"abstracts: {n} ({', '.join(p.name for p in paths)})")
    print(f"whole sentences: {whole / n:.1%} of all, {whole / max(1, n - empty):.1%} of non-empty")
    print(f"state the contribution: {stated / n:.1%}")
    print(f"empty (no sentence within {LIMIT} characters): {empty / n:.2%}")
    print(f"length: mean {statistics.mean(lengths):.0f}, median {statistics.median(lengths):.0f}")
    print(f"time: {elapsed / n * 1e6:.0f} µs per paper (once per edition and paper)")
    return 0


if __name__ == "__main__":
    sys.exit(main([Path(p) for p in sys.argv[1:]] or DEFAULT))
