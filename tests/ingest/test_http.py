"""The HTTP adapter against a real local server: retries, limits, conditional GET, pacing."""

from __future__ import annotations

import itertools
import time

import pytest

from digest.errors import FetchError
from digest.ingest.http import HttpClient, HttpPolicy, user_agent

from .conftest import FeedServer, huge, slow, trickle, truncated

FAST = HttpPolicy(
    connect_timeout=2, read_timeout=2, retries=2, backoff=0.05, max_backoff=0.2, delay=0
)


@pytest.fixture
def client():  # type: ignore[no-untyped-def]
    with HttpClient(user_agent("https://digest.test")) as c:
        yield c


def test_get_sends_user_agent_and_conditional_headers(feed_server: FeedServer, client) -> None:
    body = feed_server.serve_fixture("/feed", "arxiv_rss.xml", last_modified="Fri, 30 May 2025")
    first = client.get(feed_server.url("/feed"), policy=FAST)
    assert first.status == 200 and first.content == body
    assert first.etag and first.last_modified == "Fri, 30 May 2025"
    again = client.get(feed_server.url("/feed"), policy=FAST, validators=first.validators)
    assert again.not_modified and again.content == b""
    seen = feed_server.hits("/feed")
    assert seen[0].headers["user-agent"].startswith("digest/")
    assert "https://digest.test" in seen[0].headers["user-agent"]
    assert "if-none-match" not in seen[0].headers
    assert seen[1].headers["if-none-match"] == first.etag
    assert seen[1].headers["if-modified-since"] == "Fri, 30 May 2025"


def test_429_with_retry_after_is_honoured(feed_server: FeedServer, client) -> None:
    feed_server.status_then("/limited", [429], b"ok", retry_after="1")
    started = time.monotonic()
    response = client.get(feed_server.url("/limited"), policy=FAST)
    assert response.content == b"ok"
    hits = feed_server.hits("/limited")
    assert len(hits) == 2
    assert hits[1].at - hits[0].at >= 0.95  # waited what Retry-After said, not the 0.05 s backoff
    assert time.monotonic() - started < 5


def test_retry_after_too_long_fails_at_once(feed_server: FeedServer, client) -> None:
    feed_server.status_then("/later", [429], b"ok", retry_after="3600")
    with pytest.raises(FetchError, match="retry after 3600 s"):
        client.get(feed_server.url("/later"), policy=FAST)
    assert len(feed_server.hits("/later")) == 1


def test_503_is_retried_with_backoff_then_gives_up(feed_server: FeedServer, client) -> None:
    feed_server.status_then("/down", [503, 503, 503, 503], b"never")
    with pytest.raises(FetchError, match=r"HTTP 503 \(after 3 attempts"):
        client.get(feed_server.url("/down"), policy=FAST)
    assert len(feed_server.hits("/down")) == 3
    feed_server.status_then("/flaky", [503, 502], b"fine")
    assert client.get(feed_server.url("/flaky"), policy=FAST).content == b"fine"


def test_404_is_permanent_and_not_retried(feed_server: FeedServer, client) -> None:
    with pytest.raises(FetchError) as info:
        client.get(feed_server.url("/missing"), policy=FAST)
    assert info.value.permanent and info.value.status == 404
    assert len(feed_server.hits("/missing")) == 1


def test_slow_response_past_the_read_timeout(feed_server: FeedServer, client) -> None:
    feed_server.routes["/slow"] = slow(1.5)
    policy = HttpPolicy(read_timeout=0.3, retries=1, backoff=0.01, delay=0)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        client.get(feed_server.url("/slow"), policy=policy)
    assert time.monotonic() - started < 1.4
    assert len(feed_server.hits("/slow")) == 2


def test_trickling_response_hits_the_total_deadline(feed_server: FeedServer, client) -> None:
    feed_server.routes["/trickle"] = trickle(0.1, 40)
    policy = HttpPolicy(read_timeout=1, total_timeout=0.5, retries=0, delay=0)
    with pytest.raises(FetchError, match=r"longer than 0\.5 s"):
        client.get(feed_server.url("/trickle"), policy=policy)


def test_truncated_body_is_an_error_not_data(feed_server: FeedServer, client) -> None:
    feed_server.routes["/cut"] = truncated(b"<rss><channel>")
    with pytest.raises(FetchError, match="connection broken"):
        client.get(feed_server.url("/cut"), policy=FAST)
    assert len(feed_server.hits("/cut")) == 3


@pytest.mark.parametrize("declare", [True, False])
def test_50_mb_body_is_refused(feed_server: FeedServer, client, declare: bool) -> None:
    feed_server.routes["/big"] = huge(50 * 1024 * 1024, declare=declare)
    policy = HttpPolicy(retries=0, delay=0)  # the default limit: 25 MB
    started = time.monotonic()
    with pytest.raises(FetchError, match="larger than") as info:
        client.get(feed_server.url("/big"), policy=policy)
    assert info.value.permanent
    assert time.monotonic() - started < 10


def test_connection_refused_is_retried_then_reported(client) -> None:
    with pytest.raises(FetchError, match="cannot connect"):
        client.get("http://127.0.0.1:9/", policy=FAST)


def test_per_host_politeness_delay(feed_server: FeedServer, client) -> None:
    feed_server.serve("/a", b"a")
    feed_server.serve("/b", b"b")
    polite = HttpPolicy(delay=0.4, retries=0)
    for path in ("/a", "/b", "/a"):
        client.get(feed_server.url(path), policy=polite)
    times = [s.at for s in feed_server.log]
    assert all(later - earlier >= 0.38 for earlier, later in itertools.pairwise(times))
