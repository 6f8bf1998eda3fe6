"""A new SQLite file gets its schema from ``digest.db.sqlite_schema`` when `digest ingest
jsonl` stores into it with ``sqlite3`` (``digest.db.sqlite_store.open_for_ingest``): the
same ``sqlite_master`` and version row as Alembic's migrations make, and the same file
settings. Anything that is not a new or current SQLite file is left to SQLAlchemy."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from digest.db import sqlite_schema
from digest.db.engine import Database
from digest.db.revision import head_revision
from digest.db.sqlite_store import open_for_ingest

REGENERATE = "run .venv/bin/python scripts/make_sqlite_schema.py"


def schema(path: Path) -> dict[str, object]:
    """Everything of a file's schema but where its pages are."""
    with closing(sqlite3.connect(path)) as conn:
        return {
            "master": sorted(
                conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall(),
                key=repr,
            ),
            "version": conn.execute("SELECT * FROM alembic_version").fetchall(),
            "journal_mode": conn.execute("PRAGMA journal_mode").fetchone(),
            "user_version": conn.execute("PRAGMA user_version").fetchone(),
            "encoding": conn.execute("PRAGMA encoding").fetchone(),
            "auto_vacuum": conn.execute("PRAGMA auto_vacuum").fetchone(),
            "page_size": conn.execute("PRAGMA page_size").fetchone(),
        }


def by_alembic(path: Path) -> dict[str, object]:
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return schema(path)


def by_snapshot(path: Path) -> dict[str, object]:
    with open_for_ingest(f"sqlite:///{path}") as conn:
        assert conn is not None
    return schema(path)


def test_the_snapshot_is_at_the_head_revision() -> None:
    assert head_revision() == sqlite_schema.REVISION, REGENERATE


def test_a_new_file_gets_the_schema_alembic_makes(tmp_path: Path) -> None:
    expected = by_alembic(tmp_path / "alembic.db")
    assert expected["version"] == [(head_revision(),)]
    assert by_snapshot(tmp_path / "snapshot.db") == expected, REGENERATE


def test_a_new_file_in_a_new_folder(tmp_path: Path) -> None:
    expected = by_alembic(tmp_path / "alembic.db")
    assert by_snapshot(tmp_path / "new" / "folder" / "snapshot.db") == expected


def test_the_created_file_is_current_for_sqlalchemy(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.db"
    by_snapshot(path)
    db = Database(f"sqlite:///{path}")
    assert db.stored_revision() == db.current_revision() == head_revision()
    db.ensure_schema(auto_upgrade=False)  # no "run digest db upgrade first"
    db.dispose()


def test_a_current_file_is_opened_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "alembic.db"
    expected = by_alembic(path)
    assert by_snapshot(path) == expected


def test_an_outdated_file_is_left_to_alembic(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade("0009")
    db.dispose()
    before = schema(path)
    with open_for_ingest(f"sqlite:///{path}") as conn:
        assert conn is None
    assert schema(path) == before


def test_a_file_of_something_else_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.commit()
    with open_for_ingest(f"sqlite:///{path}") as conn:
        assert conn is None
    with closing(sqlite3.connect(path)) as conn:
        names = conn.execute("SELECT name FROM sqlite_master").fetchall()
    assert names == [("notes",)]


def test_a_file_that_is_not_a_database_is_left_to_sqlalchemy(tmp_path: Path) -> None:
    path = tmp_path / "text.db"
    path.write_text("not a database, just text that is long enough to have a header\n" * 20)
    with open_for_ingest(f"sqlite:///{path}") as conn:
        assert conn is None


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://localhost/digest",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///digest.db?timeout=5",
    ],
)
def test_other_urls_are_left_to_sqlalchemy(url: str) -> None:
    with open_for_ingest(url) as conn:
        assert conn is None


def test_a_failure_rolls_the_transaction_back(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.db"
    with pytest.raises(RuntimeError), open_for_ingest(f"sqlite:///{path}") as conn:
        assert conn is not None
        conn.execute("INSERT INTO sources (name, kind, options, origin, enabled, validators, "
                     "last_counts, created_at, updated_at) "
                     "VALUES ('s', 'feed', '{}', 'cli', 1, '{}', '{}', 'x', 'x')")  # fmt: skip
        raise RuntimeError("boom")
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT count(*) FROM sources").fetchone() == (0,)
        assert conn.execute("SELECT * FROM alembic_version").fetchall() == [(head_revision(),)]
