"""`digest subscribers ...` against real SQLite and PostgreSQL databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli


@pytest.fixture
def env(digest_env, db_url, monkeypatch, capsys):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", db_url)
    assert run_cli(capsys, "db", "upgrade").code == 0
    return digest_env


def test_add_show_update_list_remove(env, capsys) -> None:  # type: ignore[no-untyped-def]
    added = run_cli(
        capsys,
        "subscribers",
        "add",
        "Jane@Example.org",
        "--name",
        "Jane",
        "--topic",
        "continual learning",
        "--topic",
        "hopfield networks",
        "--exclude",
        "survey",
        "--author",
        "Sepp Hochreiter",
        "--category",
        "cs.LG",
        "--frequency",
        "weekly",
        "--weekday",
        "fri",
        "--hour",
        "6",
        "--tz",
        "Europe/Berlin",
        "--json",
    )
    assert added.code == 0, added.err
    shown = run_cli(capsys, "subscribers", "show", "jane@EXAMPLE.org", "--json").json()
    assert shown["email"] == "Jane@example.org"
    assert shown["topics"] == ["continual learning", "hopfield networks"]
    assert (shown["frequency"], shown["weekday"], shown["delivery_hour"], shown["timezone"]) == (
        "weekly",
        4,
        6,
        "Europe/Berlin",
    )

    updated = run_cli(
        capsys,
        "subscribers",
        "update",
        "jane@example.org",
        "--topic",
        "world models",
        "--clear",
        "exclude",
        "--status",
        "paused",
        "--weekday",
        "Sunday",
    )
    assert updated.code == 0, updated.err
    shown = run_cli(capsys, "subscribers", "show", "jane@example.org", "--json").json()
    assert shown["topics"] == ["world models"]
    assert (shown["frequency"], shown["weekday"]) == ("weekly", 6)  # the rest is kept
    assert shown["exclude"] == []
    assert shown["authors"] == ["Sepp Hochreiter"]
    assert shown["status"] == "paused"

    run_cli(capsys, "subscribers", "add", "bob@example.org")
    assert [s["email"] for s in run_cli(capsys, "subscribers", "list", "--json").json()] == [
        "Jane@example.org",
        "bob@example.org",
    ]
    assert [
        s["email"]
        for s in run_cli(capsys, "subscribers", "list", "--status", "paused", "--json").json()
    ] == ["Jane@example.org"]
    table = run_cli(capsys, "subscribers", "list")
    assert "bob@example.org" in table.out and "2 subscriber(s)" in table.out

    refused = run_cli(capsys, "subscribers", "remove", "bob@example.org")
    assert refused.code != 0 and "--yes" in refused.err
    assert run_cli(capsys, "subscribers", "remove", "bob@example.org", "--yes").code == 0
    missing = run_cli(capsys, "subscribers", "show", "bob@example.org")
    assert missing.code == 3 and "no subscriber" in missing.err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["not-an-email"], "invalid email"),
        (["a@example.org", "--name", "Eve\r\nBcc: x@evil.org"], "line breaks"),
        (["a@example.org", "--topic", "ok\nBcc: x@evil.org"], "line breaks"),
        (["a@example.org", "--tz", "Mars/Olympus"], "unknown timezone"),
        (["a@example.org", "--hour", "24"], "between 0 and 23"),
        (["a@example.org", "--frequency", "hourly"], "frequency"),
        (["a@example.org", "--weekday", "someday"], "weekday must be a day's name"),
        (["a@example.org", "--weekday", "7"], "weekday must be a day's name"),
        (["a@example.org", "--greeting-name", "x" * 61], "greeting name must be at most 60"),
        (["a@example.org", "--greeting-name", "Ada\nBcc: x@evil.org"], "greeting name must be one"),
    ],
)
def test_bad_input_is_refused_and_nothing_written(env, capsys, args, needle) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(capsys, "subscribers", "add", *args)
    assert result.code == 2
    assert needle in result.err
    assert "Traceback" not in result.err
    assert run_cli(capsys, "subscribers", "list", "--json").json() == []


def test_greeting_name_is_added_updated_and_cleared(env, capsys) -> None:  # type: ignore[no-untyped-def]
    def shown() -> object:
        return run_cli(capsys, "subscribers", "show", "ada@example.org", "--json").json()

    added = run_cli(
        capsys, "subscribers", "add", "ada@example.org", "--name", "Augusta Ada King",
        "--greeting-name", "  Ada  ",
    )  # fmt: skip
    assert added.code == 0, added.err
    assert shown()["greeting_name"] == "Ada"
    run_cli(capsys, "subscribers", "update", "ada@example.org", "--hour", "9")
    assert shown()["greeting_name"] == "Ada"  # kept when not given
    changed = run_cli(
        capsys, "subscribers", "update", "ada@example.org", "--greeting-name", "Countess"
    )
    assert changed.code == 0, changed.err
    assert shown()["greeting_name"] == "Countess"
    bad = run_cli(capsys, "subscribers", "update", "ada@example.org", "--greeting-name", "x" * 61)
    assert bad.code == 2 and "greeting name must be at most 60 characters" in bad.err
    assert shown()["greeting_name"] == "Countess"
    cleared = run_cli(capsys, "subscribers", "update", "ada@example.org", "--greeting-name", "")
    assert cleared.code == 0, cleared.err
    assert shown()["greeting_name"] is None  # the greeting derives "Augusta" again
    assert shown()["name"] == "Augusta Ada King"


def test_duplicate_email_differing_in_case(env, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run_cli(capsys, "subscribers", "add", "jane@example.org").code == 0
    again = run_cli(capsys, "subscribers", "add", "JANE@Example.ORG")
    assert again.code == 2 and "already exists" in again.err
    assert len(run_cli(capsys, "subscribers", "list", "--json").json()) == 1


def test_import_is_all_or_nothing_and_reports_every_bad_row(env, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_file = tmp_path / "subs.csv"
    csv_file.write_text(
        "email,name,topics,delivery_hour,timezone\n"
        "one@example.org,One,graph neural networks;llm agents,7,UTC\n"
        "bad-address,Two,,7,UTC\n"
        "three@example.org,Three,,25,UTC\n"
        "four@example.org,Four,,7,Nowhere/City\n"
        "ONE@example.org,Dup,,7,UTC\n"
        "five@example.org,Five,,8,Asia/Tokyo\n"
    )
    result = run_cli(capsys, "subscribers", "import", str(csv_file))
    assert result.code == 2
    for line in (3, 4, 5, 6):
        assert f"subs.csv:line {line}:" in result.err
    assert "nothing imported" in result.err
    assert run_cli(capsys, "subscribers", "list", "--json").json() == []

    partial = run_cli(capsys, "subscribers", "import", str(csv_file), "--skip-invalid", "--json")
    assert partial.code == 1  # loaded, but said that rows were rejected
    assert partial.json() == {"added": 2, "updated": 0, "rejected": 4}
    emails = [s["email"] for s in run_cli(capsys, "subscribers", "list", "--json").json()]
    assert emails == ["one@example.org", "five@example.org"]


def test_import_refuses_existing_unless_update(env, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run_cli(capsys, "subscribers", "add", "one@example.org", "--topic", "old")
    jsonl = tmp_path / "subs.jsonl"
    jsonl.write_text(
        '{"email": "One@example.org", "topics": ["new"]}\n{"email": "two@example.org"}\n'
    )
    refused = run_cli(capsys, "subscribers", "import", str(jsonl))
    assert refused.code == 2 and "already exists" in refused.err
    assert len(run_cli(capsys, "subscribers", "list", "--json").json()) == 1
    ok = run_cli(capsys, "subscribers", "import", str(jsonl), "--update", "--json")
    assert ok.json() == {"added": 1, "updated": 1, "rejected": 0}
    assert run_cli(capsys, "subscribers", "show", "one@example.org", "--json").json()["topics"] == [
        "new"
    ]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_round_trips_with_import(env, capsys, monkeypatch, tmp_path: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    run_cli(
        capsys,
        "subscribers",
        "add",
        "a@example.org",
        "--name",
        'Zoë "Z", Jr.',
        "--greeting-name",
        'Zo, "Z"',
        "--topic",
        "x;y",
        "--topic",
        "LLM agents",
        "--author",
        "Doe, Jane",
        "--liked",
        "2501.01234",
        "--tz",
        "America/New_York",
        "--hour",
        "0",
    )
    run_cli(
        capsys,
        "subscribers",
        "add",
        "b@example.org",
        "--status",
        "paused",
        "--frequency",
        "weekly",
        "--weekday",
        "wednesday",
    )
    before = run_cli(capsys, "subscribers", "list", "--json").json()
    assert [s["weekday"] for s in before] == [0, 2]
    assert [s["greeting_name"] for s in before] == ['Zo, "Z"', None]
    out = tmp_path / f"export.{fmt}"
    assert run_cli(capsys, "subscribers", "export", "--format", fmt, "-o", str(out)).code == 0
    header = out.read_text().splitlines()[0]
    if fmt == "csv":
        assert "weekday" in header and "greeting_name" in header.split(",")
    else:
        assert '"greeting_name": "Zo, \\"Z\\""' in header

    monkeypatch.setenv("DIGEST_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    imported = run_cli(capsys, "subscribers", "import", str(out), "--json")
    assert imported.code == 0, imported.err
    assert run_cli(capsys, "subscribers", "list", "--json").json() == before


def test_import_of_unreadable_files(env, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = run_cli(capsys, "subscribers", "import", str(tmp_path / "nope.csv"))
    assert missing.code == 2 and "no such file" in missing.err
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"email\n\xff\xfe\x00garbage\n")
    result = run_cli(capsys, "subscribers", "import", str(binary))
    assert result.code == 2 and "not UTF-8" in result.err
    unknown = tmp_path / "subs.xlsx"
    unknown.write_text("x")
    result = run_cli(capsys, "subscribers", "import", str(unknown))
    assert result.code == 2 and "--format" in result.err


def test_import_reads_the_weekday_by_name_or_number(env, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_file = tmp_path / "subs.csv"
    csv_file.write_text(
        "email,frequency,weekday\n"
        "mon@example.org,weekly,\n"  # none given: Monday
        "fri@example.org,weekly,Fri\n"
        "sun@example.org,weekly,6\n"
        "bad@example.org,weekly,someday\n"
    )
    refused = run_cli(capsys, "subscribers", "import", str(csv_file))
    assert refused.code == 2 and "line 5: weekday must be a day's name" in refused.err
    assert run_cli(capsys, "subscribers", "import", str(csv_file), "--skip-invalid").code == 1
    jsonl = tmp_path / "subs.jsonl"
    jsonl.write_text('{"email": "wed@example.org", "frequency": "weekly", "weekday": "wed"}\n')
    assert run_cli(capsys, "subscribers", "import", str(jsonl)).code == 0
    listed = run_cli(capsys, "subscribers", "list", "--json").json()
    assert {s["email"]: s["weekday"] for s in listed} == {
        "mon@example.org": 0,
        "fri@example.org": 4,
        "sun@example.org": 6,
        "wed@example.org": 2,
    }
