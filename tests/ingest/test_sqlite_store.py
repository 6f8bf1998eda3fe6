"""JSONL lines stored into a SQLite file with ``sqlite3`` alone
(``digest.ingest.lines.ingest_lines_sqlite``, ``digest.db.sqlite_store``) leave exactly the
tables the SQLAlchemy path (``ingest_lines``) leaves, with the same counts, errors and
warnings: on a first load, on re-runs with changed, repeated, duplicate and bad lines,
with a second source merging into the same papers, and when the two paths take turns on
one file."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from digest.db import bulk, sqlite_bulk
from digest.db.engine import Database, open_database
from digest.db.models import PaperRow, PaperSightingRow
from digest.db.papers import SessionPaperStore, upsert_papers
from digest.db.sqlite_store import SqlitePaperStore, loaded_row, open_for_ingest
from digest.domain import Paper
from digest.ingest.lines import LineCounts, ingest_lines, ingest_lines_sqlite
from digest.ingest.merge import new_row
from digest.ingest.upsert import LOADED_COLUMNS, WRITTEN_COLUMNS, upsert_records

NOW = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # no microseconds: isoformat leaves them out
LATER = datetime(2026, 3, 3, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
LAST = datetime(2026, 3, 4, 6, 0, 0, 1, tzinfo=UTC)
TABLES = ("papers", "paper_sightings", "alembic_version", "sources")


def line(**record: object) -> bytes:
    return json.dumps(record).encode()


def paper(n: int, **extra: object) -> bytes:
    return line(id=f"2505.{n:05d}", title=f"Paper {n}", abstract=f"Abstract {n}.", **extra)


FIRST = [
    paper(1, authors=["Ada Lovelace", {"name": "Alan Turing"}], categories=["cs.LG", "cs.AI"]),
    paper(2, day="2025-06-02", published="2025-05-30", comment="12 pages"),
    paper(3, upvotes=7, github_url="https://github.com/x/y", categories="cs.CL stat.ML"),
    b"",  # a blank line is no line
    b"{not json",
    line(id="2505.00004", abstract="no title"),
    line(id="2505.00005v1", title="Versioned v1", abstract="Old text."),
    line(id="2505.00005v2", title="Versioned v2", abstract="New text."),  # kept: newer
    paper(6),
    paper(6),  # the same line again: a duplicate
    line(title="Known only by its title", abstract="No id at all."),  # a warning
    b'{"id": "2505.00007", "title": "Bad UTF-8", "abstract": "caf\xe9", "authors": ["\\ud800"]}',
    line(id="2505.00008", title="  Spaced &amp; <b>tagged</b>  -- text ", abstract="x\\emph{y}"),
    line(id="2505.00009", title="Big count", upvotes=10**30),
    line(id="2505.00010", title="Float day", day=20250601.0),
    line(id="10.1000/XYZ", doi="10.1000/XYZ", title="A DOI paper"),
    line(id="2505.00011", title="Bad date", day="yesterday"),
    line(id="2505.00012", title="Keywords", categories=["cs.LG", "cs.LG", "  cs.AI "]),
]
SECOND = [
    *FIRST[:2],  # unchanged
    paper(3, upvotes=9, github_url="https://github.com/x/y", categories="cs.CL stat.ML"),
    line(id="2505.00005v3", title="Versioned v3", abstract="Newest text."),
    line(id="2505.00005v1", title="Versioned v1", abstract="Old text."),  # older: a duplicate
    paper(13, categories=["cs.RO"]),  # new
    paper(6),
    b"[1, 2]",
    paper(2, day="2025-06-02", published="2025-05-30", comment="12 pages"),  # repeated
]
OTHER = [  # another source about some of the same papers
    paper(1, categories=["cs.CV"], links={"project": "https://example.org/p"}),
    line(id="2505.00002v4", title="Paper 2, retitled", abstract="Other text.", upvotes=3),
    paper(14),
]
RUNS = [(FIRST, "jsonl:a.jsonl", NOW), (SECOND, "jsonl:a.jsonl", LATER),
        (OTHER, "jsonl:b.jsonl", LATER), (FIRST, "jsonl:a.jsonl", LAST)]  # fmt: skip

Ingest = Callable[[str, list[bytes], str, datetime], LineCounts]


def by_sqlalchemy(url: str, lines: list[bytes], source: str, now: datetime) -> LineCounts:
    db = open_database(url)
    try:
        with db.session() as session:
            return ingest_lines(session, lines, source, now)
    finally:
        db.dispose()


def by_sqlite3(url: str, lines: list[bytes], source: str, now: datetime) -> LineCounts:
    counts = ingest_lines_sqlite(url, lines, source, now)
    assert counts is not None
    return counts


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables an ingest touches, each value with the type SQLite stores
    it as (text, integer, null), sorted."""
    with closing(sqlite3.connect(path)) as conn:
        found = {}
        for table in TABLES:
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            typed = ", ".join(f"{c}, typeof({c})" for c in columns)
            rows = conn.execute(f"SELECT {typed} FROM {table}").fetchall()
            found[table] = sorted(rows, key=repr)
    return found


def counts_of(ingest: Ingest, path: Path) -> list[LineCounts]:
    return [ingest(f"sqlite:///{path}", lines, src, now) for lines, src, now in RUNS]


