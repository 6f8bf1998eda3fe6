"""Shared fixtures: real SQLite and PostgreSQL databases, Redis, an aiosmtpd server.

Without ``DIGEST_REQUIRE_SERVICES=1`` a test that needs an absent PostgreSQL or Redis is
skipped with the reason; with it (as in CI) the absence fails the test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from digest.db import Database

PG_ADMIN_URL = os.environ.get("DIGEST_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# A Redis server of the test session's own (redis-server on a free port) unless these name
# one: then tests use its database numbers 9-13, shared with anything else using them.
REDIS_HOST = os.environ.get("DIGEST_TEST_REDIS_HOST", "")
REDIS_PORT = int(os.environ.get("DIGEST_TEST_REDIS_PORT", "6379"))
REDIS_DB = int(os.environ.get("DIGEST_TEST_REDIS_DB", "13"))
FIXTURES = Path(__file__).parent / "fixtures"


def services_required() -> bool:
    return os.environ.get("DIGEST_REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def missing_service(reason: str) -> None:
    """Skip, or fail when services are required (CI)."""
    if services_required():
        pytest.fail(f"{reason} (DIGEST_REQUIRE_SERVICES=1 makes this a failure)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- databases ------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The admin URL of a reachable PostgreSQL server."""
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        missing_service(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {str(exc).splitlines()[0]}")
    yield PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A throwaway PostgreSQL database, dropped after the test."""
    import psycopg

    name = f"digest_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = pg_server.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'digest.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'digest.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated database on each engine of ``db_url``."""
    from digest.db import Database

    database = Database(db_url)
    database.upgrade()
    yield database
    database.dispose()


# -- redis ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RedisServer:
    host: str
    port: int

    def url(self, db: int) -> str:
        return f"redis://{self.host}:{self.port}/{db}"


def _private_redis(folder: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    """A redis-server of this test session's own on a free port, keeping nothing on disk:
    two test runs on one machine (or a test run beside a benchmark) then never consume
    each other's Celery queue, locks or rate-limit buckets. None without the binary."""
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return server, port


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A reachable Redis server: the session's own, or DIGEST_TEST_REDIS_HOST's."""
    import redis

    private = None if REDIS_HOST else _private_redis(tmp_path_factory.mktemp("redis"))
    host, port = (REDIS_HOST or "127.0.0.1", private[1] if private else REDIS_PORT)
    client = redis.Redis(host=host, port=port, socket_timeout=3)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                client.ping()
                break
            except redis.RedisError as exc:
                if private is None or time.monotonic() > deadline:
                    missing_service(f"Redis not reachable at {host}:{port}: {exc}")
                time.sleep(0.05)
        yield RedisServer(host, port)
    finally:
        client.close()
        if private is not None:
            private[0].terminate()
            private[0].wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """A dedicated Redis database number, flushed before and after the test."""
    yield from flushed_redis(redis_server, REDIS_DB)


def flushed_redis(server: RedisServer, db: int) -> Iterator[str]:
    """``server``'s database ``db``, flushed before and after the test using it."""
    import redis

    client = redis.Redis(host=server.host, port=server.port, db=db, socket_timeout=3)
    client.flushdb()
    yield server.url(db)
    client.flushdb()
    client.close()


# -- smtp -----------------------------------------------------------------------------
@dataclass
class SmtpSink:
    """A real aiosmtpd server on a free port that keeps what it receives."""

    host: str
    port: int
    envelopes: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            raw = [data for _, _, data in self.envelopes]
        return [message_from_bytes(data, policy=policy.default) for data in raw]  # type: ignore[misc]

    def by_recipient(self) -> dict[str, EmailMessage]:
        with self.lock:
            items = list(self.envelopes)
        return {
            rcpts[0]: message_from_bytes(data, policy=policy.default)  # type: ignore[misc]
            for _, rcpts, data in items
        }


class _Handler:
    """Keeps what it receives and announces PIPELINING, as Postfix and most relays do, so
    the tests built on it take the path production takes (MAIL, RCPT and DATA in one
    write); relays with handlers of their own (no PIPELINING) cover the other path."""

    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server, session, envelope):
        with self.sink.lock:
            self.sink.envelopes.append(
                (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink("127.0.0.1", free_port())
    controller = Controller(_Handler(sink), hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


# -- environment ----------------------------------------------------------------------
@pytest.fixture
def digest_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """A clean DIGEST_* environment pointing at tmp_path; tests add what they need."""
    for key in list(os.environ):
        if (
            key.startswith("DIGEST_")
            and key not in ("DIGEST_REQUIRE_SERVICES", "DIGEST_REQUIRE_SEMANTIC")
            and not key.startswith("DIGEST_TEST_")
        ):
            monkeypatch.delenv(key)
    env = {
        "DIGEST_VAR_DIR": str(tmp_path / "var"),
        "DIGEST_SECRET_KEY": "test-secret-key-0123456789",
        "DIGEST_FROM": "digest <digest@digest.test>",
        "DIGEST_BASE_URL": "https://digest.test",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return env
