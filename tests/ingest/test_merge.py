"""Merging one paper from several sources and versions into one row: pure rules."""

from __future__ import annotations

from datetime import date

from digest.domain import Paper
from digest.ingest.merge import merge_row, new_row, record_hash, same_content


def paper(**kw: object) -> Paper:
    base: dict[str, object] = {"id": "2501.01234", "title": "T", "source": "a"}
    base.update(kw)
    return Paper(**base)  # type: ignore[arg-type]


def test_union_of_categories_links_sources_and_latest_signals() -> None:
    row = new_row(paper(categories=("cs.LG",), links={"abs": "A"}, upvotes=3, source="arxiv"))
    merged = merge_row(
        row,
        paper(categories=("cs.CL", "cs.LG"), links={"github": "G"}, upvotes=9, source="hf"),
    )
    assert merged["categories"] == ["cs.LG", "cs.CL"]
    assert merged["links"] == {"abs": "A", "github": "G"}
    assert merged["sources"] == ["arxiv", "hf"]
    assert merged["upvotes"] == 9
    again = merge_row(merged, paper(upvotes=None, source="arxiv"))
    assert again["upvotes"] == 9  # a source without the signal does not erase it


def test_earliest_dates_and_newest_version_text() -> None:
    row = new_row(paper(title="v2 title", version=2, published=date(2025, 1, 2)))
    older = merge_row(row, paper(title="v1 title", version=1, published=date(2025, 1, 1)))
    assert older["title"] == "v2 title" and older["version"] == 2
    assert older["published_on"] == date(2025, 1, 1)
    newer = merge_row(row, paper(title="v3 title", abstract="new", version=3))
    assert newer["title"] == "v3 title" and newer["abstract"] == "new" and newer["version"] == 3
    later = merge_row(row, paper(announced=date(2025, 2, 1)))
    assert merge_row(later, paper(announced=date(2025, 3, 1)))["announced_on"] == date(2025, 2, 1)


def test_same_record_changes_nothing() -> None:
    record = paper(categories=("cs.LG",), upvotes=1, links={"abs": "x"}, keywords=("k",))
    row = new_row(record)
    assert same_content(merge_row(row, record), row)
    assert not same_content(merge_row(row, paper(upvotes=2)), row)


def test_record_hash_sees_every_field() -> None:
    record = paper(upvotes=1)
    assert record_hash(record) == record_hash(paper(upvotes=1))
    assert record_hash(record) != record_hash(paper(upvotes=2))
    assert record_hash(record) != record_hash(paper(upvotes=1, links={"x": "y"}))


def test_a_new_row_holds_the_papers_tuples_and_compares_equal_to_lists() -> None:
    """new_row keeps the paper's tuples (nothing for the garbage collector to track); rows
    read back from the database hold lists; both are the same content, and JSON."""
    from digest.db.bulk import to_json

    record = paper(authors=("A", "B"), categories=("cs.LG",), keywords=(), source="arxiv")
    row = new_row(record)
    assert row["authors"] is record.authors and row["sources"] == ("arxiv",)
    stored = {**row, "authors": ["A", "B"], "categories": ["cs.LG"], "keywords": [],
              "affiliations": [], "sources": ["arxiv"]}  # fmt: skip
    assert same_content(row, stored) and same_content(stored, row)
    assert not same_content(row, {**stored, "authors": ["B", "A"]})
    merged = merge_row(row, paper(categories=("cs.AI",), source="hf"))
    assert merged["categories"] == ["cs.LG", "cs.AI"] and merged["sources"] == ["arxiv", "hf"]
    assert [to_json(row[c]) for c in ("authors", "keywords", "sources")] == [
        '["A","B"]',
        "[]",
        '["arxiv"]',
    ]
    assert to_json({}) == "{}" and to_json([]) == "[]"
