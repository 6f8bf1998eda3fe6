"""One test per row of the README's exit-code table, each through the real command."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from digest.db import Database, sqlite_reader, subscribers
from tests.helpers import run_cli


@pytest.fixture
def env(digest_env, sqlite_url: str, monkeypatch, capsys):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", sqlite_url)
    assert run_cli(capsys, "db", "upgrade").code == 0
    return sqlite_url


def test_0_success(env, capsys) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(capsys, "subscribers", "list", "--json")
    assert result.code == 0 and result.err == ""


def test_1_partial_failure(env, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "papers.jsonl"
    path.write_text('{"id": "2505.00001", "title": "Good", "abstract": "x"}\n{broken\n')
    result = run_cli(capsys, "ingest", "jsonl", str(path))
    assert result.code == 1 and f"{path}:2: not valid JSON" in result.err


@pytest.mark.parametrize(
    "args",
    [
        ("subscribers", "add", "not-an-address"),  # invalid input
        ("subscribers", "list", "--no-such-option"),  # a usage error
    ],
)
def test_2_invalid_input_or_configuration(env, capsys, args) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(capsys, *args)
    assert result.code == 2 and "Traceback" not in result.err


def test_2_invalid_configuration(env, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", "mysql+nosuchdriver://x")
    result = run_cli(capsys, "subscribers", "list")
    assert result.code == 2 and result.err.startswith("error: ")


def test_3_not_found_run_email_typo(env, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run_cli(capsys, "subscribers", "add", "jane@example.org", "--topic", "x").code == 0
    result = run_cli(capsys, "run", "--email", "jnae@example.org", "--email", "jane@example.org")
    assert result.code == 3
    assert result.err.strip() == "error: no subscriber jnae@example.org"
    assert run_cli(capsys, "subscribers", "show", "nobody@example.org").code == 3


def test_4_database_error(env, capsys) -> None:  # type: ignore[no-untyped-def]
    db = Database(env)
    with db.engine.begin() as conn:  # a schema at the right revision, missing a table
        conn.execute(text("PRAGMA foreign_keys=OFF"))
        conn.execute(text("DROP TABLE subscribers"))
    db.dispose()
    result = run_cli(capsys, "subscribers", "list")
    assert result.code == 4
    assert result.err.startswith("error: database: ") and "subscribers" in result.err
    assert len(result.err.strip().splitlines()) == 1


def _boom(*_args, **_kwargs):  # type: ignore[no-untyped-def]
    raise RuntimeError("boom\nsecond line")


def test_5_unexpected_error_is_one_line_unless_debugging(env, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for path in (sqlite_reader, subscribers):  # a bug, injected in either reading path
        monkeypatch.setattr(path, "list_subscribers", _boom)
    result = run_cli(capsys, "subscribers", "list")
    assert result.code == 5
    assert result.err.strip().splitlines() == [
        "error: unexpected RuntimeError: boom (a bug; --debug or DIGEST_DEBUG=1 shows the "
        "traceback)"
    ]
    with pytest.raises(RuntimeError, match="boom"):  # the traceback is the exception's
        run_cli(capsys, "--debug", "subscribers", "list")
    monkeypatch.setenv("DIGEST_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        run_cli(capsys, "subscribers", "list")
    monkeypatch.delenv("DIGEST_DEBUG")
    assert run_cli(capsys, "subscribers", "list").code == 5  # --debug lasted one run


def test_130_interrupted(env, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def interrupt(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    for path in (sqlite_reader, subscribers):
        monkeypatch.setattr(path, "list_subscribers", interrupt)
    result = run_cli(capsys, "subscribers", "list")
    assert result.code == 130 and "Traceback" not in result.err
