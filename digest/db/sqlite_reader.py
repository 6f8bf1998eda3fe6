"""Read-only queries on an embedded SQLite file through the standard library's
``sqlite3``, without SQLAlchemy, for commands whose whole run costs less than importing it
(about 0.3 s, and the ORM with the table mappings more): `digest subscribers list`/`show`/
`export`, and an unchanged re-run of `digest ingest jsonl`, which stores nothing and learns
so with one query (SQLAlchemy was half of such a run's CPU time).

Used only for a plain SQLite file whose schema is at the head revision; for anything else
(PostgreSQL, a new, outdated or unreadable file, a URL with options) :func:`open_current`
answers None and the caller takes the SQLAlchemy path, which also creates or upgrades the
schema and reports what is wrong. The queries mirror ``digest.db.subscribers``
(``list_subscribers``, ``find_subscriber``, ``spec_from_row``) and
``digest.db.papers.known_hashes``; tests/db/test_sqlite_reader.py and
tests/ingest/test_unchanged_rerun.py check that both paths give the same answers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import quote

import orjson

from digest.db.revision import VERSION_TABLE, head_revision
from digest.subscriber_spec import SubscriberSpec, email_key, interest_lists

_SQLITE_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")
_COLUMNS = "id, email, name, greeting_name, status, timezone, frequency, delivery_hour, weekday"
# One row of those columns.
_Row = tuple[int, str, str | None, str | None, str, str, str, int, int]


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


# SQLite: the values of one JSON array parameter (``json_each``), so that a lookup of
# thousands of keys is one short statement with one parameter, compiled and bound once,
# instead of a statement with 500 bound parameters per chunk. Both ingest adapters and the
# read-only reader use it.
JSON_LIST = "(SELECT value FROM json_each(?))"


def json_list(values: Sequence[str]) -> str:
    """``values`` as the parameter of :data:`JSON_LIST`."""
    return orjson.dumps(list(values)).decode()


@contextmanager
def open_current(url: str) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection to the SQLite file of ``url`` when its schema is current,
    else None (see the module's docstring). Never creates the file or writes to it."""
    path = sqlite_file(url)
    if path is None or not path.is_file():
        yield None
        return
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=30)) as conn:
        try:
            current = stored_revision(conn) == head_revision()
        except sqlite3.Error:  # locked, unreadable, not a database: SQLAlchemy's to report
            current = False
        yield conn if current else None


def stored_revision(conn: sqlite3.Connection) -> str | None:
    """The Alembic revision recorded in the file; None when it holds no digest schema."""
    try:
        row = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
    except sqlite3.OperationalError:  # no such table: not a digest database (yet)
        return None
    return row[0] if row else None


def stored_line_hashes(url: str, source: str, digests: Sequence[str]) -> set[str] | None:
    """Which of ``digests`` are what ``source`` said last about some paper (the query of
    ``digest.db.papers.known_hashes``), or None when the database is not a current SQLite
    file readable here, or any sqlite3 error happens (the SQLAlchemy path then reports it)."""
    try:
        with open_current(url) as conn:
            if conn is None:
                return None
            rows = conn.execute(
                "SELECT content_hash FROM paper_sightings "
                f"WHERE source = ? AND content_hash IN {JSON_LIST}",
                (source, json_list(digests)),
            ).fetchall()
    except sqlite3.Error:
        return None
    return {row[0] for row in rows}


def list_subscribers(conn: sqlite3.Connection, status: str | None = None) -> list[SubscriberSpec]:
    """Every subscriber (or those with ``status``) in id order, as specs."""
    where, params = ("WHERE status = ?", (status,)) if status else ("", ())
    rows = conn.execute(f"SELECT {_COLUMNS} FROM subscribers {where} ORDER BY id", params)
    return _specs(conn, rows.fetchall())


def find_subscriber(conn: sqlite3.Connection, email: str) -> SubscriberSpec | None:
    """The subscriber with this address (compared as ``email_key``), or None."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM subscribers WHERE email_key = ?", (email_key(email),)
    ).fetchall()
    specs = _specs(conn, rows)
    return specs[0] if specs else None


def _specs(conn: sqlite3.Connection, rows: list[_Row]) -> list[SubscriberSpec]:
    interests: dict[int, list[tuple[str, str]]] = {row[0]: [] for row in rows}
    if interests:
        found = conn.execute(
            "SELECT subscriber_id, kind, value FROM interests"
            f" WHERE subscriber_id IN {JSON_LIST} ORDER BY id",
            (f"[{','.join(map(str, interests))}]",),
        )
        for subscriber_id, kind, value in found:
            interests[subscriber_id].append((kind, value))
    return [
        SubscriberSpec(
            email=email,
            name=name,
            greeting_name=greeting_name,
            status=status,
            timezone=timezone,
            frequency=frequency,
            delivery_hour=delivery_hour,
            weekday=weekday,
            **interest_lists(interests[subscriber_id]),
        )
        for (
            subscriber_id,
            email,
            name,
            greeting_name,
            status,
            timezone,
            frequency,
            delivery_hour,
            weekday,
        ) in rows
    ]
