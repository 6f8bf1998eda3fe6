"""The HTTP adapter against a real local server: retries, limits, conditional GET, pacing.

The client's waits go through an injected ``sleep`` and ``clock`` (:class:`FakeTime`): the
tests check the exact waits asked for, and never sleep themselves. Only the socket
timeouts (httpx's own) are real.
"""

from __future__ import annotations

import pytest

from digest.errors import FetchError
from digest.ingest.http import HttpClient, HttpPolicy, user_agent

from .conftest import FeedServer, huge, slow, trickle, truncated

FAST = HttpPolicy(
    connect_timeout=2, read_timeout=2, retries=2, backoff=0.05, max_backoff=0.2, delay=0
)


class FakeTime:
    """A clock that moves only when the client sleeps (or ``step`` per reading)."""

    def __init__(self, step: float = 0.0):
        self.now = 0.0
        self.step = step
        self.sleeps: list[float] = []

    def clock(self) -> float:
        self.now += self.step
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(fake_time: FakeTime):  # type: ignore[no-untyped-def]
    agent = user_agent("https://digest.test")
    with HttpClient(agent, sleep=fake_time.sleep, clock=fake_time.clock) as c:
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


def test_429_with_retry_after_is_honoured(feed_server: FeedServer, client, fake_time) -> None:  # type: ignore[no-untyped-def]
    feed_server.status_then("/limited", [429], b"ok", retry_after="7")
    response = client.get(feed_server.url("/limited"), policy=FAST)
    assert response.content == b"ok"
    assert len(feed_server.hits("/limited")) == 2
    assert fake_time.sleeps == [7.0]  # what Retry-After said, not the 0.05 s backoff


def test_retry_after_too_long_fails_at_once(feed_server: FeedServer, client, fake_time) -> None:  # type: ignore[no-untyped-def]
    feed_server.status_then("/later", [429], b"ok", retry_after="3600")
    with pytest.raises(FetchError, match="retry after 3600 s"):
        client.get(feed_server.url("/later"), policy=FAST)
    assert len(feed_server.hits("/later")) == 1
    assert fake_time.sleeps == []


def test_503_is_retried_with_backoff_then_gives_up(
    feed_server: FeedServer, client, fake_time
) -> None:  # type: ignore[no-untyped-def]
    feed_server.status_then("/down", [503, 503, 503, 503], b"never")
    with pytest.raises(FetchError, match=r"HTTP 503 \(after 3 attempts"):
        client.get(feed_server.url("/down"), policy=FAST)
    assert len(feed_server.hits("/down")) == 3
    # two waits between three attempts: 0.05 s then 0.1 s, each with +-50 % jitter
    first, second = fake_time.sleeps
    assert 0.025 <= first <= 0.075 and 0.05 <= second <= 0.15
    feed_server.status_then("/flaky", [503, 502], b"fine")
    assert client.get(feed_server.url("/flaky"), policy=FAST).content == b"fine"
    assert len(fake_time.sleeps) == 4


def test_404_is_permanent_and_not_retried(feed_server: FeedServer, client) -> None:
    with pytest.raises(FetchError) as info:
        client.get(feed_server.url("/missing"), policy=FAST)
    assert info.value.permanent and info.value.status == 404
    assert len(feed_server.hits("/missing")) == 1


def test_slow_response_past_the_read_timeout(feed_server: FeedServer, client, fake_time) -> None:  # type: ignore[no-untyped-def]
    feed_server.routes["/slow"] = slow(1.5)
    policy = HttpPolicy(read_timeout=0.3, retries=1, backoff=0.01, delay=0)
    with pytest.raises(FetchError, match=r"timed out \(ReadTimeout\) \(after 2 attempts\)"):
        client.get(feed_server.url("/slow"), policy=policy)
    assert len(feed_server.hits("/slow")) == 2
    assert len(fake_time.sleeps) == 1  # one backoff between the two attempts


def test_trickling_response_hits_the_total_deadline(feed_server: FeedServer) -> None:
    """Every read gets its byte in time, but the whole body is past the deadline: the
    client's clock advances 0.2 s per reading, so the second chunk is read at +0.6 s."""
    feed_server.routes["/trickle"] = trickle(0.05, 40)
    policy = HttpPolicy(read_timeout=1, total_timeout=0.5, retries=0, delay=0)
    fake = FakeTime(step=0.2)
    client = HttpClient("digest/test", sleep=fake.sleep, clock=fake.clock)
    with client, pytest.raises(FetchError, match=r"longer than 0\.5 s \(after 1 attempt\)"):
        client.get(feed_server.url("/trickle"), policy=policy)
    assert fake.sleeps == []


def test_truncated_body_is_an_error_not_data(feed_server: FeedServer, client) -> None:
    feed_server.routes["/cut"] = truncated(b"<rss><channel>")
    with pytest.raises(FetchError, match="connection broken"):
        client.get(feed_server.url("/cut"), policy=FAST)
    assert len(feed_server.hits("/cut")) == 3


@pytest.mark.parametrize("declare", [True, False])
def test_50_mb_body_is_refused(feed_server: FeedServer, client, declare: bool) -> None:
    feed_server.routes["/big"] = huge(50 * 1024 * 1024, declare=declare)
    policy = HttpPolicy(retries=0, delay=0)  # the default limit: 25 MB
    url = feed_server.url("/big")
    expected = (
        f"{url}: response of 52428800 bytes is larger than the 26214400 allowed"
        if declare  # refused from its Content-Length, before reading the body
        else f"{url}: response larger than the 26214400 bytes allowed"  # counted while read
    )
    with pytest.raises(FetchError) as info:
        client.get(url, policy=policy)
    assert str(info.value) == expected and info.value.permanent


def test_connection_refused_is_retried_then_reported(client, fake_time) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FetchError, match=r"cannot connect: .* \(after 3 attempts\)"):
        client.get("http://127.0.0.1:9/", policy=FAST)
    assert len(fake_time.sleeps) == 2


def test_per_host_politeness_delay(feed_server: FeedServer, client, fake_time) -> None:  # type: ignore[no-untyped-def]
    feed_server.serve("/a", b"a")
    feed_server.serve("/b", b"b")
    polite = HttpPolicy(delay=0.4, retries=0)
    for path in ("/a", "/b", "/a"):
        client.get(feed_server.url(path), policy=polite)
    assert [s.path for s in feed_server.log] == ["/a", "/b", "/a"]
    assert fake_time.sleeps == pytest.approx(
        [0.4, 0.4]
    )  # before the 2nd and the 3rd request, not the 1st
    other = feed_server.url("/a").replace("127.0.0.1", "localhost")
    client.get(other, policy=polite)  # another host name: no wait
    assert fake_time.sleeps == pytest.approx([0.4, 0.4])
