"""The Alembic migrations build exactly the schema the ORM models describe, on SQLite and
PostgreSQL: a model changed without a migration (or the reverse) fails here."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from digest.db.engine import Database
from digest.db.models import Base


def test_upgraded_schema_equals_the_models(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            differences = compare_metadata(context, Base.metadata)
    finally:
        db.dispose()
    assert differences == []
