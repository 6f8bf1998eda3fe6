"""arXiv API (``export.arxiv.org/api/query``) Atom pages -> Paper records. Pure.

Entry ``id`` is ``http://arxiv.org/abs/<id>v<N>``; also ``title``, ``summary``,
``published``, ``updated``, ``author/name`` (+ ``arxiv:affiliation``), ``category@term``,
``arxiv:primary_category@term``, links (abs, pdf, doi), ``arxiv:comment``,
``arxiv:journal_ref``, ``arxiv:doi``. ``opensearch:totalResults`` drives paging. An API
error comes back as a single entry whose id is ``.../api/errors#...``: that is a ParseError.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from digest.domain import Paper
from digest.errors import InputError, ParseError
from digest.ingest.ids import arxiv_id
from digest.ingest.parsing import ParseResult, count, day, dedupe, make_paper
from digest.ingest.xml import ARXIV, ATOM, OPENSEARCH, child_text, parse_xml


def parse_arxiv_api(data: bytes, *, source: str = "arxiv") -> ParseResult:
    """Records of one API page, with ``total`` set from ``opensearch:totalResults``."""
    root = parse_xml(data)
    if root.tag != f"{ATOM}feed":
        raise ParseError(f"expected an Atom <feed>, got <{_local(root.tag)}>")
    result = ParseResult()
    try:
        result.total = count(child_text(root, f"{OPENSEARCH}totalResults").strip() or None)
    except InputError:
        result.total = None
    for number, entry in enumerate(root.iter(f"{ATOM}entry"), start=1):
        entry_id = child_text(entry, f"{ATOM}id").strip()
        if "/api/errors" in entry_id:
            message = " ".join(child_text(entry, f"{ATOM}summary").split())
            raise ParseError(f"arXiv API error: {message[:200] or entry_id}")
        try:
            result.add(number, paper_from_entry(entry, source=source))
        except InputError as exc:
            result.errors.append((number, f"{entry_id[:80] or 'entry'}: {exc}"))
    return dedupe(result)


def paper_from_entry(entry: ET.Element, *, source: str) -> Paper:
    entry_id = child_text(entry, f"{ATOM}id").strip()
    found = arxiv_id(entry_id)
    if found is None:
        raise InputError("no arXiv id in <id>")
    links: dict[str, str | None] = {}
    for link in entry.iter(f"{ATOM}link"):
        href = link.get("href") or ""
        if link.get("title") == "pdf":
            links["pdf"] = href
        elif link.get("title") == "doi":
            links["doi"] = href
        elif link.get("rel") == "alternate":
            links["abs"] = href
    authors: list[str] = []
    affiliations: list[str] = []
    for author in entry.iter(f"{ATOM}author"):
        authors.append(child_text(author, f"{ATOM}name"))
        affiliations.extend(a.text or "" for a in author.iter(f"{ARXIV}affiliation"))
    primary = entry.find(f"{ARXIV}primary_category")
    return make_paper(
        raw_id=entry_id,
        version=found[1],
        title=child_text(entry, f"{ATOM}title"),
        source=source,
        doi=child_text(entry, f"{ARXIV}doi").strip() or None,
        links=links,
        abstract=child_text(entry, f"{ATOM}summary"),
        authors=authors,
        affiliations=affiliations,
        categories=[c.get("term") or "" for c in entry.iter(f"{ATOM}category")],
        primary_category=primary.get("term", "") if primary is not None else "",
        published=day(child_text(entry, f"{ATOM}published").strip(), "published date"),
        comment=child_text(entry, f"{ARXIV}comment"),
        journal_ref=child_text(entry, f"{ARXIV}journal_ref"),
    )


def _local(tag: str) -> str:
    return tag.rpartition("}")[2][:40]
