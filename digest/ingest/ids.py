"""Canonical paper keys: arXiv id without version, else DOI, else a hash of the title."""

from __future__ import annotations

import hashlib
import re
import unicodedata

NEW_STYLE = re.compile(r"(?<![\w.])(\d{4}\.\d{4,5})(?:v(\d+))?(?![\w.])")
OLD_STYLE = re.compile(r"(?<![\w.])([a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v(\d+))?(?![\w.])")
DOI = re.compile(r"(10\.\d{4,9}/\S+)", re.IGNORECASE)


def arxiv_id(value: str) -> tuple[str, int | None] | None:
    """('2501.01234', 2) from '2501.01234v2', 'arXiv:2501.01234', 'oai:arXiv.org:...', URLs."""
    value = (value or "").strip()
    for pattern in (NEW_STYLE, OLD_STYLE):
        match = pattern.search(value)
        if match:
            version = int(match.group(2)) if match.group(2) else None
            return match.group(1), version
    return None


def normalize_doi(value: str) -> str | None:
    match = DOI.search(value or "")
    return match.group(1).rstrip(".,;").lower() if match else None


def title_key(title: str) -> str:
    """A stable key for papers known only by title: case, accents, punctuation ignored."""
    folded = unicodedata.normalize("NFKD", title.casefold())
    words = re.findall(r"\w+", "".join(c for c in folded if not unicodedata.combining(c)))
    return "title:" + hashlib.sha1(" ".join(words).encode()).hexdigest()[:16]


def canonical_id(raw_id: str | None, *, doi: str | None = None, title: str = "") -> str | None:
    found = arxiv_id(raw_id or "")
    if found:
        return found[0]
    for candidate in (doi, raw_id):
        normalized = normalize_doi(candidate or "")
        if normalized:
            return f"doi:{normalized}"
    if title.strip():
        return title_key(title)
    return None


def is_arxiv(paper_id: str) -> bool:
    return arxiv_id(paper_id) == (paper_id, None)
