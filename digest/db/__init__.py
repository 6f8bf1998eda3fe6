"""Storage adapter: models, engine, migrations, and the named queries, one module per job
(papers, sources, subscribers, editions, ledger, tracking, feedback, vectors, accounts,
bounces, stats): see docs/architecture.md.

``Database`` is loaded on first use, so that importing a SQLAlchemy-free module of this
package (``revision``, ``sqlite_reader``) does not import SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digest.db.engine import Database

__all__ = ["Database"]


def __getattr__(name: str) -> Any:
    if name == "Database":
        from digest.db.engine import Database  # lazy: SQLAlchemy (see above)

        return Database
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
