"""Paper and sighting values as the bulk writers store them: which columns hold JSON, which
must always be written, and JSON text. No SQLAlchemy: both bulk writers use it, the
SQLAlchemy one (:mod:`digest.db.bulk`) and the ``sqlite3`` one (:mod:`digest.db.sqlite_bulk`).
"""

from __future__ import annotations

import json
from itertools import repeat
from operator import is_not, itemgetter
from typing import Any

import orjson

JSON_COLUMNS = frozenset({"authors", "categories", "links", "sources", "keywords", "affiliations"})
SIGHTING_COLUMNS = ("paper_id", "source", "content_hash", "first_seen_at", "updated_at")
# NOT NULL columns without a server default: always copied.
REQUIRED = frozenset(
    {"id", "title", "abstract", "authors", "categories", "links", "sources", "first_seen_at",
     "updated_at", "paper_id", "source", "content_hash"}
)  # fmt: skip
# Columns whose server default is an empty JSON list: left out when empty in every row.
EMPTY_LIST_DEFAULT = frozenset({"keywords", "affiliations"})


def to_json(value: Any) -> str:
    """A JSON column's value as text (orjson: 5-10x faster than ``json``); a tuple is
    written as a list.

    ``json`` writes what orjson refuses (a lone surrogate from a broken escape, rare), as
    ASCII with escapes.
    """
    if not value:
        return "{}" if isinstance(value, dict) else "[]"
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def any_value(rows: list[dict[str, Any]], column: str) -> bool:
    """Whether some row has a value in ``column`` other than what the table's default
    gives (the loops in C: 11 columns x 5,000 rows)."""
    if column in EMPTY_LIST_DEFAULT:
        return any(map(itemgetter(column), rows))
    return any(map(is_not, map(itemgetter(column), rows), repeat(None)))