def test_both_paths_store_the_same_rows_and_counts(tmp_path: Path) -> None:
    slow = counts_of(by_sqlalchemy, tmp_path / "orm.db")
    fast = counts_of(by_sqlite3, tmp_path / "sqlite3.db")
    assert fast == slow
    assert slow[0].new == 12 and slow[0].errors and slow[0].warnings  # the fixture bites
    assert slow[1].updated == 2 and slow[1].new == 1 and slow[2].updated == 2
    expected = dump(tmp_path / "orm.db")
    assert len(expected["papers"]) == 14
    assert dump(tmp_path / "sqlite3.db") == expected


@pytest.mark.parametrize("first", [by_sqlalchemy, by_sqlite3], ids=["orm-first", "sqlite3-first"])
def test_the_paths_can_take_turns_on_one_file(tmp_path: Path, first: Ingest) -> None:
    counts_of(by_sqlalchemy, tmp_path / "orm.db")
    other = by_sqlite3 if first is by_sqlalchemy else by_sqlalchemy
    path = tmp_path / "mixed.db"
    turns = [first, other, first, other]
    for ingest, (lines, source, now) in zip(turns, RUNS, strict=True):
        ingest(f"sqlite:///{path}", lines, source, now)
    assert dump(path) == dump(tmp_path / "orm.db")


def test_records_upserted_by_both_stores_match(tmp_path: Path) -> None:
    """``upsert_records`` (the feeds' path) through each store."""
    papers = [
        Paper(id="2501.00001", title="T", source="a", version=1, doi="10.1/x"),
        Paper(id="2501.00001", title="T2", source="b", version=2, keywords=("k",)),
        Paper(id="2501.00002", title="U", source="a", affiliations=("Uni",), upvotes=0),
    ]
    orm = open_database(f"sqlite:///{tmp_path / 'orm.db'}")
    for batch in (papers[:1], papers[1:]):
        with orm.session() as session:
            upsert_papers(session, batch, LATER)
    orm.dispose()
    for batch in (papers[:1], papers[1:]):
        with open_for_ingest(f"sqlite:///{tmp_path / 'fast.db'}") as conn:
            assert conn is not None
            upsert_records(SqlitePaperStore(conn), batch, LATER)
    assert dump(tmp_path / "fast.db") == dump(tmp_path / "orm.db")


def test_a_stored_row_loads_as_sqlalchemy_loads_it(tmp_path: Path) -> None:
    counts_of(by_sqlalchemy, tmp_path / "orm.db")
    url = f"sqlite:///{tmp_path / 'orm.db'}"
    db = Database(url)
    with db.session() as session:
        ids = [row.id for row in session.query(PaperRow)]
        expected = SessionPaperStore(session).paper_rows(ids)
        sightings = SessionPaperStore(session).sighting_hashes(ids)
        known = SessionPaperStore(session).known_hashes("jsonl:a.jsonl", list(sightings.values()))
        held = SessionPaperStore(session).stored_hashes("jsonl:b.jsonl", ids)
    db.dispose()
    with open_for_ingest(url) as conn:
        assert conn is not None
        store = SqlitePaperStore(conn)
        assert store.paper_rows(ids) == expected
        assert set(expected["2505.00001"]) == set(LOADED_COLUMNS)
        assert store.sighting_hashes(ids) == sightings
        assert store.known_hashes("jsonl:a.jsonl", list(sightings.values())) == known
        assert known and store.known_hashes("jsonl:c.jsonl", list(known)) == set()
        assert store.stored_hashes("jsonl:b.jsonl", ids) == held and len(held) == 3
    for row in expected.values():  # stored values load back as they were
        assert loaded_row(next(sqlite_bulk.stored_rows("papers", LOADED_COLUMNS)([row]))) == row


@pytest.mark.parametrize("now", [NOW, LATER, LAST])
def test_values_are_bound_as_sqlalchemy_binds_them(tmp_path: Path, now: datetime) -> None:
    db = Database(f"sqlite:///{tmp_path / 'orm.db'}")
    p = Paper(id="2501.00001", title="T", source="a", published=NOW.date(), links={"a": "b"})
    row = {**new_row(p), "first_seen_at": now, "updated_at": now}
    sighting = {"paper_id": p.id, "source": "a", "content_hash": "h", "first_seen_at": now,
                "updated_at": now}  # fmt: skip
    with db.engine.connect() as conn:
        for table, columns, values in (
            (PaperRow.__table__, WRITTEN_COLUMNS, row),
            (PaperSightingRow.__table__, sqlite_bulk.SIGHTING_COLUMNS, sighting),
        ):
            bound = bulk._converters(conn, table, columns)(values)  # type: ignore[arg-type]
            # a date goes to sqlite3 as it is: its default adapter stores ``isoformat()``
            expected = tuple(v.isoformat() if type(v) is date else v for v in bound)
            assert next(sqlite_bulk.stored_rows(table.name, columns)([values])) == expected  # type: ignore[attr-defined]
    db.dispose()


def test_a_naive_time_is_refused_as_sqlalchemy_refuses_it() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        sqlite_bulk.stored_datetime(datetime(2026, 1, 1))
