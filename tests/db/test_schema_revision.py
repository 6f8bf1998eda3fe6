"""Opening a database compares its revision with ``revision.head_revision()``, read from the
migration file names without loading Alembic; it must be the head Alembic itself reads."""

from __future__ import annotations

from digest.db import migrate
from digest.db.engine import Database
from digest.db.revision import MIGRATIONS_DIR, head_revision


def test_head_revision_from_file_names_is_alembics_head(sqlite_url: str) -> None:
    assert head_revision() == migrate.head_revision(sqlite_url)
    files = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py"))
    assert files and all(name[:4].isdigit() and name[4] == "_" for name in files), files


def test_stored_revision_reads_what_alembic_wrote(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    assert db.stored_revision() is None
    db.upgrade()
    assert db.stored_revision() == db.current_revision() == head_revision()
    db.dispose()
