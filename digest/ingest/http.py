"""Polite, bounded HTTP GETs for the sources (httpx).

What "done right" means here: connect/read timeouts and an overall deadline per response;
a maximum response size (counted after content decoding, so a gzip bomb stops too);
retries with exponential backoff and jitter on 429/5xx, timeouts, dropped connections and
truncated bodies, honouring ``Retry-After``; conditional GET with ``ETag`` and
``Last-Modified``; a User-Agent naming the project and its URL; and a minimum delay
between two requests to the same host (arXiv asks for 3 s). Every failure becomes one
:class:`~digest.errors.FetchError` with a message for a human.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from digest import __version__
from digest.errors import FetchError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class HttpPolicy:
    """Limits of one source's requests; every field can be set per source."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 120.0  # a server trickling bytes cannot hold us longer
    max_bytes: int = 25 * 1024 * 1024
    retries: int = 3
    backoff: float = 2.0  # first wait; doubles per attempt, with jitter
    max_backoff: float = 60.0
    max_retry_after: float = 300.0  # a longer Retry-After fails the source instead
    delay: float = 1.0  # minimum seconds between two requests to one host

    def with_options(self, options: Mapping[str, object]) -> HttpPolicy:
        known = {k: v for k, v in options.items() if k in HTTP_OPTIONS}
        return replace(self, **known)  # type: ignore[arg-type]


HTTP_OPTIONS = {name: kind for name, kind in HttpPolicy.__annotations__.items()}


@dataclass(frozen=True, slots=True)
class Response:
    url: str
    status: int
    content: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    content_type: str = ""

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def validators(self) -> dict[str, str]:
        found = {"etag": self.etag, "last_modified": self.last_modified}
        return {k: v for k, v in found.items() if v}


def user_agent(base_url: str) -> str:
    return f"digest/{__version__} (+{base_url}; research paper digest)"


@dataclass
class HttpClient:
    """One httpx client shared by all sources of a run, with per-host pacing."""

    agent: str
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    transport: httpx.BaseTransport | None = None
    requests: int = 0
    _last: dict[str, float] = field(default_factory=dict)
    _client: httpx.Client | None = None

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                headers={"User-Agent": self.agent, "Accept-Encoding": "gzip, deflate"},
                follow_redirects=True,
                max_redirects=5,
                transport=self.transport,
            )
        return self._client

    def get(
        self,
        url: str,
        *,
        policy: HttpPolicy,
        params: Mapping[str, str | int] | None = None,
        validators: Mapping[str, str] | None = None,
    ) -> Response:
        """GET ``url``; a 304 answer to the given validators is returned, not raised."""
        headers = {}
        if validators and validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators and validators.get("last_modified"):
            headers["If-Modified-Since"] = validators["last_modified"]
        host = urlsplit(url).netloc.lower()
        for attempt in range(policy.retries + 1):
            last = attempt == policy.retries
            self._pace(host, policy.delay)
            try:
                response = self._fetch(url, params, headers, policy)
            except _Transient as exc:
                if last:
                    raise FetchError(f"{url}: {exc} ({_attempts(attempt + 1)})") from None
                self.sleep(_backoff(policy, attempt))
                continue
            if response.status in RETRY_STATUSES:
                if last:
                    raise FetchError(
                        f"{url}: HTTP {response.status} ({_attempts(attempt + 1)})",
                        status=response.status,
                    )
                wait = _retry_after(response) if response.status in (429, 503) else None
                if wait is not None and wait > policy.max_retry_after:
                    raise FetchError(
                        f"{url}: HTTP {response.status}, asked to retry after {wait:.0f} s "
                        f"(more than the {policy.max_retry_after:.0f} s allowed)",
                        status=response.status,
                    )
                self.sleep(wait if wait is not None else _backoff(policy, attempt))
                continue
            if response.status >= 400:
                raise FetchError(
                    f"{url}: HTTP {response.status}", permanent=True, status=response.status
                )
            return _finish(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _pace(self, host: str, delay: float) -> None:
        last = self._last.get(host)
        if last is not None:
            wait = last + delay - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last[host] = self.clock()

    def _fetch(
        self,
        url: str,
        params: Mapping[str, str | int] | None,
        headers: Mapping[str, str],
        policy: HttpPolicy,
    ) -> _Raw:
        timeout = httpx.Timeout(
            connect=policy.connect_timeout, read=policy.read_timeout, write=10.0, pool=10.0
        )
        self.requests += 1
        deadline = self.clock() + policy.total_timeout
        try:
            with self._http().stream(
                "GET", url, params=params, headers=headers, timeout=timeout
            ) as r:
                self._last[urlsplit(url).netloc.lower()] = self.clock()
                if r.status_code in RETRY_STATUSES or r.status_code >= 300:
                    return _Raw(str(r.url), r.status_code, b"", r.headers)
                declared = r.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > policy.max_bytes:
                    raise FetchError(
                        f"{url}: response of {int(declared)} bytes is larger than the "
                        f"{policy.max_bytes} allowed",
                        permanent=True,
                    )
                chunks, size = [], 0
                for chunk in r.iter_bytes():
                    size += len(chunk)
                    if size > policy.max_bytes:
                        raise FetchError(
                            f"{url}: response larger than the {policy.max_bytes} bytes allowed",
                            permanent=True,
                        )
                    if self.clock() > deadline:
                        raise _Transient(f"response took longer than {policy.total_timeout} s")
                    chunks.append(chunk)
                return _Raw(str(r.url), r.status_code, b"".join(chunks), r.headers)
        except httpx.TimeoutException as exc:
            raise _Transient(f"timed out ({type(exc).__name__})") from None
        except httpx.RemoteProtocolError as exc:
            raise _Transient(f"connection broken: {exc}") from None
        except httpx.DecodingError as exc:
            raise _Transient(f"undecodable body: {exc}") from None
        except httpx.TooManyRedirects:
            raise FetchError(f"{url}: too many redirects", permanent=True) from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise FetchError(f"{url}: invalid URL ({exc})", permanent=True) from None
        except httpx.TransportError as exc:
            raise _Transient(f"cannot connect: {exc}") from None


class _Transient(Exception):
    """Worth another attempt: a timeout, a dropped connection, a truncated body."""


@dataclass(frozen=True, slots=True)
class _Raw:
    url: str
    status: int
    content: bytes
    headers: httpx.Headers


def _finish(raw: _Raw) -> Response:
    return Response(
        url=raw.url,
        status=raw.status,
        content=raw.content,
        etag=raw.headers.get("ETag"),
        last_modified=raw.headers.get("Last-Modified"),
        content_type=raw.headers.get("Content-Type", ""),
    )


def _attempts(n: int) -> str:
    return "after 1 attempt" if n == 1 else f"after {n} attempts"


def _backoff(policy: HttpPolicy, attempt: int) -> float:
    base = min(policy.max_backoff, policy.backoff * (2**attempt))
    return base * random.uniform(0.5, 1.5)


def _retry_after(raw: _Raw) -> float | None:
    """Seconds from ``Retry-After`` (a number or an HTTP date), or None."""
    value = raw.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())
