"""Storing JSONL lines (`digest ingest jsonl` and file sources): raw lines in, counts out.

Kept apart from :mod:`digest.ingest.service` (the HTTP sources and their parsers), so that
loading a file imports none of the network code; and neither an unchanged re-run into a
SQLite file (:func:`unchanged_rerun`) nor storing lines into one that is new or current
(:func:`ingest_lines_sqlite`) imports SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from digest.db import sqlite_reader, sqlite_store
from digest.ingest.merge import raw_hash
from digest.ingest.parse_jsonl import parse_numbered_lines
from digest.ingest.upsert import PaperStore, upsert_records

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

LINE_CHUNK = 10_000


@dataclass
class LineCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)  # (line, what was done)


@dataclass
class NumberedLines:
    """The non-blank lines of an input with their line numbers, and the digest of each."""

    lines: list[tuple[int, bytes]]
    digests: list[str]


def number_lines(lines: Sequence[bytes]) -> NumberedLines:
    numbered: list[tuple[int, bytes]] = []
    digests: list[str] = []
    for i, line in enumerate(lines, start=1):
        stripped = line.strip()  # raw_hash strips too: of stripped bytes, with no copy
        if stripped:
            numbered.append((i, line))
            digests.append(raw_hash(stripped))
    return NumberedLines(numbered, digests)


def unchanged_rerun(database_url: str, lines: NumberedLines, source: str) -> LineCounts | None:
    """The counts :func:`ingest_lines` would give when ``source`` already stored every one
    of ``lines`` (each once) in a current SQLite file: all unchanged, nothing to write;
    learned with one ``sqlite3`` query (:mod:`digest.db.sqlite_reader`). None otherwise, or
    when that cannot be asked so: then :func:`ingest_lines` decides, as for any input."""
    digests = lines.digests
    if not digests or len(set(digests)) != len(digests):
        return None  # nothing to check, or repeated lines: their duplicates are reported
    known = sqlite_reader.stored_line_hashes(database_url, source, digests)
    if known is None or len(known) != len(digests):
        return None
    return LineCounts(unchanged=len(digests))


def ingest_lines_sqlite(
    database_url: str,
    lines: Sequence[bytes],
    source: str,
    now: datetime,
    *,
    numbered_lines: NumberedLines | None = None,
) -> LineCounts | None:
    """:func:`store_lines` into a SQLite file through ``sqlite3`` alone, in one
    transaction (:mod:`digest.db.sqlite_store`): the same rows and counts as
    :func:`ingest_lines`, without importing SQLAlchemy or Alembic. None, with nothing
    done, when the database is not a SQLite file that is new or at the head revision:
    then :func:`ingest_lines` stores the lines, as for any database."""
    with sqlite_store.open_for_ingest(database_url) as conn:
        if conn is None:
            return None
        store = sqlite_store.SqlitePaperStore(conn)
        return store_lines(store, lines, source, now, numbered_lines=numbered_lines)


def ingest_lines(
    session: Session,
    lines: Sequence[bytes],
    source: str,
    now: datetime,
    *,
    numbered_lines: NumberedLines | None = None,
) -> LineCounts:
    """:func:`store_lines` in ``session``'s transaction (SQLite or PostgreSQL)."""
    # lazy: SQLAlchemy and the table mappings, which an unchanged re-run never needs
    from digest.db.papers import SessionPaperStore

    return store_lines(
        SessionPaperStore(session), lines, source, now, numbered_lines=numbered_lines
    )


def store_lines(
    store: PaperStore,
    lines: Sequence[bytes],
    source: str,
    now: datetime,
    *,
    numbered_lines: NumberedLines | None = None,
) -> LineCounts:
    """Store JSONL lines; a line whose bytes ``source`` already sent is skipped unparsed.

    The digest of each raw line is compared with the stored digests of what this source
    said last, so an unchanged re-run costs one hash per line and one query. A re-run of
    the same lines is a no-op with the same counts: duplicates of a paper are judged over
    the whole input (:func:`digest.ingest.parsing.dedupe`), and when a changed or repeated
    line holds a paper that a skipped line holds too, that line is parsed again so the
    same rule decides which one is kept. ``numbered_lines`` is :func:`number_lines` of
    ``lines``, when the caller has it already.
    """
    counts = LineCounts()
    hashed = numbered_lines if numbered_lines is not None else number_lines(lines)
    numbered, digests = hashed.lines, hashed.digests
    known = store.known_hashes(source, list(set(digests)))
    stored_line: dict[str, int] = {}  # digest -> the line whose record the source holds
    todo, digest_of = [], {}
    for (number, line), digest in zip(numbered, digests, strict=True):
        if digest in known and digest not in stored_line:
            stored_line[digest] = number
            continue
        todo.append((number, line))
        digest_of[number] = digest
    result = parse_numbered_lines(todo, source=source)
    if stored_line and result.records:
        held = store.stored_hashes(source, [p.id for p in result.records])
        again = {stored_line[d] for d in held.values() if d in stored_line}
        if again:
            line_of = dict(numbered)
            todo = sorted(todo + [(n, line_of[n]) for n in again])
            result = parse_numbered_lines(todo, source=source)
    skipped = set(stored_line.values())
    counts.errors = result.errors
    counts.warnings = [(n, w) for n, w in result.warnings if n not in skipped]
    counts.unchanged = len(skipped) - sum(1 for n, _ in result.errors if n in skipped)
    papers, hashes = [], []
    for paper, number in zip(result.records, result.positions, strict=True):
        if number not in skipped:
            papers.append(paper)
            hashes.append(digest_of[number])
    for start in range(0, len(papers), LINE_CHUNK):
        stored = upsert_records(
            store,
            papers[start : start + LINE_CHUNK],
            now,
            hashes=hashes[start : start + LINE_CHUNK],
        )
        counts.new += stored.new
        counts.updated += stored.updated
        counts.unchanged += stored.unchanged
    return counts
