"""Which raw JSONL lines a source already stored, asked of an embedded SQLite file through
the standard library's ``sqlite3``, without SQLAlchemy.

Why: an unchanged re-run of `digest ingest jsonl` stores nothing, and learns so with one
query; importing SQLAlchemy, its ORM and the table mappings to run that query was about
half of such a run's CPU time. Used only for a plain SQLite file whose schema is at the
head revision, opened read-only; for anything else (PostgreSQL, a new or outdated file, a
URL with options, any sqlite3 error) :func:`stored_line_hashes` answers None and the caller
takes the SQLAlchemy path (:func:`digest.ingest.lines.ingest_lines`), which also creates or
upgrades the schema. The query is that of :func:`digest.db.papers.known_hashes`;
tests/ingest/test_unchanged_rerun.py checks that both give the same answer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

import orjson

from digest.db.revision import VERSION_TABLE, head_revision

_SQLITE_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")


def sqlite_file(url: str) -> Path | None:
    """The file of a plain SQLite URL (``sqlite:///relative`` or ``sqlite:////absolute``),
    or None for anything else: another database, memory, or a URL with options or escapes
    (those are SQLAlchemy's to read)."""
    for prefix in _SQLITE_PREFIXES:
        if url.startswith(prefix):
            path = url[len(prefix) :]
            if not path or path == ":memory:" or any(c in path for c in "?%#"):
                return None
            return Path(path)
    return None


def stored_line_hashes(url: str, source: str, digests: Sequence[str]) -> set[str] | None:
    """Which of ``digests`` are what ``source`` said last about some paper, or None when
    the database is not a current SQLite file readable here."""
    path = sqlite_file(url)
    if path is None or not path.is_file():
        return None
    try:
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=30)) as conn:
            if _stored_revision(conn) != head_revision():
                return None
            wanted = orjson.dumps(list(digests)).decode()
            rows = conn.execute(
                "SELECT content_hash FROM paper_sightings "
                "WHERE source = ? AND content_hash IN (SELECT value FROM json_each(?))",
                (source, wanted),
            ).fetchall()
    except sqlite3.Error:  # locked, unreadable, not a database: SQLAlchemy's to report
        return None
    return {row[0] for row in rows}


def _stored_revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
    except sqlite3.OperationalError:  # no such table: not a digest database (yet)
        return None
    return row[0] if row else None
