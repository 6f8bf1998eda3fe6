"""JSONL (and gzip-compressed JSONL) paper files -> Paper records. Pure parsing.

The format of arXiv dumps such as ``arxiv-2025-04-05.jsonl.gz``: one object per line with
``id``, ``title``, ``abstract``, optional ``authors`` (strings or ``{"name": ...}``),
``categories``, ``day`` (announcement date), ``comment``, ``upvotes``, ``published``.
A bad line is reported with its number and skipped; the other lines still count.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from digest.domain import Paper
from digest.errors import InputError
from digest.ingest.clean import clean_text, parse_day
from digest.ingest.ids import canonical_id, is_arxiv

MAX_TITLE = 1000
MAX_ABSTRACT = 10_000


@dataclass
class ParseResult:
    records: list[Paper] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, problem)


def read_lines(path: Path) -> Iterable[bytes]:
    """Lines of a plain or gzip file; a broken gzip stream is a clear InputError."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(2)
        opener = gzip.open if magic == b"\x1f\x8b" else open
        with opener(path, "rb") as fh:
            yield from fh
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a file") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


def parse_jsonl(lines: Iterable[bytes | str], *, source: str = "jsonl") -> ParseResult:
    result = ParseResult()
    for number, raw in enumerate(lines, start=1):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            result.errors.append((number, f"not valid JSON ({exc.msg})"))
            continue
        try:
            result.records.append(paper_from_dict(data, source=source))
        except InputError as exc:
            result.errors.append((number, str(exc)))
    return result


def paper_from_dict(data: object, *, source: str) -> Paper:
    if not isinstance(data, dict):
        raise InputError("expected a JSON object")
    title = clean_text(_str(data.get("title")), MAX_TITLE)
    if not title:
        raise InputError("missing title")
    raw_id = _str(data.get("id") or data.get("arxiv_id") or "")
    paper_id = canonical_id(raw_id, doi=_str(data.get("doi") or ""), title=title)
    assert paper_id is not None
    links = {}
    if is_arxiv(paper_id):
        links = {
            "abs": f"https://arxiv.org/abs/{paper_id}",
            "pdf": f"https://arxiv.org/pdf/{paper_id}",
        }
    for key in ("abs", "pdf", "url", "github", "project"):
        value = data.get(f"{key}_url") or (data.get("links") or {}).get(key)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            links[key] = value
    return Paper(
        id=paper_id,
        title=title,
        abstract=clean_text(_str(data.get("abstract") or data.get("summary")), MAX_ABSTRACT),
        authors=tuple(_authors(data.get("authors"))),
        categories=tuple(clean_text(c, 40) for c in _list(data.get("categories")) if c.strip()),
        links=links,
        published=_date(data.get("published")),
        announced=_date(data.get("day") or data.get("announced")),
        comment=clean_text(_str(data.get("comment")), 1000) or None,
        upvotes=_count(data.get("upvotes")),
        github_stars=_count(data.get("github_stars")),
        num_comments=_count(data.get("num_comments")),
        source=source,
    )


def _str(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int | float):
        raise InputError(f"expected text, got {type(value).__name__}")
    return str(value)


def _list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if not isinstance(value, list):
        raise InputError(f"expected a list, got {type(value).__name__}")
    return [str(v) for v in value if isinstance(v, str | int)]


def _authors(value: object) -> list[str]:
    if isinstance(value, str):
        value = [a for a in value.split(",")]
    names = []
    for item in value or []:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name.strip():
            names.append(clean_text(name, 200))
    return names[:500]


def _date(value: object) -> date | None:
    if value in (None, ""):
        return None
    parsed = parse_day(str(value))
    if parsed is None:
        raise InputError(f"invalid date {value!r}")
    return parsed


def _count(value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise InputError(f"expected a count, got {value!r}") from None
    return max(number, 0)
