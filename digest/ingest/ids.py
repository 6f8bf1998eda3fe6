"""Canonical paper keys: arXiv id without version, else DOI, else a hash of the title.

Every version of a paper (``2501.01234v1``, ``v2``) and every spelling of its id
(``arXiv:2501.01234``, ``oai:arXiv.org:2501.01234v2``, ``https://arxiv.org/pdf/2501.01234v2.pdf``,
the DataCite DOI ``10.48550/arXiv.2501.01234``, old-style ``hep-th/9901001`` or
``math.GT/0309136``) maps to one key, so one paper is one row.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# YYMM.NNNN (2007-2014) or YYMM.NNNNN (2015-), month 01-12; not part of a longer number.
NEW_STYLE = re.compile(r"(?<![\w.])(\d{2}(?:0[1-9]|1[0-2])\.\d{4,5})(?:v(\d{1,3}))?(?!\d)")
# archive[.SUBJ]/YYMMNNN, e.g. hep-th/9901001, math.GT/0309136 (the subject class is dropped).
OLD_STYLE = re.compile(
    r"(?<![\w.-])([a-z]+(?:-[a-z]+)?)(?:\.[a-z]{2})?/(\d{2}(?:0[1-9]|1[0-2])\d{3})(?:v(\d{1,3}))?(?!\d)",
    re.IGNORECASE,
)
# An id written exactly as arXiv prints it: what NEW_STYLE would find, without a search.
PLAIN_NEW_STYLE = re.compile(r"(\d{2}(?:0[1-9]|1[0-2])\.\d{4,5})(?:v(\d{1,3}))?")
ARXIV_DOI = re.compile(r"10\.48550/arxiv\.", re.IGNORECASE)
DOI = re.compile(r"(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)
MAX_ID = 200


def arxiv_id(value: str) -> tuple[str, int | None] | None:
    """('2501.01234', 2) from '2501.01234v2', 'arXiv:2501.01234', 'oai:arXiv.org:...', URLs."""
    match = PLAIN_NEW_STYLE.fullmatch(value) if value else None
    if match:  # the common case, 3x faster
        return match.group(1), int(match.group(2)) if match.group(2) else None
    value = ARXIV_DOI.sub("", (value or "").strip()[:MAX_ID])
    match = NEW_STYLE.search(value)
    if match:
        return match.group(1), int(match.group(2)) if match.group(2) else None
    match = OLD_STYLE.search(value)
    if match:
        version = int(match.group(3)) if match.group(3) else None
        return f"{match.group(1).lower()}/{match.group(2)}", version
    return None


def normalize_doi(value: str) -> str | None:
    """'10.1000/xyz' from 'doi:10.1000/XYZ', 'https://doi.org/10.1000/xyz.', ..."""
    match = DOI.search(value or "")
    if not match:
        return None
    doi = match.group(1).rstrip(".,;)]").lower()
    return doi[: MAX_ID - 4]


def title_key(title: str) -> str:
    """A stable key for papers known only by title: case, accents, punctuation ignored."""
    folded = unicodedata.normalize("NFKD", title.casefold())
    words = re.findall(r"\w+", "".join(c for c in folded if not unicodedata.combining(c)))
    return "title:" + hashlib.sha1(" ".join(words).encode()).hexdigest()[:16]


def canonical_id(raw_id: str | None, *, doi: str | None = None, title: str = "") -> str | None:
    """The row key of a paper, or None when nothing identifies it."""
    found = arxiv_id(raw_id or "")
    if found:
        return found[0]
    normalized = normalize_doi(doi or "")
    if normalized and ARXIV_DOI.match(normalized):
        return canonical_id(normalized)
    for candidate in (doi, raw_id):
        normalized = normalize_doi(candidate or "")
        if normalized:
            return f"doi:{normalized}"
    if title.strip():
        return title_key(title)
    return None


def is_arxiv(paper_id: str) -> bool:
    return arxiv_id(paper_id) == (paper_id, None)
