"""Which schema revision the code expects, read from the migration files alone.

Kept free of SQLAlchemy and Alembic so that ``digest.db.sqlite_reader`` can tell whether a
SQLite file is current without importing either (SQLAlchemy's import alone costs ~0.3 s).
"""

from __future__ import annotations

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Alembic's own table (its default name), holding the revision a database is at.
VERSION_TABLE = "alembic_version"


def head_revision() -> str:
    """The newest schema revision, without Alembic: revision ids are the four-digit
    prefixes of the files in ``migrations/versions`` (``0006_bounces.py`` is ``"0006"``,
    each file chaining to the one before); tests/db/test_schema_revision.py checks that
    Alembic reads the same head."""
    return max(p.name[:4] for p in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
