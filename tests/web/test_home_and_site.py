"""The home page (the day's papers under the subscribe box), headers every page carries,
/healthz, and the app's refusals at start."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from digest.db.engine import Database
from digest.db.papers import upsert_papers
from digest.errors import ConfigError
from digest.ingest.parse_hf import parse_daily_papers
from digest.ingest.parse_jsonl import parse_jsonl
from digest.pipeline.runtime import Runtime
from digest.settings import Settings
from digest.web.app import create_app
from tests.conftest import FIXTURES
from tests.web.conftest import Harness


def load_hf_fixture(h: Harness) -> None:
    """Real-format Hugging Face Daily Papers items (featured on one day, with upvotes)."""
    data = (FIXTURES / "ingest" / "daily_papers.json").read_bytes()
    parsed = parse_daily_papers(data, source="hf_daily")
    with h.rt.db.session() as session:
        upsert_papers(session, parsed.records, h.clock())


def test_home_lists_the_latest_day_with_the_subscribe_box(harness: Harness) -> None:
    h = harness
    h.load_sample_papers()
    page = h.client.get("/")
    assert page.status_code == 200
    assert page.text.count("<h1") == 1 and "Get trending papers in your email inbox" in page.text
    assert 'action="/subscribe"' in page.text and 'type="email"' in page.text
    assert "Friday, 30 May 2025" in page.text  # the sample's announcement day
    assert page.text.count('class="paper"') == 30 and "page 1 of 2" in page.text
    assert "<details" in page.text and "Abstract" in page.text  # abstracts folded
    assert "https://arxiv.org/pdf/" in page.text
    second = h.client.get("/?day=2025-05-30&page=2")
    assert second.status_code == 200 and second.text.count('class="paper"') == 21
    assert h.client.get("/?day=2025-05-29").status_code == 404
    assert h.client.get("/?day=yesterday").status_code == 404
    assert h.client.get("/?page=999").status_code == 404


def test_home_shows_upvotes_code_and_hugging_face_links_when_known(harness: Harness) -> None:
    h = harness
    load_hf_fixture(h)
    earlier = parse_jsonl(
        ['{"id": "2505.00001", "title": "An earlier paper", "day": "2025-05-28"}'], source="t"
    )
    with h.rt.db.session() as session:
        upsert_papers(session, earlier.records, h.clock())
    page = h.client.get("/").text
    # the Daily Papers day is the newest, ordered by upvotes
    day = re.search(r'<h2 class="day">([^<]+)</h2>', page)
    assert day and "2025" in day.group(1)
    upvotes = [int(v.replace(",", "")) for v in re.findall(r"▲ ([\d,]+)", page)]
    assert upvotes and upvotes == sorted(upvotes, reverse=True)
    assert "https://huggingface.co/papers/" in page
    assert re.search(r'href="https://github\.com/[^"]+">Code', page)
    older = re.search(r'href="/\?day=(\d{4}-\d\d-\d\d)" rel="prev"', page)
    assert older and older.group(1) == "2025-05-28"  # a switcher to earlier days
    assert "An earlier paper" in h.client.get("/?day=2025-05-28").text


def test_home_is_cached_with_an_etag_and_gzip(harness: Harness) -> None:
    h = harness
    h.load_sample_papers()
    plain = h.client.get("/", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    etag = plain.headers["etag"]
    zipped = h.client.get("/", headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.text == plain.text
    assert len(gzip.compress(plain.content)) < len(plain.content)
    again = h.client.get("/", headers={"if-none-match": etag})
    assert again.status_code == 304 and not again.content


def test_every_page_sends_strict_security_headers(harness: Harness) -> None:
    h = harness
    for path in ("/", "/subscribe", "/subscribe/sent", "/u/bad.token", "/nowhere", "/healthz"):
        response = h.client.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, path
        assert "'unsafe-inline'" not in csp, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["strict-transport-security"].startswith("max-age=")
    assert h.client.get("/u/bad.token").headers["cache-control"] == "no-store"


def test_no_redirect_leaves_the_site(harness: Harness) -> None:
    """Every redirect the site makes goes to one of its own paths."""
    h = harness
    responses = [
        h.client.post("/subscribe", data={"email": "a@example.org"}, follow_redirects=False),
        h.client.post(
            "/subscribe",
            data={"email": "b@example.org", "next": "https://evil.example"},
            follow_redirects=False,
        ),
    ]
    for response in responses:
        assert response.status_code == 303 and response.headers["location"].startswith("/")


def test_healthz_answers_with_the_database_state(harness: Harness) -> None:
    assert harness.client.get("/healthz").json() == {"status": "ok", "database": "ok"}


@pytest.mark.postgres
def test_healthz_is_503_when_the_database_is_down(pg_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings.from_env({"DIGEST_VAR_DIR": str(tmp_path), "DIGEST_SECRET_KEY": "x" * 20})
    missing = pg_url.rsplit("/", 1)[0] + "/digest_no_such_database"
    app = create_app(Runtime.from_settings(settings, db=Database(missing)))
    with TestClient(app) as client:
        response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["database"] == "unreachable"


def test_a_public_site_refuses_the_generated_demo_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"DIGEST_VAR_DIR": str(tmp_path), "DIGEST_BASE_URL": "https://digest.example.org"}
    settings = Settings.from_env(env)
    assert settings.secret_key_generated
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ConfigError, match="DIGEST_SECRET_KEY"):
        create_app(Runtime.from_settings(settings, db=db))
    local = Settings.from_env({**env, "DIGEST_BASE_URL": "http://localhost:8000"})
    create_app(Runtime.from_settings(local, db=db))  # the demo runs with it
    chosen = Settings.from_env({**env, "DIGEST_SECRET_KEY": "a-key-someone-chose-0123"})
    create_app(Runtime.from_settings(chosen, db=db))


def test_html_is_escaped_everywhere(harness: Harness) -> None:
    h = harness
    h.load_sample_papers()
    with h.rt.db.session() as session:
        parsed = parse_jsonl(
            [
                '{"id": "2505.99999", "title": "<script>alert(1)</script> Evil", '
                '"abstract": "<img src=x onerror=alert(1)>", "authors": ["<b>Bold</b>"], '
                '"day": "2025-05-30", "categories": ["cs.LG"]}'
            ],
            source="test",
        )
        assert parsed.records, parsed.errors
        upsert_papers(session, parsed.records, datetime(2026, 12, 1, tzinfo=UTC))
    page = h.client.get("/").text
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "<b>Bold</b>" not in page
    bad = h.client.post("/subscribe", data={"email": "<script>@x", "topics": "<b>t</b>"})
    assert bad.status_code == 400 and "<b>t</b>" not in bad.text
    assert "&lt;b&gt;t&lt;/b&gt;" in bad.text
