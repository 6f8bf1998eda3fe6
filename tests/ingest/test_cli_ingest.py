"""The CLI: `digest ingest`, `digest sources ...`, `digest papers ...` in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_cli

from digest.rank import semantic

from .conftest import FIXTURES, FeedServer

QUICK = "delay = 0\nbackoff = 0.01\nretries = 1\nread_timeout = 5\n"


@pytest.fixture
def env(digest_env: dict[str, str], db_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("DIGEST_DATABASE_URL", db_url)
    if db_url.startswith("postgresql"):
        from digest.db import Database

        Database(db_url).upgrade()
    return digest_env


def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FeedServer) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(
        f"""
[sources.hf]
kind = "hf_daily"
url = "{server.url("/api/daily_papers")}"
{QUICK}
[sources.off]
kind = "feed"
url = "{server.url("/never")}"
enabled = false

[sources.lg]
kind = "arxiv_feed"
url = "{server.url("/rss/cs.LG")}"
announce_types = ["new", "cross", "replace", "replace-cross"]
{QUICK}
"""
    )
    monkeypatch.setenv("DIGEST_CONFIG", str(config))


def test_ingest_configured_sources(env, tmp_path, monkeypatch, capsys, feed_server) -> None:  # type: ignore[no-untyped-def]
    feed_server.serve_fixture("/api/daily_papers", "daily_papers.json")
    feed_server.serve_fixture("/rss/cs.LG", "arxiv_rss.xml")
    write_config(tmp_path, monkeypatch, feed_server)
    first = run_cli(capsys, "ingest", "--json")
    assert first.code == 0, first.err
    reports = {r["name"]: r for r in first.json()["sources"]}
    assert reports["hf"]["new"] == 12 and reports["lg"]["new"] == 10
    again = run_cli(capsys, "ingest", "--json")
    reports = {r["name"]: r for r in again.json()["sources"]}
    assert reports["hf"]["status"] == reports["lg"]["status"] == "not modified"
    assert reports["hf"]["new"] == reports["lg"]["new"] == 0
    # only one source, by name, with a table
    one = run_cli(capsys, "ingest", "lg", "--since", "2025-05-30")
    assert one.code == 0 and "ingest summary" in one.out and "hf" not in one.out
    listed = run_cli(capsys, "sources", "list", "--json").json()["sources"]
    assert [(s["name"], s["origin"], s["last_status"]) for s in listed] == [
        ("hf", "config", "not modified"),
        ("lg", "config", "ok"),
        ("off", "config", None),
    ]
    assert not feed_server.hits("/never")  # a disabled source runs only when named
    assert run_cli(capsys, "ingest", "off").code == 1 and feed_server.hits("/never")
    papers = run_cli(capsys, "papers", "list", "--json", "--limit", "100").json()["papers"]
    assert len(papers) == 22
    rss_id = papers[-1]["id"]
    shown = run_cli(capsys, "papers", "show", f"arXiv:{rss_id}v9", "--json").json()
    assert shown["id"] == rss_id and shown["seen_by"]
    assert run_cli(capsys, "papers", "show", "2501.99999").code == 3
    found = run_cli(capsys, "papers", "list", "-q", "animals DANCE", "--json").json()["papers"]
    assert [p["title"] for p in found] == ["How Animals Dance (When You're Not Looking)"]


def test_failing_source_sets_the_exit_code(env, tmp_path, monkeypatch, capsys, feed_server) -> None:  # type: ignore[no-untyped-def]
    feed_server.status_then("/api/daily_papers", [503] * 10, b"")
    feed_server.serve_fixture("/rss/cs.LG", "arxiv_rss.xml")
    write_config(tmp_path, monkeypatch, feed_server)
    result = run_cli(capsys, "ingest")
    assert result.code == 1
    assert "failed" in result.out and "hf: failed: " in result.err and "HTTP 503" in result.err
    papers = run_cli(capsys, "papers", "list", "--json", "--limit", "100").json()["papers"]
    assert len(papers) == 10  # the other source was stored
    assert run_cli(capsys, "ingest", "nosuch").code == 3


def test_sources_add_list_test_remove(env, capsys, feed_server) -> None:  # type: ignore[no-untyped-def]
    feed_server.serve_fixture("/blog", "generic_rss.xml")
    added = run_cli(capsys, "sources", "add", "blog", "feed", "--url", feed_server.url("/blog"),
                    "-o", "delay=0", "-o", "retries=0")  # fmt: skip
    assert added.code == 0, added.err
    assert run_cli(capsys, "sources", "add", "bad", "feed").code == 2
    bad = run_cli(
        capsys, "sources", "add", "x", "feed", "--url", "https://x.org", "-o", "retries=99"
    )
    assert bad.code == 2 and "retries" in bad.err
    tested = run_cli(capsys, "sources", "test", "blog", "--json")
    assert tested.code == 0 and tested.json()["records"] == 8
    assert run_cli(capsys, "papers", "list", "--json").json()["papers"] == []  # test stores nothing
    listed = run_cli(capsys, "sources", "list")
    assert "blog" in listed.out and "never run" in listed.out
    assert run_cli(capsys, "ingest", "blog").code == 0
    assert run_cli(capsys, "sources", "remove", "blog").code == 0
    assert run_cli(capsys, "sources", "remove", "blog").code == 3
    assert run_cli(capsys, "sources", "list", "--json").json()["sources"] == []
    assert len(run_cli(capsys, "papers", "list", "--json").json()["papers"]) == 8  # papers stay
    missing = run_cli(capsys, "ingest")
    assert missing.code == 2 and "no sources configured" in missing.err


def test_sources_test_reports_a_failure(env, capsys, feed_server) -> None:  # type: ignore[no-untyped-def]
    feed_server.serve("/broken", b"{not xml")
    run_cli(capsys, "sources", "add", "broken", "arxiv_feed", "--url", feed_server.url("/broken"))
    result = run_cli(capsys, "sources", "test", "broken")
    assert result.code == 1  # as its help says: a failing source is not bad input (2)
    assert result.err.startswith("error: broken: ") and "Traceback" not in result.err
    feed_server.serve("/down", b"<!DOCTYPE html><html><body>Maintenance</body></html>")
    run_cli(capsys, "sources", "add", "down", "feed", "--url", feed_server.url("/down"))
    down = run_cli(capsys, "sources", "test", "down")
    assert down.code == 1
    assert f"expected RSS or Atom, got an HTML page from {feed_server.url('/down')}" in down.err
    help_text = run_cli(capsys, "sources", "test", "--help").out
    assert "exit 1 when it fails" in help_text


def test_ingest_help_shows_the_default_commands_arguments(env, capsys) -> None:  # type: ignore[no-untyped-def]
    """`digest ingest` runs `ingest run`: its help shows what it takes."""
    shown = run_cli(capsys, "ingest", "--help")
    assert shown.code == 0
    for word in ("Arguments", "sources...", "--since", "--json", "Commands", "jsonl"):
        assert word in shown.out, word


def test_ingest_jsonl_keeps_working(env, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = FIXTURES / "papers.jsonl.gz"
    first = run_cli(capsys, "ingest", "jsonl", str(path), "--json")
    assert first.code == 0 and first.json() == {
        "new": 10,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "warnings": 0,
        "embedded": 10 if semantic.available() else 0,  # the ingest hook
    }
    again = run_cli(capsys, "ingest", "jsonl", str(path), "--json")
    assert again.json() == {
        "new": 0, "updated": 0, "unchanged": 10, "rejected": 0, "warnings": 0, "embedded": 0
    }  # fmt: skip
    bad = tmp_path / "bad.jsonl"
    lines = (FIXTURES / "papers.jsonl").read_text().splitlines()
    bad.write_text("\n".join([lines[0], "{oops", json.dumps({"id": "2501.00001"})]) + "\n")
    result = run_cli(capsys, "ingest", "jsonl", str(bad))
    assert result.code == 1
    assert f"{bad}:2: not valid JSON" in result.err and f"{bad}:3: missing title" in result.err
    assert "0 new, 1 updated, 0 unchanged, 2 rejected" in result.out
    assert run_cli(capsys, "ingest", "jsonl", str(tmp_path / "nope.jsonl")).code == 2


def test_a_source_that_cannot_be_fetched_is_one_line_and_exit_1(env, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A FetchError (here: a file source whose file is gone) reaches the user as one line."""
    gone = tmp_path / "gone.jsonl"
    assert run_cli(capsys, "sources", "add", "gone", "file", "--path", str(gone)).code == 0
    result = run_cli(capsys, "sources", "test", "gone")
    assert (result.code, result.err) == (1, f"error: gone: no such file: {gone}\n")
