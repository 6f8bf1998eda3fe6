"""What every parser shares: the result type, the parse error, field caps, and record building.

A parser turns the bytes of one document into a :class:`ParseResult`: the good records and
one message per bad item. A document that cannot be read at all raises
:class:`~digest.errors.ParseError` (an :class:`~digest.errors.InputError`), never another
exception.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from digest.domain import Paper
from digest.errors import InputError, ParseError
from digest.ingest.clean import clean_list, clean_text, parse_day
from digest.ingest.ids import arxiv_id, canonical_id, is_arxiv, normalize_doi, title_key

MAX_TITLE = 1000
MAX_ABSTRACT = 10_000
MAX_AUTHOR = 200
MAX_AUTHORS = 500
MAX_CATEGORY = 40
MAX_CATEGORIES = 50
MAX_COMMENT = 1000
MAX_URL = 2000
MAX_KEYWORDS = 50
MAX_DOCUMENT = 64 * 1024 * 1024


@dataclass
class ParseResult:
    """Records parsed from one document, with one ``(item number, problem)`` per bad item."""

    records: list[Paper] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    total: int | None = None  # items the server says match (arXiv API paging), when known
    feed_date: date | None = None  # the announcement day of a feed, when it says
    positions: list[int] = field(default_factory=list)  # item number of each record
    # Items stored with a doubt: (item number, what was done), e.g. invalid UTF-8 replaced.
    warnings: list[tuple[int, str]] = field(default_factory=list)

    def add(self, number: int, paper: Paper) -> None:
        self.records.append(paper)
        self.positions.append(number)

    def extend(self, other: ParseResult) -> None:
        self.records.extend(other.records)
        self.errors.extend(other.errors)
        self.positions.extend(other.positions)
        self.warnings.extend(other.warnings)


def text(value: object) -> str:
    """A text field; numbers become text, anything else is a bad item."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputError(f"expected text, got {type(value).__name__}")
    return str(value)


