"""Signed-link benchmark: LinkSigner on 100,000 tokens (sign, per-reader links, verify).

    .venv/bin/python benchmarks/links.py [--tokens N] [--repeat R] [--compare FILE ...]

Times, for N readers: one unsubscribe token each (``token``), the three links of an email
(``for_recipient``), one feedback link per (reader, paper) (``feedback_links``, a new
paper id each time, so nothing is cached; the long form, and the short form of a sent
digest with 10 papers per reader and delivery), and ``verify`` of the unsubscribe tokens.
``--compare`` loads another implementation of ``digest/links.py`` from a file (e.g. an
older one: ``git show REV:digest/links.py > /tmp/links_old.py``) and times it beside the
current one, checking that both sign the same unsubscribe tokens (the other links changed
form since, so only ``token`` and ``verify`` compare like with like). Medians of R runs,
CPU time of this process (the machine is shared; wall time follows its load).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import digest.links  # noqa: E402

SECRET = "benchmark-secret-key-0123456789"
BASE = "https://digest.example.org"
EDITION = "daily:2025-05-30"


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"links_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def cases(module: ModuleType, n: int, int_ids: bool) -> dict[str, Callable[[], object]]:
    signer = module.LinkSigner(SECRET, BASE)
    ids: list[object] = list(range(n)) if int_ids else [f"{i:022x}" for i in range(n)]
    tokens = [signer.token("unsubscribe", i) for i in ids]

    def sign() -> object:
        token = signer.token
        return [token("unsubscribe", i) for i in ids]

    def recipient_links() -> object:
        links = signer.for_recipient
        return [links(i, EDITION) for i in ids]

    def feedback() -> object:
        url = signer.feedback_links(ids[0])
        return [url(f"2505.{i:05d}", "up") for i in range(n)]

    def short_feedback() -> object:  # as in sending: 10 papers per reader and delivery
        made = []
        for r in range(n // 10):
            papers = [f"2505.{(r * 10 + k) % 100_000:05d}" for k in range(10)]
            url = signer.feedback_links(ids[r], delivery_id=1_000_000 + r, papers=papers)
            made.extend(url(paper, "up") for paper in papers)
        return made

    def verify() -> object:
        check = signer.verify
        return [check("unsubscribe", t) for t in tokens]

    return {
        "token (unsubscribe)": sign,
        "for_recipient (3 links)": recipient_links,
        "feedback link": feedback,
        **({"short feedback link": short_feedback} if hasattr(signer, "feedback_ref") else {}),
        "verify": verify,
    }


def timed(run: Callable[[], object], repeat: int) -> float:
    spent = []
    for _ in range(repeat):
        started = time.process_time()
        run()
        spent.append(time.process_time() - started)
    return statistics.median(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compare", type=Path, nargs="*", default=[])
    parser.add_argument(
        "--int-ids", action="store_true", help="integer link ids (what older versions took)"
    )
    args = parser.parse_args()
    versions = {"current": digest.links, **{str(p): load(p) for p in args.compare}}
    reference = cases(digest.links, 3, args.int_ids)["token (unsubscribe)"]()
    for name, module in versions.items():
        same = cases(module, 3, args.int_ids)["token (unsubscribe)"]() == reference
        assert same, f"{name} signs other tokens"
    n = args.tokens
    kind = "integer" if args.int_ids else "22-character"
    print(f"{n:,} tokens per case, {kind} link ids; median CPU time of {args.repeat} runs")
    for name, module in versions.items():
        for case, run in cases(module, n, args.int_ids).items():
            seconds = timed(run, args.repeat)
            print(f"{name:>24}  {case:<24} {seconds:.3f} s  {seconds / n * 1e6:.2f} µs each")


if __name__ == "__main__":
    main()
