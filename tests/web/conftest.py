"""The site through Starlette's test client, on a real SQLite or PostgreSQL database.

Emails go to a :class:`MemoryTransport` (the site sends them after each response; the test
client waits for that) and the clock can be moved, so a test reads the confirmation email
the site just sent and follows its link like a reader would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import inspect, select, text
from starlette.testclient import TestClient

from digest.db import Database, subscribers
from digest.db.models import SubscriberRow
from digest.db.papers import upsert_papers
from digest.deliver.transports import MemoryTransport
from digest.demo import sample_papers_path
from digest.ingest.parse_jsonl import parse_jsonl, read_lines
from digest.pipeline.edition import run_edition
from digest.pipeline.runtime import Runtime
from digest.settings import Settings
from digest.subscriber_spec import validate_spec
from digest.web.app import create_app
from digest.web.feedback import feedback_target
from digest.web.ratelimit import MemoryRateLimiter

BASE = "https://digest.test"
LINK = re.compile(r"https://digest\.test(/[^\s<>\"')]+)")


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Harness:
    rt: Runtime
    client: TestClient
    outbox: MemoryTransport
    clock: Clock
    limiter: MemoryRateLimiter

    # -- data ---------------------------------------------------------------------------
    def load_sample_papers(self) -> None:
        parsed = parse_jsonl(read_lines(sample_papers_path()), source="sample")
        with self.rt.db.session() as session:
            upsert_papers(session, parsed.records, self.clock())

    def add(self, email: str, **fields: Any) -> SubscriberRow:
        spec = validate_spec({"email": email, **fields})
        with self.rt.db.session() as session:
            return subscribers.add_subscriber(session, spec, self.clock())

    def reader(self, email: str) -> SubscriberRow | None:
        with self.rt.db.session() as session:
            return subscribers.find_subscriber(session, email)

    def send_edition(self, *emails: str) -> None:
        report = run_edition(self.rt, emails=list(emails) or None)
        assert report.ok, report.result.outcomes

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, to show that a request changed nothing."""
        with self.rt.db.engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            return {
                t: sorted(map(tuple, conn.execute(text(f'SELECT * FROM "{t}"'))), key=repr)
                for t in tables
            }

    def count(self, sql: str, **params: Any) -> int:
        with self.rt.db.engine.connect() as conn:
            return int(conn.execute(text(sql), params).scalar_one())

    # -- mail ---------------------------------------------------------------------------
    def mails(self, to: str | None = None) -> list[EmailMessage]:
        return [
            message_from_bytes(m.data, policy=policy.default)  # type: ignore[misc]
            for m in self.outbox.sent
            if to is None or m.recipient == to
        ]

    def last_mail(self, to: str) -> EmailMessage:
        found = self.mails(to)
        assert found, f"no email to {to}"
        return found[-1]


def body_text(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def feedback_of(h: Harness, path: str) -> tuple[str, str]:
    """The (link id, paper id) a feedback path ``/f/TOKEN/VOTE`` names, either form."""
    token = path.split("/")[2]
    if "." in token:
        payload = h.rt.signer.verify("feedback", token)
        assert isinstance(payload, list)
        return payload[0], payload[1]
    with h.rt.db.session() as session:
        target = feedback_target(session, h.rt.signer, h.rt.signer.feedback_ref(token))
        assert isinstance(target, tuple), target
        return target[0].link_id, target[1]


def links_in(msg: EmailMessage, prefix: str = "/") -> list[str]:
    """Site paths linked from an email (text and HTML parts, and List-Unsubscribe)."""
    found: list[str] = []
    parts = [body_text(msg), msg.get_body(("html",)).get_content()]  # type: ignore[union-attr]
    parts.append(str(msg.get("List-Unsubscribe", "")))
    for part in parts:
        for path in LINK.findall(part.replace("&amp;", "&")):
            if path.startswith(prefix) and path not in found:
                found.append(path)
    return found


@pytest.fixture
def harness(db_url: str, tmp_path) -> Iterator[Harness]:  # type: ignore[no-untyped-def]
    settings = Settings.from_env(
        {
            "DIGEST_DATABASE_URL": db_url,
            "DIGEST_VAR_DIR": str(tmp_path / "var"),
            "DIGEST_SECRET_KEY": "web-test-secret-0123456789",
            "DIGEST_BASE_URL": BASE,
            "DIGEST_FROM": "Paper Digest <digest@digest.test>",
            "DIGEST_WEB_CACHE_SECONDS": "0",
        }
    )
    db = Database(db_url)
    db.upgrade()
    outbox = MemoryTransport()
    clock = Clock()
    rt = Runtime.from_settings(settings, db=db, transport_factory=lambda: outbox, clock=clock)
    limiter = MemoryRateLimiter(clock=lambda: clock().timestamp())
    app = create_app(rt, limiter=limiter)
    with TestClient(app, base_url=BASE, raise_server_exceptions=True) as client:
        yield Harness(rt, client, outbox, clock, limiter)
    db.dispose()


def subscriber_ids(h: Harness) -> list[int]:
    with h.rt.db.session() as session:
        return list(session.scalars(select(SubscriberRow.id)))
