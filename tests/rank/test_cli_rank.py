"""`digest rank`: the file-in, jsonl-out contract, and its errors (no database involved)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from digest.cli.rank import load_papers
from digest.rank import semantic
from tests.conftest import FIXTURES
from tests.helpers import run_cli

POOL = FIXTURES / "rank_pool.jsonl.gz"
HISTORY = FIXTURES / "rank_history.jsonl.gz"


def pool_ids() -> list[str]:
    with gzip.open(POOL, "rt") as fh:
        return [json.loads(line)["id"] for line in fh]


def history_ids() -> list[str]:
    with gzip.open(HISTORY, "rt") as fh:
        return [json.loads(line)["id"] for line in fh]


@pytest.fixture
def profiles(tmp_path: Path) -> Path:
    path = tmp_path / "profiles.json"
    path.write_text(
        json.dumps(
            [
                {"id": "objects", "topics": ["object detection"], "exclude": ["medical"]},
                {"id": 7},
                {"id": "fan", "liked": history_ids()[:2], "disliked": ["0000.00000"]},
                {"id": "lang", "topics": ["large language models"], "categories": ["cs.CL"]},
            ]
        )
    )
    return path


def test_jsonl_one_line_per_profile_in_order(capsys, profiles: Path) -> None:
    result = run_cli(
        capsys,
        "rank",
        "--pool", str(POOL),
        "--profiles", str(profiles),
        "--history", str(HISTORY),
        "--top", "5",
        "--no-semantic",
    )  # fmt: skip
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert [line["profile"] for line in lines] == ["objects", "7", "fan", "lang"]
    known = set(pool_ids())
    for line in lines:
        assert set(line) == {"profile", "ranked"}
        assert 1 <= len(line["ranked"]) <= 5
        for item in line["ranked"]:
            assert set(item) == {"id", "score", "why", "shown", "match"}
            assert item["id"] in known and item["why"]
            assert isinstance(item["shown"], bool) and 0 <= item["match"] <= 1
        scores = [item["score"] for item in line["ranked"]]
        assert scores == sorted(scores, reverse=True)
    assert all("object detection" in i["why"] for i in lines[0]["ranked"])
    assert all("set your interests" in i["why"] for i in lines[1]["ranked"])
    # A new reader's picks without trending figures are ranked but not mailed.
    assert not any(i["shown"] for i in lines[1]["ranked"])
    assert all("which you liked" in i["why"] for i in lines[2]["ranked"])


def test_table_format(capsys, monkeypatch, profiles: Path) -> None:
    args = ("rank", "--pool", str(POOL), "--profiles", str(profiles), "--no-semantic")
    best = json.loads(run_cli(capsys, *args, "--top", "1").out.splitlines()[0])["ranked"][0]
    title = next(p.title for p in load_papers(POOL, "--pool") if p.id == best["id"])
    monkeypatch.setenv("COLUMNS", "400")  # one line per row: the title is not folded
    result = run_cli(capsys, *args, "--format", "table", "--top", "2")
    assert result.code == 0, result.err
    assert "object detection" in result.out and "profile" in result.out
    assert title in result.out


def test_empty_pool_gives_empty_lists(capsys, tmp_path: Path, profiles: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = run_cli(capsys, "rank", "--pool", str(empty), "--profiles", str(profiles))
    assert result.code == 0, result.err
    assert [json.loads(x)["ranked"] for x in result.out.splitlines()] == [[], [], [], []]


def test_bad_pool_lines_are_reported_and_skipped(capsys, tmp_path: Path, profiles: Path) -> None:
    pool = tmp_path / "pool.jsonl"
    good = {"id": "2501.00001", "title": "Object detection with transformers", "abstract": "x"}
    pool.write_text("{not json\n" + json.dumps(good) + "\n" + json.dumps({"id": "x"}) + "\n")
    result = run_cli(
        capsys, "rank", "--pool", str(pool), "--profiles", str(profiles), "--no-semantic"
    )
    assert result.code == 0
    assert ":1: not valid JSON" in result.err and ":3: missing title" in result.err
    assert json.loads(result.out.splitlines()[0])["ranked"][0]["id"] == "2501.00001"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{}", "must hold a JSON list"),
        ("[1]", "entry 1: expected an object"),
        ('[{"topics": ["x"]}]', "'id' must be a string"),
        ('[{"id": "a", "topics": "x", "liked": [3]}]', "'liked' must be a list of strings"),
        ('[{"id": "a", "colour": "red"}]', "unknown key(s) colour"),
        ('[{"id": "a", "category_mode": "maybe"}]', "'category_mode' must be one of"),
        ('[{"id": "a", "feedback": [{"id": "p", "kind": "meh"}]}]', "feedback 'kind'"),
        ("[{", "is not valid JSON"),
    ],
)
def test_bad_profiles_are_clear_errors(capsys, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(content)
    result = run_cli(capsys, "rank", "--pool", str(POOL), "--profiles", str(path))
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err and result.out == ""


def test_missing_files(capsys, tmp_path: Path, profiles: Path) -> None:
    result = run_cli(
        capsys, "rank", "--pool", str(tmp_path / "nope.jsonl"), "--profiles", str(profiles)
    )
    assert result.code == 2 and "no such file" in result.err
    result = run_cli(capsys, "rank", "--pool", str(POOL), "--profiles", str(tmp_path / "nope.json"))
    assert result.code == 2 and "no such file" in result.err


def test_bad_top(capsys, profiles: Path) -> None:
    result = run_cli(capsys, "rank", "--pool", str(POOL), "--profiles", str(profiles), "--top", "0")
    assert result.code == 2 and "--top" in result.err


def test_semantic_without_the_extra_is_a_clear_error(capsys, monkeypatch, profiles: Path) -> None:
    # The extra may be installed here: hide it the way a default install would look.
    monkeypatch.setattr(semantic, "available", lambda: False)
    result = run_cli(capsys, "rank", "--pool", str(POOL), "--profiles", str(profiles), "--semantic")
    assert result.code == 2
    assert "pip install 'digest[semantic]'" in result.err


def test_bad_option_value_is_a_usage_error_not_a_traceback(capsys, profiles: Path) -> None:
    result = run_cli(
        capsys, "rank", "--pool", str(POOL), "--profiles", str(profiles), "--format", "xml"
    )
    assert result.code == 2
    assert "'xml' is not one of" in result.err and "Traceback" not in result.err
