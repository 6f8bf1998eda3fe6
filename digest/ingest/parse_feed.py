"""Any RSS or Atom feed (feedparser) -> Paper records. Pure.

Journals, blogs and preprint servers publish papers as feed items: the title, the
summary as abstract, authors, tags as categories, the link, and a date. The id is an
arXiv id or DOI found in the item's id, link or DOI field, else a hash of the title.
feedparser copes with bad encodings and sloppy markup; a document with no feed in it at
all is a ParseError.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from xml.sax import SAXParseException

import feedparser

from digest.domain import Paper
from digest.errors import InputError, ParseError
from digest.ingest.ids import arxiv_id, normalize_doi
from digest.ingest.parsing import ParseResult, check_size, dedupe, make_paper, text

# feedparser's sanitizer and relative-URI resolution are for HTML display; we clean ourselves.
feedparser.SANITIZE_HTML = False
feedparser.RESOLVE_RELATIVE_URIS = False


def parse_feed(data: bytes, *, source: str = "feed") -> ParseResult:
    """Records of one RSS/Atom document; a bad item is reported and skipped."""
    check_size(data)
    try:
        parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    except Exception as exc:  # feedparser may raise anything on hostile input
        raise ParseError(f"unreadable feed ({type(exc).__name__})") from None
    version = parsed.get("version") or ""
    problem = parsed.get("bozo_exception")
    if not version and not parsed.entries:
        reason = f" ({str(problem).splitlines()[0][:120]})" if problem else ""
        raise ParseError(f"not an RSS or Atom feed{reason}")
    if isinstance(problem, SAXParseException):
        # feedparser would guess its way through; a truncated or broken document is
        # refused whole rather than half-read (encoding mix-ups are only warnings)
        raise ParseError(f"not an RSS or Atom feed: malformed XML ({problem})")
    result = ParseResult(feed_date=_date(dict.get(parsed.feed, "updated_parsed")))
    for number, entry in enumerate(parsed.entries, start=1):
        try:
            result.add(number, paper_from_entry(entry, source=source))
        except InputError as exc:
            result.errors.append((number, str(exc)))
    return dedupe(result)


def paper_from_entry(entry: Any, *, source: str) -> Paper:
    ident = text(entry.get("id"))
    link = text(entry.get("link"))
    doi = text(entry.get("prism_doi") or entry.get("dc_identifier") or "")
    raw_id = next((v for v in (ident, link) if arxiv_id(v)), "")
    if not raw_id:
        doi = doi or next((v for v in (ident, link) if normalize_doi(v)), "")
    authors = [a.get("name", "") for a in entry.get("authors", []) if isinstance(a, dict)]
    if len(authors) == 1 and "," in authors[0]:
        authors = authors[0].split(",")
    tags = [t.get("term") for t in entry.get("tags", []) if isinstance(t, dict)]
    content = entry.get("content") or []
    abstract = entry.get("summary") or (content[0].get("value") if content else "")
    # dict.get: feedparser's own get() maps updated to published with a DeprecationWarning
    published = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    given = dict.get(entry, "published") or dict.get(entry, "updated")
    if given and published is None:
        raise InputError(f"invalid date {str(given)[:40]!r}")
    return make_paper(
        raw_id=raw_id,
        title=text(entry.get("title")),
        source=source,
        doi=doi or None,
        links={"url": link},
        abstract=text(abstract),
        authors=authors,
        categories=[t for t in tags if isinstance(t, str)],
        published=_date(published),
    )


def _date(value: Any) -> date | None:
    try:
        return datetime(*value[:6]).date() if value else None
    except (TypeError, ValueError):
        return None
