"""The arXiv category taxonomy (codes and names), bundled with the package. Pure.

The subscription form offers these categories and accepts only these; the list comes from
arXiv's own taxonomy (``digest/sample_data/arxiv-categories.json``, names only).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

ARCHIVES = {
    "astro-ph": "Astrophysics",
    "cond-mat": "Condensed Matter",
    "cs": "Computer Science",
    "econ": "Economics",
    "eess": "Electrical Engineering and Systems Science",
    "gr-qc": "General Relativity and Quantum Cosmology",
    "hep": "High Energy Physics",
    "math": "Mathematics",
    "nlin": "Nonlinear Sciences",
    "nucl": "Nuclear Physics",
    "physics": "Physics",
    "q-bio": "Quantitative Biology",
    "q-fin": "Quantitative Finance",
    "quant-ph": "Quantum Physics",
    "stat": "Statistics",
}


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    categories: tuple[Category, ...]


@functools.cache
def categories() -> dict[str, str]:
    """code -> name, e.g. ``{"cs.LG": "Machine Learning", ...}``."""
    path = resources.files("digest.sample_data").joinpath("arxiv-categories.json")
    return dict(json.loads(path.read_text(encoding="utf-8"))["categories"])


def archive_of(code: str) -> str:
    """The group a category belongs to: ``cs.LG`` -> ``cs``, ``hep-th`` -> ``hep``."""
    head = code.split(".")[0]
    if head.startswith(("hep-", "nucl-")):
        return head.split("-")[0]
    if head == "math-ph":
        return "math"
    return head


@functools.cache
def groups() -> tuple[Group, ...]:
    """Categories grouped by archive, in the archives' order."""
    by_archive: dict[str, list[Category]] = {}
    for code, name in categories().items():
        by_archive.setdefault(archive_of(code), []).append(Category(code, name))
    return tuple(
        Group(label, tuple(by_archive[key])) for key, label in ARCHIVES.items() if key in by_archive
    )


def canonical(code: str) -> str | None:
    """The taxonomy's spelling of a category (any case), or None when it is unknown."""
    code = code.strip()
    known = categories()
    if code in known:
        return code
    lowered = {c.lower(): c for c in known}
    return lowered.get(code.lower())
