"""Statement helpers shared by the query modules of ``digest/db/``: long id lists cut into
``IN (...)`` lists the database accepts, the dialect's INSERT that can skip conflicts, and
two typed views of what SQLAlchemy's stubs leave general (a mapped class's ``Table``, the
row count of an UPDATE or DELETE)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import CursorResult, Result, Table
from sqlalchemy.orm import DeclarativeBase, Session

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

CHUNK = 500  # ids per IN (...) list: well under SQLite's bound-parameter limit

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert(session: Session, model: type) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ``on_conflict_do_nothing`` for the session's dialect."""
    # lazy: importing the PostgreSQL dialect's package loads all its drivers (asyncpg's
    # with asyncio): ~30 ms that a command on SQLite, or one that only reads, never needs
    from sqlalchemy.dialects import postgresql, sqlite

    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def table(model: type[DeclarativeBase]) -> Table:
    """The ``Table`` of a mapped class (typed as any ``FromClause`` by SQLAlchemy), for Core
    UPDATE and DELETE statements."""
    return cast(Table, model.__table__)


def affected(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE changed: ``Session.execute`` and ``Connection.execute`` are
    typed as returning a ``Result``; for these statements it is a ``CursorResult``."""
    return cast(CursorResult[Any], result).rowcount
