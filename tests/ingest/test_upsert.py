"""Paper storage on SQLite and PostgreSQL: merge rules, counts, idempotence, migration."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from alembic import command
from sqlalchemy import inspect, select

from digest.db.engine import Database
from digest.db.models import PaperRow, PaperSightingRow
from digest.db.papers import (
    UpsertCounts,
    count_papers,
    get_paper_row,
    known_hashes,
    list_papers,
    papers_seen_since,
    upsert_papers,
)
from digest.domain import Paper
from digest.ingest.upsert import PAPER_COLUMNS

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


def paper(pid: str = "2501.00001", **kw: object) -> Paper:
    base: dict[str, object] = {"id": pid, "title": f"Paper {pid}", "source": "a"}
    base.update(kw)
    return Paper(**base)  # type: ignore[arg-type]


def upsert(db: Database, papers: list[Paper], now: datetime = NOW) -> UpsertCounts:
    with db.session() as session:
        return upsert_papers(session, papers, now)


def row(db: Database, pid: str) -> PaperRow:
    with db.session() as session:
        found = session.get(PaperRow, pid)
        assert found is not None
        return found


def test_new_updated_unchanged_counts_and_idempotence(db: Database) -> None:
    batch = [paper(f"2501.{i:05d}", categories=("cs.LG",), upvotes=i) for i in range(1, 2600)]
    first = upsert(db, batch)
    assert (first.new, first.updated, first.unchanged) == (2599, 0, 0)
    again = upsert(db, batch, NOW + timedelta(hours=1))
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2599)
    changed = [paper("2501.00001", categories=("cs.LG",), upvotes=50), *batch[1:]]
    third = upsert(db, changed, NOW + timedelta(hours=2))
    assert (third.new, third.updated, third.unchanged) == (0, 1, 2598)
    with db.session() as session:
        assert count_papers(session) == 2599
        # the bulk writers store times exactly as the ORM does: window queries still work
        assert len(papers_seen_since(session, NOW - timedelta(seconds=1))) == 2599
        assert papers_seen_since(session, NOW + timedelta(microseconds=1)) == []
    stored = row(db, "2501.00001")
    assert stored.upvotes == 50
    assert stored.first_seen_at == NOW and stored.updated_at == NOW + timedelta(hours=2)
    assert row(db, "2501.00002").updated_at == NOW


def test_same_paper_from_several_sources_merges(db: Database) -> None:
    arxiv = paper(
        categories=("cs.LG",),
        links={"abs": "https://arxiv.org/abs/2501.00001"},
        source="arxiv",
        version=1,
        published=date(2025, 1, 2),
        authors=("A. Author",),
    )
    hf = paper(
        categories=("cs.CL",),
        links={"github": "https://github.com/x/y"},
        upvotes=7,
        github_stars=3,
        source="hf",
        featured_on=date(2025, 1, 5),
        keywords=("llm",),
    )
    assert upsert(db, [arxiv]).new == 1
    assert upsert(db, [hf], NOW + timedelta(days=1)).updated == 1
    newer = paper(title="Paper v2", version=2, source="arxiv", categories=("cs.LG",))
    hf_later = paper(upvotes=30, source="hf", categories=("cs.CL",))
    counts = upsert(db, [newer, hf_later], NOW + timedelta(days=2))
    assert (counts.new, counts.updated, counts.unchanged) == (0, 1, 0)  # one paper, counted once
    stored = row(db, "2501.00001")
    assert stored.title == "Paper v2" and stored.version == 2
    assert stored.categories == ["cs.LG", "cs.CL"]
    assert stored.links == {
        "abs": "https://arxiv.org/abs/2501.00001",
        "github": "https://github.com/x/y",
    }
    assert stored.upvotes == 30 and stored.github_stars == 3
    assert stored.sources == ["arxiv", "hf"]
    assert stored.published_on == date(2025, 1, 2) and stored.featured_on == date(2025, 1, 5)
    assert stored.keywords == ["llm"] and stored.authors == ["A. Author"]
    assert stored.first_seen_at == NOW
    with db.session() as session:
        sightings = session.scalars(select(PaperSightingRow).order_by(PaperSightingRow.source))
        assert [(s.source, s.first_seen_at) for s in sightings] == [
            ("arxiv", NOW),
            ("hf", NOW + timedelta(days=1)),
        ]
    # an older version arriving late does not overwrite the newer text
    upsert(db, [paper(title="Paper v1", version=1, source="arxiv")], NOW + timedelta(days=3))
    assert row(db, "2501.00001").title == "Paper v2"


def test_duplicates_within_one_batch_are_one_paper(db: Database) -> None:
    counts = upsert(db, [paper(upvotes=1), paper(upvotes=2), paper("2501.00002")])
    assert (counts.new, counts.updated, counts.unchanged) == (2, 0, 0)
    assert row(db, "2501.00001").upvotes == 2


def test_a_deleted_paper_comes_back(db: Database) -> None:
    upsert(db, [paper()])
    with db.session() as session:
        session.delete(session.get(PaperRow, "2501.00001"))
    assert upsert(db, [paper()]).new == 1  # its sighting went with it (ON DELETE CASCADE)


def test_known_hashes(db: Database) -> None:
    with db.session() as session:
        upsert_papers(session, [paper(), paper("2501.00002")], NOW, hashes=["h1", "h2"])
    with db.session() as session:
        assert known_hashes(session, "a", ["h1", "h3", "h2"]) == {"h1", "h2"}
        assert known_hashes(session, "b", ["h1"]) == set()


def test_list_and_get_papers(db: Database) -> None:
    speech = paper("2501.00002", title="Speech models", abstract="About diffusion_x")
    upsert(
        db,
        [
            paper("2501.00001", title="Diffusion for 100% of cases", announced=date(2025, 1, 1)),
            replace(speech, announced=date(2025, 2, 1)),
            paper("2501.00003", title="Other", published=date(2025, 3, 1)),
        ],
    )
    with db.session() as session:
        assert [p.id for p in list_papers(session)] == [
            "2501.00003",
            "2501.00002",
            "2501.00001",
        ]
        assert [p.id for p in list_papers(session, since=date(2025, 1, 15))] == [
            "2501.00003",
            "2501.00002",
        ]
        assert [p.id for p in list_papers(session, query="DIFFUSION")] == [
            "2501.00002",
            "2501.00001",
        ]
        assert [p.id for p in list_papers(session, query="100%")] == ["2501.00001"]
        assert [p.id for p in list_papers(session, query="diffusion_")] == ["2501.00002"]
        assert get_paper_row(session, "2501.00002").title == "Speech models"


def test_migration_up_and_down(db_url: str) -> None:
    database = Database(db_url)
    database.upgrade()
    tables = set(inspect(database.engine).get_table_names())
    assert {"sources", "paper_sightings"} <= tables
    columns = {c["name"] for c in inspect(database.engine).get_columns("papers")}
    assert {"doi", "version", "featured_on", "keywords", "affiliations"} <= columns
    cfg = database._alembic_config()
    with database.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    database.engine.dispose()
    assert "sources" not in set(inspect(database.engine).get_table_names())
    database.upgrade()
    assert database.current_revision() == database.head_revision()
    database.dispose()


def test_a_paper_inserted_meanwhile_is_not_overwritten(db: Database) -> None:
    """The race path: a row believed new already exists (another ingest won)."""
    from digest.db import bulk
    from digest.ingest.merge import new_row

    upsert(db, [paper(title="first writer")])
    later = NOW + timedelta(seconds=1)  # the second writer's own clock
    row = {**new_row(paper(title="second writer", source="b")), "first_seen_at": later}
    row["updated_at"] = later
    sighting = {"paper_id": row["id"], "source": "b", "content_hash": "h",
                "first_seen_at": NOW, "updated_at": NOW}  # fmt: skip
    with db.session() as session:
        conn = session.connection()
        if conn.dialect.name == "postgresql":
            columns = (*PAPER_COLUMNS, "first_seen_at", "updated_at")
            lost = bulk.write_papers_pg(conn, columns, [row], [], [sighting], fresh_sightings=True)
        else:
            columns = (*PAPER_COLUMNS, "first_seen_at", "updated_at")
            lost = bulk.write_papers_sqlite(
                conn, PaperRow.__table__, columns, [row], [], PaperSightingRow.__table__,
                [sighting],
            )  # fmt: skip
    assert lost == {"2501.00001"}
    assert row_title(db) == "first writer"
    with db.session() as session:
        assert known_hashes(session, "b", ["h"]) == set()  # merged again next time
    assert upsert(db, [paper(title="second writer", source="b")]).updated == 1


def row_title(db: Database) -> str:
    return row(db, "2501.00001").title


def test_json_columns_what_orjson_refuses_is_written_by_json() -> None:
    """A lone surrogate (from a broken escape) cannot be UTF-8: orjson refuses it, and the
    standard library writes it as an ASCII escape, which reads back to the same value."""
    import json

    from digest.db.bulk import to_json

    assert to_json(["Zoë", "Ada"]) == '["Zoë","Ada"]'  # orjson: compact UTF-8
    broken = ["Zoë \ud800", "Ada"]
    assert to_json(broken) == '["Zo\\u00eb \\ud800", "Ada"]'
    assert json.loads(to_json(broken)) == broken
    assert (to_json([]), to_json({})) == ("[]", "{}")
