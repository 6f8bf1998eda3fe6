"""Bulk writes of papers and sightings: COPY on PostgreSQL, executemany on SQLite.

A multi-row INSERT of thousands of rows spends most of its time in the driver turning one
huge statement into a prepared query; COPY streams the rows instead. Rows known to be new
are copied straight into their table (inside a savepoint: if a concurrent ingest inserted
one meanwhile, the copy is undone and the slower path below takes over). Otherwise rows go
to a temporary table and one ``INSERT ... SELECT ... ON CONFLICT`` / ``UPDATE ... FROM``
applies them. On SQLite the driver's ``executemany`` gets plain tuples (JSON text, dates
as SQLAlchemy stores them), which skips SQLAlchemy's per-value processing, the larger part
of the time there; the statements are those of :mod:`digest.db.sqlite_bulk`, which the
``sqlite3`` ingest path runs too. Measured in ``benchmarks/ingest.py``. Only
:mod:`digest.db.papers` calls this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, Date, DateTime, Integer, String, Table

from digest.db import sqlite_bulk
from digest.db.models import Base
from digest.db.paper_values import JSON_COLUMNS, REQUIRED, SIGHTING_COLUMNS, any_value, to_json

UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE, psycopg's ``Error.sqlstate``


# Binary COPY sends each value in the column type's binary form, which the server reads
# without parsing text: the type of every column, named for psycopg's dumpers. The binary
# form of ``json`` is its UTF-8 text, the same bytes as that of ``text``.
_COPY_TYPES = ((JSON, "text"), (Boolean, "bool"), (Integer, "int4"), (Date, "date"),
               (DateTime, "timestamptz"), (String, "text"))  # fmt: skip


def _copy_type(table: Table, column: str) -> str:
    kind = table.c[column].type
    kind = getattr(kind, "impl_instance", kind)  # UTCDateTime -> DateTime
    for base, name in _COPY_TYPES:
        if isinstance(kind, base):
            return name
    raise TypeError(f"no COPY type for {table.name}.{column} ({kind!r})")


def _copy(
    cursor: Any,
    table: str,
    columns: Sequence[str],
    rows: list[dict[str, Any]],
    *,
    flag: bool,
    like: str,
) -> None:
    """Binary COPY of ``rows`` into ``table``, whose columns are typed as those of ``like``."""
    model = Base.metadata.tables[like]
    types = [_copy_type(model, c) for c in columns]
    cols = ", ".join(columns)
    json_at = [i for i, c in enumerate(columns) if c in JSON_COLUMNS]
    target = f"{table} ({cols}, is_new)" if flag else f"{table} ({cols})"
    with cursor.copy(f"COPY {target} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([*types, "bool"] if flag else types)
        write = copy.write_row
        for row in rows:
            values = [row[c] for c in columns]
            for i in json_at:
                values[i] = to_json(values[i])
            if flag:
                values.append(row.get("is_new", True))
            write(values)


def _copy_new(cursor: Any, table: str, columns: Sequence[str], rows: list[dict[str, Any]]) -> bool:
    """COPY rows believed new straight into ``table``; False (and undone) on a conflict.

    Columns empty in every row are left out: the table's default (NULL, or '[]' where the
    schema says so) is what they would get, and COPY does half the work for sparse data.
    """
    columns = [c for c in columns if c in REQUIRED or any_value(rows, c)]
    cursor.execute("SAVEPOINT digest_bulk")
    try:
        _copy(cursor, table, columns, rows, flag=False, like=table)
    except Exception as exc:  # psycopg.errors.UniqueViolation, without importing psycopg on SQLite
        if getattr(exc, "sqlstate", None) != UNIQUE_VIOLATION:
            raise
        cursor.execute("ROLLBACK TO SAVEPOINT digest_bulk")
        return False
    cursor.execute("RELEASE SAVEPOINT digest_bulk")
    return True


def _stage(
    cursor: Any, name: str, table: str, columns: Sequence[str], rows: list[dict[str, Any]]
) -> None:
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {name} ON COMMIT DROP AS "
        f"SELECT {', '.join(columns)}, true AS is_new FROM {table} WITH NO DATA"
    )
    cursor.execute(f"TRUNCATE {name}")
    _copy(cursor, name, columns, rows, flag=True, like=table)


def write_papers_pg(
    conn: Connection,
    columns: Sequence[str],
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    sightings: list[dict[str, Any]],
    *,
    fresh_sightings: bool = False,
) -> set[str]:
    """Insert new rows, overwrite changed ones, upsert sightings; return ids lost to a race.

    ``updates`` rows carry every column of ``columns``; ``first_seen_at`` is never
    overwritten. A paper inserted meanwhile by a concurrent ingest is "lost": its sighting
    is not recorded, so the next run merges it again.
    """
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    lost: set[str] = set()
    cols = ", ".join(columns)
    try:
        if inserts and not updates and _copy_new(cursor, "papers", columns, inserts):
            inserts = []
        if inserts or updates:
            rows = inserts + [{**u, "is_new": False} for u in updates]
            _stage(cursor, "_ingest_papers", "papers", columns, rows)
            if inserts:
                cursor.execute(
                    f"INSERT INTO papers ({cols}) SELECT {cols} FROM _ingest_papers "
                    "WHERE is_new ON CONFLICT (id) DO NOTHING RETURNING id"
                )
                done = {r[0] for r in cursor.fetchall()}
                lost = {r["id"] for r in inserts} - done
            if updates:
                settable = [c for c in columns if c not in ("id", "first_seen_at")]
                assignments = ", ".join(f"{c} = s.{c}" for c in settable)
                cursor.execute(
                    f"UPDATE papers AS p SET {assignments} FROM _ingest_papers AS s "
                    "WHERE p.id = s.id AND NOT s.is_new"
                )
        keep = [s for s in sightings if s["paper_id"] not in lost]
        if (
            keep
            and fresh_sightings
            and _copy_new(cursor, "paper_sightings", SIGHTING_COLUMNS, keep)
        ):
            keep = []
        if keep:
            _stage(cursor, "_ingest_sightings", "paper_sightings", SIGHTING_COLUMNS, keep)
            scols = ", ".join(SIGHTING_COLUMNS)
            cursor.execute(
                f"INSERT INTO paper_sightings ({scols}) SELECT {scols} FROM _ingest_sightings "
                "ON CONFLICT (paper_id, source) DO UPDATE SET "
                "content_hash = EXCLUDED.content_hash, updated_at = EXCLUDED.updated_at"
            )
    finally:
        cursor.close()
    return lost


def write_papers_sqlite(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    sightings_table: Table,
    sightings: list[dict[str, Any]],
) -> set[str]:
    """The SQLite twin of :func:`write_papers_pg`, with the same contract: the statements
    of :func:`digest.db.sqlite_bulk.write_papers` on the driver's cursor, with values as
    SQLAlchemy's own types bind them."""
    tables = {table.name: table, sightings_table.name: sightings_table}
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        return sqlite_bulk.write_papers(
            cursor,
            table.name,
            columns,
            inserts,
            updates,
            sightings_table.name,
            sightings,
            lambda name, cols: sqlite_bulk.each_row(_converters(conn, tables[name], cols)),
        )
    finally:
        cursor.close()


def _converters(conn: Connection, table: Table, columns: Sequence[str]) -> Any:
    """row dict -> tuple of driver values, as SQLAlchemy's own types would bind them.

    Each distinct date and time is converted once (:func:`digest.db.sqlite_bulk.once_each`),
    and a datetime is passed as the text the driver itself would store for it
    (``sqlite3``'s documented default adapter, ``isoformat(" ")``), not adapted again for
    every row.
    """
    steps: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(columns):
        if name in JSON_COLUMNS:
            steps.append((i, to_json))
            continue
        process = table.c[name].type.bind_processor(conn.dialect)
        if process is not None:
            kind = table.c[name].type
            kind = getattr(kind, "impl_instance", kind)
            if isinstance(kind, Date | DateTime):
                steps.append((i, sqlite_bulk.once_each(_as_driver_text(process))))
            else:
                steps.append((i, process))
    return sqlite_bulk.make_converter(columns, steps)


def _as_driver_text(process: Any) -> Any:
    def convert(value: Any) -> Any:
        found = process(value)
        return found.isoformat(" ") if isinstance(found, datetime) else found

    return convert
