"""`digest subscribers list/show` read a current SQLite file with sqlite3 alone
(``digest.db.sqlite_reader``): the same specs, in the same order, as the ORM gives; and
no answer (so the ORM path runs) for anything it cannot read as it is."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.db import sqlite_reader, subscribers
from digest.db.engine import Database, open_database
from digest.subscriber_spec import validate_spec

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
SPECS = [
    {"email": "Zed@Example.org", "name": "Zed Zee", "status": "paused"},
    {
        "email": "many@example.org",
        "greeting_name": "M",
        "frequency": "weekly",
        "weekday": 3,
        "delivery_hour": 18,
        "timezone": "Europe/Paris",
        "topics": ["zeta topic", "alpha topic", "language models"],
        "authors": ["Ada Lovelace"],
        "categories": ["cs.CL", "cs.AI"],
        "exclude": ["survey"],
        "require": ["benchmark"],
        "liked": ["2501.00001"],
        "disliked": ["2501.00002"],
    },
    {"email": "one@example.org", "topics": ["speech"], "status": "unsubscribed"},
    {"email": "two@example.org", "topics": ["speech", "audio"]},
]


@pytest.fixture
def filled(sqlite_url: str) -> Database:
    db = open_database(sqlite_url)
    with db.session() as session:
        for spec in SPECS:
            subscribers.add_subscriber(session, validate_spec(spec), T0)
    return db


def orm_specs(db: Database, status: str | None) -> list:
    with db.session() as session:
        rows = subscribers.list_subscribers(session, status)
        return [subscribers.spec_from_row(row) for row in rows]


@pytest.mark.parametrize("status", [None, "active", "paused", "unsubscribed", "bounced"])
def test_list_is_the_orms(filled: Database, sqlite_url: str, status: str | None) -> None:
    with sqlite_reader.open_current(sqlite_url) as conn:
        assert conn is not None
        specs = sqlite_reader.list_subscribers(conn, status)
    assert specs == orm_specs(filled, status)
    if status is None:
        assert [s.email for s in specs] == [validate_spec(s).email for s in SPECS]
        assert specs[1].topics == ("zeta topic", "alpha topic", "language models")


def test_find_is_the_orms(filled: Database, sqlite_url: str) -> None:
    with sqlite_reader.open_current(sqlite_url) as conn:
        assert conn is not None
        found = sqlite_reader.find_subscriber(conn, "zed@EXAMPLE.org")  # as email_key
        missing = sqlite_reader.find_subscriber(conn, "nobody@example.org")
    with filled.session() as session:
        expected = subscribers.spec_from_row(subscribers.get_subscriber(session, "zed@example.org"))
    assert found == expected and found.email == "Zed@example.org"
    assert missing is None


def test_an_outdated_schema_is_left_to_the_orm(filled: Database, sqlite_url: str) -> None:
    with filled.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    with sqlite_reader.open_current(sqlite_url) as conn:
        assert conn is None


def test_a_file_of_another_program_is_left_to_the_orm(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with sqlite_reader.open_current(f"sqlite:///{other}") as conn:
        assert conn is None


def test_a_file_that_is_no_database_is_left_to_the_orm(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all, " * 100)
    with sqlite_reader.open_current(f"sqlite:///{junk}") as conn:
        assert conn is None


def test_a_missing_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "new" / "digest.db"
    with sqlite_reader.open_current(f"sqlite:///{path}") as conn:
        assert conn is None
    assert not path.exists() and not path.parent.exists()


def test_reading_writes_nothing(filled: Database, sqlite_url: str) -> None:
    with sqlite_reader.open_current(sqlite_url) as conn:
        assert conn is not None
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM subscribers")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///var/digest.db", Path("var/digest.db")),
        ("sqlite:////srv/digest/digest.db", Path("/srv/digest/digest.db")),
        ("sqlite+pysqlite:////srv/d.db", Path("/srv/d.db")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///d.db?timeout=5", None),
        ("sqlite:///my%20d.db", None),
        ("postgresql+psycopg://postgres@127.0.0.1/digest", None),
        ("sqlite+aiosqlite:///d.db", None),
    ],
)
def test_sqlite_file_of_a_url(url: str, path: Path | None) -> None:
    assert sqlite_reader.sqlite_file(url) == path
