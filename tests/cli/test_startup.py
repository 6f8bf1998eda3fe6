"""The CLI starts at once: a command imports only what it uses.

Each check runs a real `digest` command in a fresh interpreter and looks at the modules it
imported, so re-adding a heavy import at module level anywhere on a command's path (the
ranker's scikit-learn and SciPy, Celery, the renderer's Jinja and MJML, Alembic) fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from digest.cli import COMMANDS, cli
from digest.cli.lazy import load_command
from digest.db.engine import Database

# Run one command as the console script would, then print the top-level packages loaded.
PROBE = """
import json, sys
from digest.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""

# What no command below needs: the ranker, the task queue, the renderer, the web stack.
NEVER = {"sklearn", "scipy", "celery", "jinja2", "mjml", "starlette", "uvicorn", "redis"}


def probe(env: dict[str, str], *args: str) -> set[str]:
    return probe_output(env, *args)[0]


def probe_output(env: dict[str, str], *args: str) -> tuple[set[str], str]:
    """The top-level packages the command loaded, and what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] in (0, None), done.stderr
    return set(result["modules"]), done.stdout


@pytest.fixture
def env(digest_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**digest_env, "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'digest.db'}"}


def test_help_imports_no_command_and_no_database(env: dict[str, str]) -> None:
    loaded = probe(env, "--help")
    heavy = NEVER | {"sqlalchemy", "alembic", "numpy", "httpx", "feedparser", "psycopg"}
    heavy |= {"markdown_it"}  # rich's help formatter: help is click's plain text
    heavy |= {"rich", "pydantic"}  # the consoles are made on first use; typer < 0.29
    assert "typer" in loaded  # the probe really ran the command
    assert not loaded & heavy


def test_subscribers_list_loads_no_ranker_renderer_or_migrations(env: dict[str, str]) -> None:
    probe(env, "subscribers", "add", "ada@example.org", "--topic", "graph neural networks")
    loaded, printed = probe_output(env, "subscribers", "list")
    assert "ada@example.org" in printed and "1 subscriber(s)" in printed
    heavy = NEVER | {"alembic", "numpy", "httpx", "feedparser", "psycopg"}
    heavy |= {"rich", "pydantic", "email_validator"}  # plain columns; nothing is validated
    heavy |= {"sqlalchemy"}  # a current SQLite file is read with sqlite3 alone
    assert not loaded & heavy
    loaded, printed = probe_output(env, "subscribers", "show", "ada@example.org")
    assert "graph neural networks" in printed
    assert not loaded & heavy


def test_subscribers_list_of_a_new_database_creates_it_through_sqlalchemy(
    env: dict[str, str],
) -> None:
    loaded, printed = probe_output(env, "subscribers", "list")
    assert "0 subscriber(s)" in printed
    assert "sqlalchemy" in loaded  # no schema yet: the ORM path made it


def test_ingest_jsonl_loads_no_ranker_or_renderer(env: dict[str, str], tmp_path: Path) -> None:
    probe(env, "db", "upgrade")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    loaded = probe(env, "ingest", "jsonl", str(empty))
    assert not loaded & (NEVER | {"alembic", "sqlalchemy"})


def test_ingest_jsonl_into_sqlite_loads_no_sqlalchemy(env: dict[str, str], tmp_path: Path) -> None:
    """A first load into a new SQLite file (whose schema ``sqlite3`` creates), a re-run
    with a new line and an unchanged re-run (one sqlite3 query) import neither SQLAlchemy
    nor Alembic, nor rich (the summary is plain text); the rows and counts are those of
    the SQLAlchemy path (tests/ingest/test_sqlite_store.py, test_unchanged_rerun.py)."""
    papers = tmp_path / "papers.jsonl"
    papers.write_text(
        "".join(json.dumps({"id": f"2505.0000{n}", "title": f"Paper {n}"}) + "\n" for n in (1, 2))
    )
    heavy = NEVER | {"sqlalchemy", "alembic", "rich", "numpy", "httpx"}
    loaded, printed = probe_output(env, "ingest", "jsonl", str(papers))
    assert "2 new, 0 updated, 0 unchanged" in printed
    assert not loaded & heavy
    loaded, printed = probe_output(env, "ingest", "jsonl", str(papers))
    assert "0 new, 0 updated, 2 unchanged, 0 rejected, 0 warnings, 0 embedded" in printed
    assert not loaded & heavy
    papers.write_text(papers.read_text() + json.dumps({"id": "2505.00003", "title": "P"}))
    loaded, printed = probe_output(env, "ingest", "jsonl", str(papers))
    assert "1 new, 0 updated, 2 unchanged" in printed
    assert not loaded & heavy


def test_ingest_jsonl_into_an_outdated_sqlite_file_upgrades_it_through_alembic(
    env: dict[str, str], tmp_path: Path
) -> None:
    old = Database(env["DIGEST_DATABASE_URL"])
    old.upgrade("0009")
    old.dispose()
    papers = tmp_path / "papers.jsonl"
    papers.write_text(json.dumps({"id": "2505.00001", "title": "Paper"}) + "\n")
    loaded, printed = probe_output(env, "ingest", "jsonl", str(papers))
    assert "1 new, 0 updated, 0 unchanged" in printed
    assert {"sqlalchemy", "alembic"} <= loaded


def test_listed_help_is_each_commands_own() -> None:
    """`digest --help` shows the one-line helps of COMMANDS without importing the commands:
    each must be the first line of the help the command itself has."""
    assert list(COMMANDS) == cli.list_commands(None)  # type: ignore[arg-type]
    for name, entry in COMMANDS.items():
        command = load_command(name, entry)
        assert command is not None, name
        assert (command.help or "").strip().splitlines()[0] == entry.help, name
        assert "install_completion" not in {p.name for p in command.params}, name
