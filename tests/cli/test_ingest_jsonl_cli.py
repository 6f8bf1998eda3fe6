"""`digest ingest jsonl`: good lines stored, bad lines reported with their numbers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from digest.rank import semantic
from tests.helpers import run_cli


def test_ingest_reports_bad_lines_and_keeps_good_ones(
    digest_env, db_url, monkeypatch, capsys, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", db_url)
    assert run_cli(capsys, "db", "upgrade").code == 0
    lines = [
        json.dumps(
            {
                "id": "2505.00001v2",
                "title": "A <b>bold</b> &amp; clean   title",
                "abstract": "Text.",
                "authors": ["A. One"],
                "categories": ["cs.LG"],
                "day": "2025-05-30",
            }
        ),
        "{broken json",
        json.dumps({"id": "2505.00002", "abstract": "no title"}),
        json.dumps({"id": "2505.00003", "title": "Bad date", "day": "30/05/2025"}),
        json.dumps({"title": "Known only by title", "abstract": "x"}),
    ]
    path = tmp_path / "papers.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    result = run_cli(capsys, "ingest", "jsonl", str(path), "--json")
    assert result.code == 1  # stored the good lines, and said some were bad
    embedded = 2 if semantic.available() else 0  # the ingest hook embeds what is new
    assert result.json() == {
        "new": 2, "updated": 0, "unchanged": 0, "rejected": 3, "embedded": embedded
    }  # fmt: skip
    for number in (2, 3, 4):
        assert f"papers.jsonl.gz:{number}:" in result.err

    again = run_cli(capsys, "ingest", "jsonl", str(path), "--json")
    assert again.json() == {"new": 0, "updated": 0, "unchanged": 2, "rejected": 3, "embedded": 0}

    newer = tmp_path / "newer.jsonl"
    newer.write_text(
        json.dumps(
            {
                "id": "arXiv:2505.00001v3",
                "title": "A bold & clean title",
                "abstract": "Text.",
                "categories": ["cs.AI"],
            }
        )
        + "\n"
    )
    merged = run_cli(capsys, "ingest", "jsonl", str(newer), "--json")
    assert merged.code == 0
    assert merged.json() == {"new": 0, "updated": 1, "unchanged": 0, "rejected": 0, "embedded": 0}

    from digest.db import Database, repo

    db = Database(db_url)
    with db.session() as session:
        papers = repo.papers_by_ids(session, ["2505.00001"])
    paper = papers["2505.00001"]  # v2 and v3 are one paper; categories merged
    assert paper.title == "A bold & clean title"
    assert set(paper.categories) == {"cs.LG", "cs.AI"}
    db.dispose()


def test_ingest_missing_or_corrupt_file(digest_env, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = run_cli(capsys, "ingest", "jsonl", str(tmp_path / "nope.jsonl"))
    assert missing.code == 2 and "no such file" in missing.err
    corrupt = tmp_path / "bad.jsonl.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00garbage")
    result = run_cli(capsys, "ingest", "jsonl", str(corrupt))
    assert result.code == 2 and "cannot read" in result.err and "Traceback" not in result.err
