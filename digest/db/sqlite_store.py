"""Storing papers in a SQLite file through the standard library's ``sqlite3``, without
SQLAlchemy or Alembic: the write path of `digest ingest jsonl` (issue 19).

Importing SQLAlchemy's ORM with the table mappings, and Alembic with its migrations to
create the schema of a new file, cost more than a third of a 20,000-paper first load.
:func:`open_for_ingest` gives a connection for a plain SQLite file whose schema is at the
head revision, or for a new (empty) file, whose schema it creates from
:mod:`digest.db.sqlite_schema`: the statements Alembic's migrations leave in
``sqlite_master``, with the version row at head (tests/db/test_sqlite_schema.py checks
that both ways make the same schema). For anything else (PostgreSQL, an outdated or
foreign file, a URL with options, a file it cannot open) it answers None, and the caller
takes the SQLAlchemy path, which upgrades the schema or reports what is wrong.

:class:`SqlitePaperStore` is the :class:`digest.ingest.upsert.PaperStore` of such a
connection: the queries of :class:`digest.db.papers.SessionPaperStore` on SQLite, and the
same bulk statements (:mod:`digest.db.sqlite_bulk`) with the values SQLAlchemy's types
would bind. tests/ingest/test_sqlite_store.py checks that both stores leave the same
tables.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime
from typing import Any

from digest.db import sqlite_bulk, sqlite_schema
from digest.db.paper_values import JSON_COLUMNS
from digest.db.revision import VERSION_TABLE, head_revision
from digest.db.sqlite_reader import JSON_LIST, json_list, sqlite_file, stored_revision
from digest.ingest.merge import Row
from digest.ingest.upsert import LOADED_COLUMNS, WRITTEN_COLUMNS

PAPERS = "papers"
SIGHTINGS = "paper_sightings"
# What every connection of the SQLAlchemy path runs first (digest.db.engine._sqlite_pragmas),
# and a page cache of 64 MiB instead of 2 (this connection's only, nothing in the file):
# a 20,000-paper load (48 MB) then writes each page to the WAL once, at the commit, instead
# of spilling pages mid-transaction and reading them back (system calls: 75,000 -> 49,000;
# wall time -5 to -10% on this machine).
PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA cache_size=-65536",
)
# The values of one JSON array parameter: a lookup of thousands of keys in one statement.


@contextmanager
def open_for_ingest(url: str) -> Iterator[sqlite3.Connection | None]:
    """A connection to the SQLite file of ``url`` with its schema at head (created first
    in a new file), committed when the block ends without an error and rolled back
    otherwise; None when the SQLAlchemy path must decide (see the module's docstring)."""
    path = sqlite_file(url)
    if path is None:
        yield None
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # as digest.db.engine does
        conn = sqlite3.connect(path, timeout=30)
    except (OSError, sqlite3.Error):
        yield None
        return
    with closing(conn):
        try:
            ready = _prepare(conn)
        except sqlite3.Error:  # locked, unreadable, not a database: SQLAlchemy's to report
            ready = False
        if not ready:
            conn.rollback()
            yield None
            return
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def _prepare(conn: sqlite3.Connection) -> bool:
    """Whether ``conn``'s schema is at head, after creating it when the file is empty."""
    for pragma in PRAGMAS:
        conn.execute(pragma)
    head = head_revision()
    if stored_revision(conn) == head:
        return True
    if head != sqlite_schema.REVISION:
        return False  # a migration newer than the snapshot: Alembic makes the schema
    conn.execute("BEGIN IMMEDIATE")  # another process creating it waits, then sees it
    if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        conn.rollback()
        return stored_revision(conn) == head  # made meanwhile; or not a new file
    for statement in sqlite_schema.STATEMENTS:
        conn.execute(statement)
    conn.execute(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (?)", (head,))
    conn.commit()
    return True


class SqlitePaperStore:
    """The :class:`digest.ingest.upsert.PaperStore` of a ``sqlite3`` connection from
    :func:`open_for_ingest` (one transaction: the connection's)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def bulk_transaction(self) -> None:
        pass  # SQLite: nothing to relax

    def known_hashes(self, source: str, digests: Sequence[str]) -> set[str]:
        # A source that saw nothing yet (a first load) knows none of them: one probe of the
        # index instead of a list of every digest for SQLite to build (20,000: 50 ms).
        seen = self.conn.execute(f"SELECT 1 FROM {SIGHTINGS} WHERE source = ? LIMIT 1", (source,))
        if seen.fetchone() is None:
            return set()
        rows = self.conn.execute(
            f"SELECT content_hash FROM {SIGHTINGS} "
            f"WHERE source = ? AND content_hash IN {JSON_LIST}",
            (source, json_list(digests)),
        )
        return {digest for (digest,) in rows}

    def stored_hashes(self, source: str, paper_ids: Sequence[str]) -> dict[str, str]:
        rows = self.conn.execute(
            f"SELECT paper_id, content_hash FROM {SIGHTINGS} "
            f"WHERE source = ? AND paper_id IN {JSON_LIST}",
            (source, json_list(sorted(set(paper_ids)))),
        )
        return dict(rows.fetchall())

    def sighting_hashes(self, ids: list[str]) -> dict[tuple[str, str], str]:
        rows = self.conn.execute(
            f"SELECT paper_id, source, content_hash FROM {SIGHTINGS} WHERE paper_id IN {JSON_LIST}",
            (json_list(ids),),
        )
        return {(pid, src): digest for pid, src, digest in rows}

    def paper_rows(self, ids: list[str]) -> dict[str, Row]:
        rows = self.conn.execute(
            f"SELECT {', '.join(LOADED_COLUMNS)} FROM {PAPERS} WHERE id IN {JSON_LIST}",
            (json_list(ids),),
        )
        return {values[0]: loaded_row(values) for values in rows}

    def write(
        self,
        inserts: list[dict[str, Any]],
        updates: list[dict[str, Any]],
        sightings: list[dict[str, Any]],
        *,
        fresh_sightings: bool,
    ) -> set[str]:
        with closing(self.conn.cursor()) as cursor:
            return sqlite_bulk.write_papers(
                cursor,
                PAPERS,
                WRITTEN_COLUMNS,
                inserts,
                updates,
                SIGHTINGS,
                sightings,
                sqlite_bulk.stored_rows,
            )


def loaded_row(values: Sequence[Any]) -> Row:
    """A stored paper row (``LOADED_COLUMNS``) as SQLAlchemy's types load it: JSON
    decoded (by ``json``, as SQLAlchemy's JSON type does), dates as dates, times as aware
    UTC datetimes."""
    row = dict(zip(LOADED_COLUMNS, values, strict=True))
    for column, value in row.items():
        if value is None:
            continue
        if column in JSON_COLUMNS:
            row[column] = json.loads(value)
        elif column in sqlite_bulk.DATE_COLUMNS:
            row[column] = date.fromisoformat(value)
        elif column in sqlite_bulk.DATETIME_COLUMNS:
            moment = datetime.fromisoformat(value)
            row[column] = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return row
