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
        "new": 2, "updated": 0, "unchanged": 0, "rejected": 3, "warnings": 1, "embedded": embedded
    }  # fmt: skip
    for number in (2, 3, 4):
        assert f"papers.jsonl.gz:{number}:" in result.err
    assert "papers.jsonl.gz:5: warning: no id: stored under its title (title:" in result.err

    again = run_cli(capsys, "ingest", "jsonl", str(path), "--json")
    assert again.json() == {
        "new": 0, "updated": 0, "unchanged": 2, "rejected": 3, "warnings": 0, "embedded": 0
    }  # fmt: skip

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
    assert merged.json() == {
        "new": 0, "updated": 1, "unchanged": 0, "rejected": 0, "warnings": 0, "embedded": 0
    }  # fmt: skip

    from digest.db import Database
    from digest.db.papers import papers_by_ids

    db = Database(db_url)
    with db.session() as session:
        papers = papers_by_ids(session, ["2505.00001"])
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


def _stored(db_url: str) -> list[tuple]:  # type: ignore[type-arg]
    from sqlalchemy import text

    from digest.db import Database

    db = Database(db_url)
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.id, p.title, p.abstract, p.version, p.updated_at, s.content_hash "
                "FROM papers p JOIN paper_sightings s ON s.paper_id = p.id ORDER BY p.id"
            )
        ).all()
    db.dispose()
    return [tuple(r) for r in rows]


def test_rerun_of_the_same_file_is_a_no_op_with_the_same_counts(
    digest_env, db_url, monkeypatch, capsys, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Duplicates of one paper are judged over the whole file, the first run and every
    rerun alike: a line rejected as a duplicate is never merged later."""
    monkeypatch.setenv("DIGEST_DATABASE_URL", db_url)
    assert run_cli(capsys, "db", "upgrade").code == 0

    def paper(pid: str, abstract: str) -> str:
        return json.dumps({"id": pid, "title": f"Paper {pid[:10]}", "abstract": abstract})

    lines = [
        paper("2505.00001", "First words."),  # 1: kept
        paper("2505.00002", "Other paper."),  # 2: kept
        paper("2505.00001", "Second words."),  # 3: duplicate of 1 (same version)
        paper("2505.00002", "Other paper."),  # 4: the same bytes as 2
        paper("2505.00003v1", "Old version."),  # 5: duplicate of 6 (lower version)
        paper("2505.00003v2", "New version."),  # 6: kept
    ]
    path = tmp_path / "papers.jsonl"
    path.write_text("\n".join(lines) + "\n")
    expected_err = [
        f"{path}:3: duplicate of item 1 (2505.00001)",
        f"{path}:4: duplicate of item 2 (2505.00002)",
        f"{path}:5: duplicate of item 6 (2505.00003)",
    ]
    first = run_cli(capsys, "ingest", "jsonl", str(path), "--json")
    assert first.json() == {
        "new": 3,
        "updated": 0,
        "unchanged": 0,
        "rejected": 3,
        "warnings": 0,
        "embedded": 0,
    }
    assert [line for line in first.err.splitlines() if line] == expected_err
    stored = _stored(db_url)
    assert [(r[0], r[2]) for r in stored] == [
        ("2505.00001", "First words."),
        ("2505.00002", "Other paper."),
        ("2505.00003", "New version."),
    ]
    for _ in range(2):
        again = run_cli(capsys, "ingest", "jsonl", str(path), "--json")
        assert again.json() == {
            "new": 0, "updated": 0, "unchanged": 3, "rejected": 3, "warnings": 0, "embedded": 0
        }  # fmt: skip
        assert [line for line in again.err.splitlines() if line] == expected_err
        assert _stored(db_url) == stored

    # A newer version added to the file still wins over the line stored before.
    path.write_text("\n".join([*lines, paper("2505.00001v3", "Third words.")]) + "\n")
    newer = run_cli(capsys, "ingest", "jsonl", str(path), "--json")
    assert newer.json() == {
        "new": 0, "updated": 1, "unchanged": 2, "rejected": 4, "warnings": 0, "embedded": 0
    }  # fmt: skip
    assert "papers.jsonl:1: duplicate of item 7 (2505.00001)" in newer.err
    assert dict((r[0], r[2]) for r in _stored(db_url))["2505.00001"] == "Third words."


def test_replaced_utf8_and_title_keys_are_warned_with_their_line(
    digest_env, db_url, monkeypatch, capsys, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", db_url)
    assert run_cli(capsys, "db", "upgrade").code == 0
    path = tmp_path / "papers.jsonl"
    path.write_bytes(
        b'{"id": "2505.00001", "title": "Clean", "abstract": "x"}\n'
        b'{"id": "2505.00002", "title": "Caf\xe9 au lait", "abstract": "x"}\n'
        b'{"title": "No id at all", "abstract": "x"}\n'
        b'{"id": "local-42", "title": "An id of no known kind", "abstract": "x"}\n'
    )
    result = run_cli(capsys, "ingest", "jsonl", str(path), "--json")
    assert result.code == 0, result.err
    assert result.json()["new"] == 4 and result.json()["warnings"] == 3
    warned = [line for line in result.err.splitlines() if ": warning: " in line]
    assert warned == [
        f"{path}:2: warning: invalid UTF-8 at byte 35 replaced with U+FFFD",
        warned[1],
        warned[2],
    ]
    assert warned[1].startswith(f"{path}:3: warning: no id: stored under its title (title:")
    assert warned[2].startswith(
        f"{path}:4: warning: no arXiv id or DOI in 'local-42': stored under its title (title:"
    )
    shown = run_cli(capsys, "papers", "show", "2505.00002", "--json")
    assert "Caf\ufffd au lait" in shown.out
