"""A real local HTTP server (127.0.0.1, in-process thread) that serves the ingest fixtures
and misbehaves on request: 429 with Retry-After, 503, 304 on a matching ETag, a slow
response, a truncated body, a 50 MB body."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ingest"


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float


Handler = Callable[[BaseHTTPRequestHandler, "Seen"], None]


@dataclass
class FeedServer:
    """Routes: path -> handler(request, seen). ``log`` keeps every request in order."""

    host: str = "127.0.0.1"
    port: int = 0
    routes: dict[str, Handler] = field(default_factory=dict)
    log: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def hits(self, path: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.log if s.path == path]

    # -- ready-made behaviours -----------------------------------------------------------
    def serve(self, path: str, body: bytes, *, content_type: str = "application/xml",
              etag: bool = True, last_modified: str | None = None) -> None:  # fmt: skip
        tag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'

        def handler(req: BaseHTTPRequestHandler, seen: Seen) -> None:
            if etag and seen.headers.get("if-none-match") == tag:
                req.send_response(304)
                req.send_header("ETag", tag)
                req.end_headers()
                return
            if last_modified and seen.headers.get("if-modified-since") == last_modified:
                req.send_response(304)
                req.end_headers()
                return
            req.send_response(200)
            req.send_header("Content-Type", content_type)
            req.send_header("Content-Length", str(len(body)))
            if etag:
                req.send_header("ETag", tag)
            if last_modified:
                req.send_header("Last-Modified", last_modified)
            req.end_headers()
            req.wfile.write(body)

        self.routes[path] = handler

    def serve_fixture(self, path: str, name: str, **kw: object) -> bytes:
        body = (FIXTURES / name).read_bytes()
        content_type = "application/json" if name.endswith(".json") else "application/xml"
        self.serve(path, body, content_type=content_type, **kw)  # type: ignore[arg-type]
        return body

    def status_then(self, path: str, statuses: list[int], body: bytes,
                    retry_after: str | None = None) -> None:  # fmt: skip
        """Answer with ``statuses`` in turn (e.g. [429, 429]), then 200 with ``body``."""
        remaining = list(statuses)

        def handler(req: BaseHTTPRequestHandler, seen: Seen) -> None:
            with self.lock:
                status = remaining.pop(0) if remaining else 200
            req.send_response(status)
            if status != 200:
                if retry_after is not None:
                    req.send_header("Retry-After", retry_after)
                req.send_header("Content-Length", "0")
                req.end_headers()
                return
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            req.wfile.write(body)

        self.routes[path] = handler


def slow(seconds: float, body: bytes = b"[]") -> Handler:
    def handler(req: BaseHTTPRequestHandler, seen: Seen) -> None:
        time.sleep(seconds)
        req.send_response(200)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    return handler


def trickle(pause: float, pieces: int) -> Handler:
    """Bytes arrive in time for every read, but the whole body takes pause * pieces."""

    def handler(req: BaseHTTPRequestHandler, seen: Seen) -> None:
        req.send_response(200)
        req.send_header("Content-Length", str(pieces))
        req.end_headers()
        for _ in range(pieces):
            req.wfile.write(b" ")
            req.wfile.flush()
            time.sleep(pause)

    return handler


def truncated(body: bytes) -> Handler:
    def handler(req: BaseHTTPRequestHandler, seen: Seen) -> None:
        req.send_response(200)
        req.send_header("Content-Length", str(len(body) * 2))
        req.end_headers()
        req.wfile.write(body)
        req.wfile.flush()
        req.close_connection = True
        req.connection.shutdown(2)

    return handler


def huge(size: int, *, declare: bool) -> Handler:
    """``size`` bytes, with or without a Content-Length (chunked encoding without)."""

    def handler(req: BaseHTTPRequestHandler, seen: Seen) -> None:
        req.send_response(200)
        block = b"x" * 65536
        try:
            if declare:
                req.send_header("Content-Length", str(size))
                req.end_headers()
                for _ in range(size // len(block)):
                    req.wfile.write(block)
            else:
                req.send_header("Transfer-Encoding", "chunked")
                req.end_headers()
                for _ in range(size // len(block)):
                    req.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
                req.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    return handler


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        seen = Seen(
            parts.path,
            {k: v[-1] for k, v in parse_qs(parts.query).items()},
            {k.lower(): v for k, v in self.headers.items()},
            time.monotonic(),
        )
        feed = self.server.feed
        with feed.lock:
            feed.log.append(seen)
        handler = feed.routes.get(parts.path)
        if handler is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        handler(self, seen)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    feed: FeedServer


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = _Server(("127.0.0.1", 0), _RequestHandler)
    feed = FeedServer(port=server.server_address[1])
    server.feed = feed
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield feed
    finally:
        server.shutdown()
        server.server_close()
