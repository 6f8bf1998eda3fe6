"""Bulk writes of papers and sightings: COPY through a temporary table on PostgreSQL.

A multi-row INSERT of thousands of rows spends most of its time in the driver turning
one huge statement into a prepared query; COPY streams the rows instead, then one
INSERT ... SELECT / UPDATE ... FROM applies them. Measured in ``benchmarks/ingest.py``.
Only :mod:`digest.db.repo` calls this module.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

JSON_COLUMNS = frozenset({"authors", "categories", "links", "sources", "keywords", "affiliations"})
SIGHTING_COLUMNS = ("paper_id", "source", "content_hash", "first_seen_at", "updated_at")


def _stage(
    cursor: Any, name: str, source_table: str, columns: Sequence[str], rows: list[dict]
) -> None:
    cols = ", ".join(columns)
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {name} ON COMMIT DROP AS "
        f"SELECT {cols}, true AS is_new FROM {source_table} WITH NO DATA"
    )
    cursor.execute(f"TRUNCATE {name}")
    dumps = json.dumps
    json_at = [i for i, c in enumerate(columns) if c in JSON_COLUMNS]
    with cursor.copy(f"COPY {name} ({cols}, is_new) FROM STDIN") as copy:
        for row in rows:
            values = [row[c] for c in columns]
            for i in json_at:
                values[i] = dumps(values[i])  # the cached default encoder: fastest
            values.append(row.get("is_new", True))
            copy.write_row(values)


def write_papers_pg(
    conn: Connection,
    columns: Sequence[str],
    inserts: list[dict],
    updates: list[dict],
    sightings: list[dict],
) -> set[str]:
    """Insert new rows, overwrite changed ones, upsert sightings; return ids lost to a race.

    ``updates`` rows carry every column of ``columns``; ``first_seen_at`` is never
    overwritten. A paper inserted meanwhile by a concurrent ingest is "lost": its sighting
    is not recorded, so the next run merges it again.
    """
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    lost: set[str] = set()
    try:
        if inserts or updates:
            rows = inserts + [{**u, "is_new": False} for u in updates]
            _stage(cursor, "_ingest_papers", "papers", columns, rows)
            cols = ", ".join(columns)
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
        if keep:
            _stage(cursor, "_ingest_sightings", "paper_sightings", SIGHTING_COLUMNS, keep)
            cols = ", ".join(SIGHTING_COLUMNS)
            cursor.execute(
                f"INSERT INTO paper_sightings ({cols}) SELECT {cols} FROM _ingest_sightings "
                "ON CONFLICT (paper_id, source) DO UPDATE SET "
                "content_hash = EXCLUDED.content_hash, updated_at = EXCLUDED.updated_at"
            )
    finally:
        cursor.close()
    return lost
