"""Merging what several sources and versions say about one paper into one row. Pure.

Rules: the text of the newest version wins (an older version, or a source that does not
know versions, never overwrites text that came with a version); categories, links,
keywords, affiliations and the sources that saw the paper are unions; trending signals
(upvotes, stars, comments) take the latest known value; dates of first appearance
(published, announced, featured) keep the earliest. The row is a plain dict keyed by
column name, so the database adapter can store it as it is.
"""

from __future__ import annotations

import hashlib
from typing import Any

from digest.domain import Paper

Row = dict[str, Any]

# Paper attribute -> column. Signals take the latest known value; version-bound metadata
# only from a record at least as new as the row (or to fill a gap).
SIGNALS = (
    ("upvotes", "upvotes"),
    ("github_stars", "github_stars"),
    ("num_comments", "num_comments"),
    ("ai_summary", "ai_summary"),
)
VERSIONED = (("comment", "comment"), ("journal_ref", "journal_ref"), ("doi", "doi"))
EARLIEST = (
    ("published", "published_on"),
    ("announced", "announced_on"),
    ("featured_on", "featured_on"),
)
UNIONS = (("categories", "categories"), ("keywords", "keywords"), ("affiliations", "affiliations"))
CONTENT = (
    "title",
    "abstract",
    "authors",
    "categories",
    "links",
    "comment",
    "published_on",
    "announced_on",
    "upvotes",
    "github_stars",
    "num_comments",
    "sources",
    "doi",
    "journal_ref",
    "primary_category",
    "version",
    "featured_on",
    "ai_summary",
    "keywords",
    "affiliations",
)


def new_row(paper: Paper) -> Row:
    """The row of a paper seen for the first time.

    List columns hold the paper's own tuples (``merge_row`` makes lists when it adds to
    them; ``same_content`` compares either kind by value): a row then holds no object the
    garbage collector tracks, so 2,000 rows in flight add nothing to its full collections.
    """
    return {
        "id": paper.id,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": paper.authors,
        "categories": paper.categories,
        "links": dict(paper.links),
        "comment": paper.comment,
        "published_on": paper.published,
        "announced_on": paper.announced,
        "upvotes": paper.upvotes,
        "github_stars": paper.github_stars,
        "num_comments": paper.num_comments,
        "sources": _one_source(paper.source) if paper.source else (),
        "doi": paper.doi,
        "journal_ref": paper.journal_ref,
        "primary_category": paper.primary_category,
        "version": paper.version,
        "featured_on": paper.featured_on,
        "ai_summary": paper.ai_summary,
        "keywords": paper.keywords,
        "affiliations": paper.affiliations,
    }


_SOURCE_TUPLES: dict[str, tuple[str]] = {}


def _one_source(source: str) -> tuple[str]:
    """``(source,)``, the same tuple for every row of a source."""
    found = _SOURCE_TUPLES.get(source)
    if found is None:
        if len(_SOURCE_TUPLES) >= 1000:
            _SOURCE_TUPLES.clear()
        found = _SOURCE_TUPLES[source] = (source,)
    return found


def merge_row(row: Row, paper: Paper) -> Row:
    """``row`` with what ``paper`` adds; returns a new dict, equal to ``row`` when nothing does."""
    merged = dict(row)
    have = row.get("version")
    # A versioned record (arXiv) at least as new as the row rewrites the text; a record
    # without a version (Daily Papers, a blog feed) only does so for a row without one.
    older = have is not None and (paper.version is None or paper.version < have)
    if not older:
        for attr in ("title", "abstract"):
            value = getattr(paper, attr)
            if value:
                merged[attr] = value
        if paper.authors:
            merged["authors"] = list(paper.authors)
        if paper.version is not None:
            merged["version"] = paper.version
    if paper.primary_category and (not older or not row.get("primary_category")):
        merged["primary_category"] = paper.primary_category
    for attr, column in UNIONS:
        values = getattr(paper, attr)
        if values:
            current = row.get(column) or ()
            merged[column] = [*current, *(v for v in values if v not in current)]
    if paper.links:
        merged["links"] = {**(row.get("links") or {}), **paper.links}
    for attr, column in SIGNALS:
        value = getattr(paper, attr)
        if value is not None:
            merged[column] = value
    for attr, column in VERSIONED:
        value = getattr(paper, attr)
        if value is not None and not (older and row.get(column) is not None):
            merged[column] = value
    for attr, column in EARLIEST:
        value = getattr(paper, attr)
        if value is not None and (row.get(column) is None or value < row[column]):
            merged[column] = value
    sources = row.get("sources") or []
    if paper.source and paper.source not in sources:
        merged["sources"] = [*sources, paper.source]
    return merged


def same_content(a: Row, b: Row) -> bool:
    """Equal in every content column; a list equals a tuple of the same items (rows loaded
    from the database hold lists, new rows the paper's tuples)."""
    for column in CONTENT:
        x, y = a.get(column), b.get(column)
        if x != y and not (
            isinstance(x, list | tuple) and isinstance(y, list | tuple) and list(x) == list(y)
        ):
            return False
    return True


def record_hash(paper: Paper) -> str:
    """A short digest of everything a record says, to recognise it unchanged next time."""
    parts = (
        paper.id,
        paper.title,
        paper.abstract,
        paper.authors,
        paper.categories,
        sorted(paper.links.items()),
        paper.published,
        paper.announced,
        paper.comment,
        paper.upvotes,
        paper.github_stars,
        paper.num_comments,
        paper.doi,
        paper.journal_ref,
        paper.primary_category,
        paper.version,
        paper.featured_on,
        paper.ai_summary,
        paper.keywords,
        paper.affiliations,
    )
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


def raw_hash(data: bytes) -> str:
    """The digest of one raw item (a JSONL line): equal bytes, equal record."""
    return hashlib.blake2b(data.strip(), digest_size=16).hexdigest()
