"""Hugging Face Daily Papers (``/api/daily_papers?date=...``) JSON -> Paper records. Pure.

Each item is ``{"paper": {"id", "title", "summary", "authors": [{"name"}], "upvotes",
"publishedAt", "submittedOnDailyAt", "ai_summary"?, "ai_keywords"?, "githubRepo"?,
"githubStars"?, "projectPage"?, ...}, "title", "summary", "publishedAt", "numComments",
"thumbnail", "submittedBy", ...}`` (the schema of huggingface.co/api/daily_papers: the day
a paper was featured, ``submittedOnDailyAt``, is a field of ``paper``, not of the item).
Upvotes, stars and comments are the trending signal.
"""

from __future__ import annotations

import json

from digest.domain import Paper
from digest.errors import InputError, ParseError
from digest.ingest.parsing import (
    ParseResult,
    check_size,
    count,
    day,
    dedupe,
    make_paper,
    text,
    url,
)

HF_PAPER_URL = "https://huggingface.co/papers/"


def parse_daily_papers(data: bytes, *, source: str = "hf") -> ParseResult:
    """Records of one Daily Papers response; a bad item is reported and skipped."""
    check_size(data)
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ParseError(f"not valid JSON ({getattr(exc, 'msg', 'undecodable')})") from None
    if isinstance(doc, dict) and isinstance(doc.get("papers"), list):
        doc = doc["papers"]
    if not isinstance(doc, list):
        raise ParseError(f"expected a JSON array of papers, got {type(doc).__name__}")
    result = ParseResult()
    for number, item in enumerate(doc, start=1):
        try:
            result.add(number, paper_from_item(item, source=source))
        except InputError as exc:
            result.errors.append((number, str(exc)))
    return dedupe(result)


def paper_from_item(item: object, *, source: str) -> Paper:
    if not isinstance(item, dict):
        raise InputError("expected a JSON object")
    paper = item.get("paper")
    if not isinstance(paper, dict):
        raise InputError("missing 'paper' object")
    raw_id = text(paper.get("id"))
    if not raw_id.strip():
        raise InputError("missing paper.id")
    authors = paper.get("authors") or []
    if not isinstance(authors, list):
        raise InputError("paper.authors is not a list")
    keywords = paper.get("ai_keywords") or []
    github = url(paper.get("githubRepo"))
    return make_paper(
        raw_id=raw_id,
        title=text(paper.get("title") or item.get("title")),
        source=source,
        links={
            "hf": HF_PAPER_URL + raw_id.strip() if len(raw_id) < 100 else None,
            "github": github,
            "project": url(paper.get("projectPage")),
        },
        abstract=text(paper.get("summary") or item.get("summary")),
        authors=[a.get("name") if isinstance(a, dict) else a for a in authors],
        published=day(paper.get("publishedAt"), "publishedAt"),
        featured_on=day(paper.get("submittedOnDailyAt"), "paper.submittedOnDailyAt"),
        upvotes=count(paper.get("upvotes")),
        github_stars=count(paper.get("githubStars")),
        num_comments=count(item.get("numComments")),
        ai_summary=text(paper.get("ai_summary")),
        keywords=keywords if isinstance(keywords, list) else [],
    )
