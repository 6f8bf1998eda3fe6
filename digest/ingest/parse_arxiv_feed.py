"""arXiv announcement feeds (``rss.arxiv.org/rss/...`` and ``/atom/...``) -> records. Pure.

Each item has ``guid``/``id`` ``oai:arXiv.org:<id>v<N>``, a description ``arXiv:<id>
Announce Type: <type>\\nAbstract: ...``, ``arxiv:announce_type`` (new, cross, replace,
replace-cross) and ``dc:creator`` as one comma-separated string (or Atom ``author``
elements). Items whose announce type is not in ``keep`` are left out without complaint.
A feed with no items (weekends, holidays) is a valid, empty result.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Collection

from digest.domain import Paper
from digest.errors import InputError, ParseError
from digest.ingest.clean import parse_day
from digest.ingest.ids import arxiv_id
from digest.ingest.parsing import ParseResult, dedupe, make_paper
from digest.ingest.xml import ARXIV, ATOM, DC, child_text, parse_xml

ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
DESCRIPTION = re.compile(
    r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*"
    r"(?:Abstract:\s*)?(?P<abstract>.*)$",
    re.DOTALL | re.IGNORECASE,
)
AND = re.compile(r",?\s+and\s+")


def parse_arxiv_feed(
    data: bytes, *, source: str = "arxiv-feed", keep: Collection[str] = ANNOUNCE_TYPES
) -> ParseResult:
    """Records of one announcement feed (RSS 2.0 or Atom), filtered by announce type."""
    root = parse_xml(data)
    if root.tag == "rss":
        channel = root.find("channel")
        if channel is None:
            raise ParseError("RSS without a <channel>")
        items, ns = channel.findall("item"), ""
        feed_day = child_text(channel, "pubDate") or child_text(channel, "lastBuildDate")
    elif root.tag == f"{ATOM}feed":
        items, ns = root.findall(f"{ATOM}entry"), ATOM
        feed_day = child_text(root, f"{ATOM}updated")
    else:
        raise ParseError(f"expected RSS or Atom, got <{root.tag.rpartition('}')[2][:40]}>")
    result = ParseResult(feed_date=parse_day(feed_day) if feed_day else None)
    for number, item in enumerate(items, start=1):
        try:
            paper, kind = paper_from_item(item, ns=ns, source=source)
        except InputError as exc:
            result.errors.append((number, str(exc)))
            continue
        if kind in keep:
            result.add(number, paper)
    return dedupe(result)


def paper_from_item(item: ET.Element, *, ns: str, source: str) -> tuple[Paper, str]:
    """One item and its announce type."""
    guid = child_text(item, "guid" if not ns else f"{ns}id").strip()
    description = child_text(item, "description" if not ns else f"{ns}summary")
    match = DESCRIPTION.match(description)
    abstract = match.group("abstract") if match else description
    found = arxiv_id(guid) or (arxiv_id(match.group("id")) if match else None)
    if found is None:
        raise InputError(f"no arXiv id in {guid[:80] or 'the item'}")
    kind = child_text(item, f"{ARXIV}announce_type") or (match.group("type") if match else "")
    kind = kind.strip().lower() or "new"
    if kind not in ANNOUNCE_TYPES:
        raise InputError(f"{found[0]}: unknown announce type {kind[:30]!r}")
    if ns:
        categories = [c.get("term") or "" for c in item.findall(f"{ns}category")]
        authors = [child_text(a, f"{ns}name") for a in item.findall(f"{ns}author")]
        link = next((x.get("href") for x in item.findall(f"{ns}link")), None)
        day = child_text(item, f"{ns}published") or child_text(item, f"{ns}updated")
    else:
        categories = [c.text or "" for c in item.findall("category")]
        authors = []
        link = child_text(item, "link").strip()
        day = child_text(item, "pubDate")
    for creator in item.findall(f"{DC}creator"):
        authors.extend(_split_creators(creator.text or ""))
    announced = parse_day(day.strip()) if day.strip() else None
    if day.strip() and announced is None:
        raise InputError(f"{found[0]}: invalid date {day.strip()[:40]!r}")
    paper = make_paper(
        raw_id=guid if arxiv_id(guid) else found[0],
        version=found[1],
        title=child_text(item, "title" if not ns else f"{ns}title"),
        source=source,
        doi=(child_text(item, f"{ARXIV}DOI") or child_text(item, f"{ARXIV}doi")).strip() or None,
        links={"abs": link},
        abstract=abstract,
        authors=authors,
        categories=categories,
        announced=announced,
        journal_ref=child_text(item, f"{ARXIV}journal_reference")
        or child_text(item, f"{ARXIV}journal_ref"),
    )
    return paper, kind


def _split_creators(value: str) -> list[str]:
    """'A, B, C and D' -> ['A', 'B', 'C', 'D']."""
    return [name for part in value.split(",") for name in AND.split(part) if name.strip()]
