"""Statement helpers shared by the query modules of ``digest/db/``: long id lists cut into
``IN (...)`` lists the database accepts, and the dialect's INSERT that can skip conflicts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

CHUNK = 500  # ids per IN (...) list: well under SQLite's bound-parameter limit

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert(session: Session, model: type) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ``on_conflict_do_nothing`` for the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)
