"""Statement helpers shared by the query modules of ``digest/db/``: long id lists cut into
``IN (...)`` lists the database accepts, the dialect's INSERT that can skip conflicts, and
two typed views of what SQLAlchemy's stubs leave general (a mapped class's ``Table``, the
row count of an UPDATE or DELETE)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import ARRAY, ColumnElement, CursorResult, Result, Table, any_, literal
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute, Session

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

CHUNK = 500  # ids per IN (...) list: well under SQLite's bound-parameter limit

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Values per ``column = ANY(array)`` on PostgreSQL: one parameter instead of an IN list,
# each of whose values cost SQLAlchemy and psycopg about 15 us of client CPU (an IN list of
# 2,000 ids: 30 ms; one array of 5,000 integers: 5 ms).
ARRAY_CHUNK = 50_000


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def id_chunks(session: Session, items: Sequence[T]) -> Iterator[Sequence[T]]:
    """``items`` in slices for :func:`among`: one IN list's worth, or an array's on
    PostgreSQL."""
    return chunks(items, ARRAY_CHUNK if _postgres(session) else CHUNK)


def among(
    session: Session, column: ColumnElement[T] | QueryableAttribute[T], values: Sequence[T]
) -> ColumnElement[bool]:
    """``column IN values`` (a slice of :func:`id_chunks`): on PostgreSQL ``column =
    ANY(:values)``, one array parameter; elsewhere an IN list."""
    if _postgres(session):
        element = column.expression if isinstance(column, QueryableAttribute) else column
        return element == any_(literal(list(values), ARRAY(element.type)))
    return column.in_(values)


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