def count(value: object) -> int | None:
    """A non-negative count (upvotes, stars, comments) or None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InputError(f"expected a count, got {value!r}")
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"expected a count, got {str(value)[:40]!r}") from None
    return min(max(number, 0), 2**31 - 1)


def day(value: object, what: str = "date") -> date | None:
    """A date, or None when absent; an unreadable date is a bad item."""
    if value is None or value == "":
        return None
    parsed = parse_day(text(value))
    if parsed is None:
        raise InputError(f"invalid {what} {str(value)[:40]!r}")
    return parsed


def url(value: object) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        if value.startswith(("http://", "https://")) and len(value) <= MAX_URL and " " not in value:
            return value
    return None


def names(values: Iterable[object], limit: int = MAX_AUTHOR) -> tuple[str, ...]:
    """Cleaned, unique, capped names (authors, affiliations); non-text items are ignored."""
    texts = [v for v in values if isinstance(v, str) and v]
    if not texts:
        return ()
    cleaned = clean_list(texts, limit)
    if len(set(cleaned)) != len(cleaned) or "" in cleaned:
        cleaned = list(dict.fromkeys(n for n in cleaned if n))
    return tuple(cleaned[:MAX_AUTHORS])


# Papers share a few thousand category lists: cleaning each once saves 2-3 us a paper.
# Equal keys give equal results: names() keeps only the strings, and a string equals
# nothing but the same string.
_CATEGORIES: dict[tuple[object, ...], tuple[str, ...]] = {}


def _categories(values: Iterable[object]) -> tuple[str, ...]:
    key = tuple(values)
    try:
        found = _CATEGORIES.get(key)
    except TypeError:  # an unhashable item (a nested list): not cached
        return names(key, MAX_CATEGORY)[:MAX_CATEGORIES]
    if found is None:
        if len(_CATEGORIES) >= 10_000:
            _CATEGORIES.clear()
        found = _CATEGORIES[key] = names(key, MAX_CATEGORY)[:MAX_CATEGORIES]
    return found


def make_paper(
    *,
    raw_id: str,
    title: str,
    source: str,
    doi: str | None = None,
    links: dict[str, str | None] | None = None,
    version: int | None = None,
    abstract: str = "",
    authors: Iterable[object] = (),
    categories: Iterable[object] = (),
    primary_category: str = "",
    comment: str = "",
    journal_ref: str = "",
    ai_summary: str = "",
    keywords: Iterable[object] = (),
    affiliations: Iterable[object] = (),
    published: date | None = None,
    announced: date | None = None,
    featured_on: date | None = None,
    upvotes: int | None = None,
    github_stars: int | None = None,
    num_comments: int | None = None,
) -> Paper:
    """A cleaned, capped Paper keyed by its canonical id; raises InputError for a bad item."""
    title = clean_text(title, MAX_TITLE)
    if not title:
        raise InputError("missing title")
    found = arxiv_id(raw_id) if raw_id else None
    if found:
        paper_id = found[0]
        version = version or found[1]
    else:
        paper_id = canonical_id(raw_id, doi=doi, title=title) or title_key(title)
    clean_links = {k: v for k, v in (links or {}).items() if v and url(v)}
    if found or is_arxiv(paper_id):  # version-free links: they do not churn between versions
        clean_links["abs"] = f"https://arxiv.org/abs/{paper_id}"
        clean_links["pdf"] = f"https://arxiv.org/pdf/{paper_id}"
    primary = clean_text(primary_category, MAX_CATEGORY) if primary_category else ""
    cats = _categories(categories)
    if primary and primary not in cats:
        cats = (primary, *cats)[:MAX_CATEGORIES]
    return Paper(
        id=paper_id,
        title=title,
        abstract=clean_text(abstract, MAX_ABSTRACT),
        authors=names(authors),
        categories=cats,
        links=clean_links,
        published=published,
        announced=announced,
        comment=clean_text(comment, MAX_COMMENT) or None,
        upvotes=upvotes,
        github_stars=github_stars,
        num_comments=num_comments,
        source=source,
        doi=normalize_doi(doi) if doi else None,
        journal_ref=clean_text(journal_ref, MAX_COMMENT) or None,
        primary_category=primary or None,
        version=version if version and 0 < version < 1000 else None,
        featured_on=featured_on,
        ai_summary=clean_text(ai_summary, MAX_ABSTRACT) or None,
        keywords=names(keywords)[:MAX_KEYWORDS] if keywords else (),
        affiliations=names(affiliations) if affiliations else (),
    )


def dedupe(result: ParseResult) -> ParseResult:
    """Keep one record per paper within one document: the highest version, else the first.

    Every other record of that paper is reported under its item number as a duplicate of
    the one kept (so the message does not depend on the order they came in).
    """
    positions = result.positions
    best: dict[str, int] = {}
    for index, paper in enumerate(result.records):
        kept = best.get(paper.id)
        if kept is None or (paper.version or 0) > (result.records[kept].version or 0):
            best[paper.id] = index
    if len(best) == len(result.records):
        return result
    dropped = [
        (positions[index], f"duplicate of item {positions[best[paper.id]]} ({paper.id})")
        for index, paper in enumerate(result.records)
        if best[paper.id] != index
    ]
    keep = sorted(best.values())
    return ParseResult(
        records=[result.records[i] for i in keep],
        errors=sorted(result.errors + dropped),
        total=result.total,
        feed_date=result.feed_date,
        positions=[positions[i] for i in keep],
        warnings=result.warnings,
    )


def is_html_page(data: bytes) -> bool:
    """Whether a document is an HTML page (an error or login page served instead of the
    feed): ``<!DOCTYPE html`` or ``<html`` first, after a BOM, blanks, an XML declaration
    and comments."""
    pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    while True:
        while pos < len(data) and data[pos] in b" \t\r\n":
            pos += 1
        if data.startswith(b"<?", pos):
            closer = b"?>"
        elif data.startswith(b"<!--", pos):
            closer = b"-->"
        else:
            return data[pos : pos + 14].lower().startswith((b"<!doctype html", b"<html"))
        end = data.find(closer, pos)
        if end < 0:
            return False
        pos = end + len(closer)


def check_size(data: bytes) -> None:
    if len(data) > MAX_DOCUMENT:
        raise ParseError(f"document too large ({len(data)} bytes)")
