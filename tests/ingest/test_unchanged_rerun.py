"""An unchanged re-run of JSONL lines into a SQLite file is recognised with sqlite3 alone
(``digest.db.sqlite_reader``, ``digest.ingest.lines.unchanged_rerun``): the same answer as
the SQLAlchemy path, the same counts as ``ingest_lines``, and no answer (so that
``ingest_lines`` decides) for anything that is not exactly such a re-run."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.db import sqlite_reader
from digest.db.engine import Database, open_database
from digest.db.papers import known_hashes
from digest.ingest.lines import LineCounts, ingest_lines, number_lines, unchanged_rerun

NOW = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
SOURCE = "jsonl:papers.jsonl"


def paper_line(n: int, **extra: object) -> bytes:
    record = {"id": f"2505.{n:05d}", "title": f"Paper {n}", "abstract": "Text.", **extra}
    return json.dumps(record).encode() + b"\n"


LINES = [paper_line(n) for n in range(1, 6)]


def stored(url: str, lines: list[bytes]) -> Database:
    db = open_database(url)
    with db.session() as session:
        assert ingest_lines(session, lines, SOURCE, NOW).new == len(lines)
    return db


def test_known_lines_answer_as_the_sqlalchemy_query(sqlite_url: str) -> None:
    db = stored(sqlite_url, LINES)
    digests = number_lines([*LINES, paper_line(99)]).digests
    with db.session() as session:
        expected = known_hashes(session, SOURCE, digests)
    assert len(expected) == len(LINES)
    assert sqlite_reader.stored_line_hashes(sqlite_url, SOURCE, digests) == expected
    assert sqlite_reader.stored_line_hashes(sqlite_url, "jsonl:other.jsonl", digests) == set()


def test_an_unchanged_rerun_counts_as_ingest_lines_does(sqlite_url: str) -> None:
    db = stored(sqlite_url, LINES)
    rerun = [*LINES[:2], b"\n", *LINES[2:]]  # a blank line is no line
    fast = unchanged_rerun(sqlite_url, number_lines(rerun), SOURCE)
    with db.session() as session:
        slow = ingest_lines(session, rerun, SOURCE, NOW)
    assert fast == slow == LineCounts(unchanged=len(LINES))


@pytest.mark.parametrize(
    "lines",
    [
        [*LINES, paper_line(6)],  # a new line
        [*LINES[:-1], paper_line(5, comment="v2")],  # a changed line
        [*LINES, LINES[0]],  # a repeated line: reported as a duplicate by ingest_lines
        [],  # nothing
    ],
    ids=["new", "changed", "repeated", "empty"],
)
def test_anything_but_an_unchanged_rerun_has_no_answer(sqlite_url: str, lines) -> None:  # type: ignore[no-untyped-def]
    stored(sqlite_url, LINES)
    assert unchanged_rerun(sqlite_url, number_lines(lines), SOURCE) is None


def test_another_source_has_no_answer(sqlite_url: str) -> None:
    stored(sqlite_url, LINES)
    assert unchanged_rerun(sqlite_url, number_lines(LINES), "jsonl:other.jsonl") is None


def test_a_database_that_is_not_a_current_sqlite_file_has_no_answer(
    sqlite_url: str, tmp_path: Path
) -> None:
    digests = number_lines(LINES).digests
    missing = f"sqlite:///{tmp_path / 'missing.db'}"
    assert sqlite_reader.stored_line_hashes(missing, SOURCE, digests) is None
    assert not (tmp_path / "missing.db").exists()  # never created here
    for url in ("postgresql+psycopg://u@localhost/digest", "sqlite://", "sqlite:///:memory:"):
        assert sqlite_reader.stored_line_hashes(url, SOURCE, digests) is None
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert sqlite_reader.stored_line_hashes(f"sqlite:///{empty}", SOURCE, digests) is None
    not_a_db = tmp_path / "text.db"
    not_a_db.write_text("not a database " * 100)
    assert sqlite_reader.stored_line_hashes(f"sqlite:///{not_a_db}", SOURCE, digests) is None

    db = stored(sqlite_url, LINES)
    db.dispose()
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    assert sqlite_reader.stored_line_hashes(sqlite_url, SOURCE, digests) is None
