"""Sources end to end: a real local HTTP server, real parsers, a real database."""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from digest.db.engine import Database
from digest.db.models import PaperRow
from digest.db.sources import (
    get_source_row,
    list_source_rows,
    record_source_run,
    save_source_config,
)
from digest.errors import InputError
from digest.ingest.http import HttpClient, user_agent
from digest.ingest.service import SourceReport, run_sources, sync_sources
from digest.ingest.sources import SourceConfig, make_source

from .conftest import FIXTURES, FeedServer

NOW = datetime(2025, 5, 31, 12, 0, tzinfo=UTC)
QUICK = {"delay": 0, "backoff": 0.01, "max_backoff": 0.05, "retries": 1, "read_timeout": 5}


@pytest.fixture
def sqlite_db(sqlite_url: str):  # type: ignore[no-untyped-def]
    database = Database(sqlite_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def client():  # type: ignore[no-untyped-def]
    with HttpClient(user_agent("https://digest.test")) as c:
        yield c


def add(db: Database, name: str, kind: str, **options: object) -> SourceConfig:
    config = make_source(name, kind, {**QUICK, **options})
    with db.session() as session:
        save_source_config(
            session, name=name, kind=kind, options=dict(config.options), origin="cli", now=NOW
        )
    return config


def run(
    db: Database,
    client: HttpClient,
    *configs: SourceConfig,
    now: datetime = NOW,
    since: date | None = None,
) -> dict[str, SourceReport]:
    reports = run_sources(db, configs, client, now=now, since=since)
    return {r.name: r for r in reports}


def papers(db: Database) -> dict[str, PaperRow]:
    with db.session() as session:
        return {p.id: p for p in session.query(PaperRow)}


def state(db: Database, name: str):  # type: ignore[no-untyped-def]
    with db.session() as session:
        return get_source_row(session, name)


def test_hf_daily_pages_days_and_conditional_get(
    db: Database, client, feed_server: FeedServer
) -> None:
    body = feed_server.serve_fixture("/api/daily_papers", "daily_papers.json")
    source = add(db, "hf", "hf_daily", url=feed_server.url("/api/daily_papers"), limit=100)
    report = run(db, client, source, since=date(2025, 5, 30))["hf"]
    assert (report.status, report.new, report.rejected) == ("ok", 12, 0)
    hits = feed_server.hits("/api/daily_papers")
    assert [h.query["date"] for h in hits] == ["2025-05-30", "2025-05-31"]
    assert hits[0].query["limit"] == "100"
    stored = papers(db)
    item = json.loads(body)[0]
    assert stored[item["paper"]["id"]].upvotes == item["paper"]["upvotes"]
    assert stored[item["paper"]["id"]].sources == ["hf"]
    row = state(db, "hf")
    assert row.cursor == "2025-05-31" and row.last_status == "ok"
    assert len(row.validators) == 2  # one ETag per day URL
    # next run: starts at the cursor day, answered 304
    again = run(db, client, source, now=NOW + timedelta(hours=1))["hf"]
    assert again.status == "not modified" and again.new == again.updated == 0
    assert feed_server.hits("/api/daily_papers")[-1].headers["if-none-match"]


def test_hf_daily_upvotes_stay_current(db: Database, client, feed_server: FeedServer) -> None:
    items = json.loads((FIXTURES / "daily_papers.json").read_bytes())
    feed_server.serve("/hf", json.dumps(items).encode())
    source = add(db, "hf", "hf_daily", url=feed_server.url("/hf"))
    assert run(db, client, source)["hf"].new == 12
    items[0]["paper"]["upvotes"] += 100
    feed_server.serve("/hf", json.dumps(items).encode())
    report = run(db, client, source, now=NOW + timedelta(hours=2))["hf"]
    assert (report.new, report.updated, report.unchanged) == (0, 1, 11)
    assert papers(db)[items[0]["paper"]["id"]].upvotes == items[0]["paper"]["upvotes"]


def test_arxiv_api_paging_and_politeness(db: Database, client, feed_server: FeedServer) -> None:
    pages = {
        "0": (FIXTURES / "arxiv_api_page1.xml").read_bytes(),
        "5": (FIXTURES / "arxiv_api_page2.xml").read_bytes(),
    }

    def handler(req, seen) -> None:  # type: ignore[no-untyped-def]
        body = pages[seen.query["start"]]
        req.send_response(200)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    feed_server.routes["/api/query"] = handler
    source = add(
        db,
        "arxiv",
        "arxiv_api",
        url=feed_server.url("/api/query"),
        query="cat:cs.LG",
        page_size=5,
        delay=0.3,
    )
    report = run(db, client, source)["arxiv"]
    assert (report.status, report.new, report.rejected) == ("ok", 8, 0)
    hits = feed_server.hits("/api/query")
    assert [h.query["start"] for h in hits] == ["0", "5"]
    assert hits[0].query["search_query"] == "cat:cs.LG"
    assert hits[0].query["sortBy"] == "submittedDate" and hits[0].query["max_results"] == "5"
    assert hits[1].at - hits[0].at >= 0.29
    assert state(db, "arxiv").cursor == "2025-05-28"
    assert make_source("a", "arxiv_api", {"query": "cat:cs.LG"}).policy.delay == 3.0


def test_arxiv_api_failure_midway_keeps_page_one_and_the_cursor(
    db: Database, client, feed_server: FeedServer
) -> None:
    page1 = (FIXTURES / "arxiv_api_page1.xml").read_bytes()

    def handler(req, seen) -> None:  # type: ignore[no-untyped-def]
        status, body = (200, page1) if seen.query["start"] == "0" else (503, b"")
        req.send_response(status)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    feed_server.routes["/q"] = handler
    source = add(
        db, "arxiv", "arxiv_api", url=feed_server.url("/q"), query="cat:cs.LG", page_size=5
    )
    report = run(db, client, source)["arxiv"]
    assert report.status == "failed" and "page 2" in (report.error or "")
    assert report.new == 5  # what came is kept
    row = state(db, "arxiv")
    assert row.cursor is None and row.last_status == "failed"  # nothing is skipped next time


@pytest.mark.parametrize("name", ["arxiv_rss.xml", "arxiv_atom.xml"])
def test_arxiv_feed_keeps_configured_announce_types(
    sqlite_db: Database, client, feed_server: FeedServer, name: str
) -> None:
    feed_server.serve_fixture("/rss", name)
    new_only = add(
        sqlite_db, "new-only", "arxiv_feed", url=feed_server.url("/rss"), announce_types=["new"]
    )
    everything = add(
        sqlite_db,
        "all-types",
        "arxiv_feed",
        url=feed_server.url("/rss"),
        announce_types="new,cross,replace,replace-cross",
    )
    reports = run(sqlite_db, client, new_only, everything)
    assert 0 < reports["new-only"].new < 10
    assert reports["new-only"].new + reports["all-types"].new == 10
    assert reports["all-types"].updated == reports["new-only"].new  # seen by two sources
    assert state(sqlite_db, "all-types").cursor == "2025-05-30"


def test_empty_weekend_feed_is_no_announcement(
    db: Database, client, feed_server: FeedServer
) -> None:
    feed_server.serve_fixture("/rss", "arxiv_rss_empty.xml")
    source = add(db, "lg", "arxiv_feed", url=feed_server.url("/rss"))
    report = run(db, client, source)["lg"]
    assert report.status == "no announcement" and not report.failed
    assert report.note == "no announcement today"
    assert state(db, "lg").last_status == "no announcement"


def test_same_paper_from_three_sources_is_one_row(
    sqlite_db: Database, client, feed_server: FeedServer
) -> None:
    feed_server.serve_fixture("/rss", "arxiv_rss.xml")
    feed_server.serve_fixture("/atom", "arxiv_atom.xml")
    rss = add(
        sqlite_db,
        "rss",
        "arxiv_feed",
        url=feed_server.url("/rss"),
        announce_types="new,cross,replace,replace-cross",
    )
    atom = add(
        sqlite_db,
        "atom",
        "arxiv_feed",
        url=feed_server.url("/atom"),
        announce_types="new,cross,replace,replace-cross",
    )
    reports = run(sqlite_db, client, rss, atom)
    assert reports["rss"].new == 10 and reports["atom"].new == 4  # 6 papers are in both
    both = [p for p in papers(sqlite_db).values() if p.sources == ["rss", "atom"]]
    assert len(both) == 6 and len(papers(sqlite_db)) == 14
    again = run(sqlite_db, client, rss, atom, now=NOW + timedelta(days=1))
    assert {r.status for r in again.values()} == {"not modified"}


def test_generic_feed_and_since(db: Database, client, feed_server: FeedServer) -> None:
    feed_server.serve_fixture("/blog.xml", "generic_rss.xml")
    source = add(db, "blog", "feed", url=feed_server.url("/blog.xml"))
    report = run(db, client, source, since=date(2025, 5, 1))["blog"]
    assert report.new == 2  # only the items dated on or after --since
    report = run(db, client, source)["blog"]
    assert report.new == 6 and report.unchanged == 2


def test_file_source_plain_gzip_and_changed_lines(db: Database, client, tmp_path: Path) -> None:
    lines = (FIXTURES / "papers.jsonl").read_bytes().splitlines()
    path = tmp_path / "papers.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    source = add(db, "dump", "file", path=str(path))
    assert run(db, client, source)["dump"].new == 10
    assert run(db, client, source)["dump"].status == "not modified"
    changed = json.loads(lines[0])
    changed["title"] = "A corrected title"
    bad = b'{"id": "2501.99999", "title": "x", "day": "2025-02-30"}'
    path.write_bytes(gzip.compress(b"\n".join([json.dumps(changed).encode(), *lines[1:], bad])))
    os.utime(path, ns=(1, 1))
    report = run(db, client, source)["dump"]
    assert (report.new, report.updated, report.unchanged, report.rejected) == (0, 1, 9, 1)
    assert report.problems == ["line 11: invalid announcement date '2025-02-30'"]
    assert papers(db)[changed["id"]].title == "A corrected title"


def test_one_failing_source_never_stops_the_others(
    db: Database, client, feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.serve_fixture("/rss", "arxiv_rss.xml")
    good = add(db, "good", "arxiv_feed", url=feed_server.url("/rss"))
    assert run(db, client, good)["good"].new > 0
    before = {pid: (p.title, p.updated_at) for pid, p in papers(db).items()}
    feed_server.status_then("/down", [503] * 10, b"")
    feed_server.serve("/broken", b"<rss><channel><item><title>half")
    feed_server.serve("/html", b"<html><body>Service unavailable</body></html>")
    sources = [
        add(db, "down", "feed", url=feed_server.url("/down")),
        add(db, "broken", "feed", url=feed_server.url("/broken")),
        add(db, "html", "arxiv_feed", url=feed_server.url("/html")),
        add(db, "nofile", "file", path=str(tmp_path / "missing.jsonl")),
        good,
    ]
    reports = run(db, client, *sources, now=NOW + timedelta(days=1))
    assert [r.name for r in reports.values() if r.failed] == ["down", "broken", "html", "nofile"]
    assert "HTTP 503" in (reports["down"].error or "")
    assert "not an RSS or Atom feed" in (reports["broken"].error or "")
    assert "expected RSS or Atom" in (reports["html"].error or "")
    assert "no such file" in (reports["nofile"].error or "")
    assert reports["good"].status == "not modified"
    after = {pid: (p.title, p.updated_at) for pid, p in papers(db).items()}
    assert after == before  # nothing stored before is lost or changed
    assert state(db, "down").last_error and state(db, "down").cursor is None


@pytest.mark.parametrize(
    ("kind", "expects", "options"),
    [
        ("arxiv_feed", "RSS or Atom", {}),
        ("feed", "RSS or Atom", {}),
        ("arxiv_api", "Atom", {"query": "cat:cs.LG"}),
        ("hf_daily", "JSON", {}),
    ],
)
def test_an_html_page_instead_of_the_data_is_named_with_its_url(
    sqlite_db: Database, client, feed_server: FeedServer, kind: str, expects: str, options: dict
) -> None:
    """A login or error page served with 200 and `<!DOCTYPE html>` (after a comment, as
    some servers send it) is reported as what it is, with the URL it came from."""
    page = b"<!-- generated -->\n<!DOCTYPE html>\n<html><head><title>Error</title></html>"
    feed_server.serve("/page", page, content_type="text/html")
    source = add(sqlite_db, "src", kind, url=feed_server.url("/page"), **options)
    report = run(sqlite_db, client, source)["src"]
    assert report.failed
    assert f"expected {expects}, got an HTML page from {feed_server.url('/page')}" in (
        report.error or ""
    )
    assert "DOCTYPE or ENTITY" not in (report.error or "")


def test_bad_items_are_skipped_and_the_rest_stored(
    db: Database, client, feed_server: FeedServer
) -> None:
    raw = (FIXTURES / "arxiv_rss.xml").read_text()
    first = raw.index("<item>")
    item = raw[first : raw.index("</item>") + 7]
    bad_date = item.replace("<pubDate>Fri, 30 May 2025", "<pubDate>Someday, 99 Foo 2025")
    bad_date = bad_date.replace(
        item[item.index("oai:arXiv.org:") + 14 : item.index("</guid>")], "2501.00077v1"
    )
    no_id = item.replace(
        item[item.index("<guid") : item.index("</guid>") + 7], "<guid>nothing</guid>"
    )
    no_id = no_id.replace(item[item.index("arXiv:") : item.index(" Announce")], "arXiv:none")
    doc = raw.replace("</channel>", bad_date + no_id + item + "</channel>")
    feed_server.serve("/rss", doc.encode())
    source = add(
        db,
        "lg",
        "arxiv_feed",
        url=feed_server.url("/rss"),
        announce_types="new,cross,replace,replace-cross",
    )
    report = run(db, client, source)["lg"]
    assert (report.new, report.rejected) == (10, 3)
    assert any("invalid date" in p for p in report.problems)
    assert any("no arXiv id" in p for p in report.problems)
    assert any("duplicate" in p for p in report.problems)


def test_source_definitions_are_validated() -> None:
    with pytest.raises(InputError, match="unknown kind"):
        make_source("x", "ftp", {})
    with pytest.raises(InputError, match=r"missing option.*query"):
        make_source("x", "arxiv_api", {})
    with pytest.raises(InputError, match=r"unknown option.*colour"):
        make_source("x", "feed", {"url": "https://x.org/f", "colour": "red"})
    with pytest.raises(InputError, match="option url"):
        make_source("x", "feed", {"url": "ftp://x.org/f"})
    with pytest.raises(InputError, match="unknown announce type"):
        make_source("x", "arxiv_feed", {"categories": "cs.LG", "announce_types": "new,old"})
    with pytest.raises(InputError, match="source name"):
        make_source("Bad Name", "feed", {"url": "https://x.org/f"})
    with pytest.raises(InputError, match="source name"):
        make_source("jsonl", "feed", {"url": "https://x.org/f"})
    feed = make_source("lg", "arxiv_feed", {"categories": "cs.LG+cs.CL", "format": "atom"})
    assert feed.options["announce_types"] == ["new", "cross"]


def test_sync_sources_from_config_tables(db: Database) -> None:
    tables = {"hf": {"kind": "hf_daily"}, "lg": {"kind": "arxiv_feed", "categories": "cs.LG"}}
    with db.session() as session:
        sync_sources(session, tables, NOW)
        save_source_config(
            session,
            name="mine",
            kind="feed",
            origin="cli",
            now=NOW,
            options={"url": "https://x.org/f"},
        )
    with db.session() as session:
        sync_sources(session, {"hf": {"kind": "hf_daily", "limit": 50}}, NOW)
    with db.session() as session:
        rows = {r.name: r for r in list_source_rows(session)}
    assert set(rows) == {"hf", "mine"}
    assert rows["hf"].options["limit"] == 50 and rows["hf"].origin == "config"
    with db.session() as session:  # run without a config file: nothing is pruned
        sync_sources(session, {}, NOW, prune=False)
        assert {r.name for r in list_source_rows(session)} == {"hf", "mine"}


def test_arxiv_api_max_pages_before_the_cursor_keeps_the_cursor(
    sqlite_db: Database, client, feed_server: FeedServer
) -> None:
    page1 = (FIXTURES / "arxiv_api_page1.xml").read_bytes()
    page1 = page1.replace(b">8</opensearch:totalResults>", b">1000</opensearch:totalResults>")
    feed_server.serve("/q", page1, etag=False)  # every page is page 1: never reaches the cursor
    source = add(sqlite_db, "arxiv", "arxiv_api", url=feed_server.url("/q"), query="cat:cs.LG",
                 page_size=5, max_pages=2)  # fmt: skip
    first = run(sqlite_db, client, source)["arxiv"]
    assert first.status == "ok" and state(sqlite_db, "arxiv").cursor == "2025-05-28"
    with sqlite_db.session() as session:
        record_source_run(session, "arxiv", now=NOW, status="ok", counts={},
                               cursor="2025-05-29")  # fmt: skip
    later = run(sqlite_db, client, source, since=date(2025, 1, 1))["arxiv"]
    assert later.failed and "max_pages=2 reached before 2025-01-01" in (later.error or "")
    assert state(sqlite_db, "arxiv").cursor == "2025-05-29"  # not moved past the gap
