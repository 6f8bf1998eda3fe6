"""Readers with a sent digest to bounce, and the fixtures' VERP address rewritten to theirs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from digest.db.engine import Database
from digest.db.models import DeliveryRow, EditionRow, SubscriberRow, new_link_id
from digest.deliver.verp import verp_address, verp_key
from tests.conftest import FIXTURES

SECRET = "test-secret-key-0123456789"  # the digest_env fixture's key
MAILBOX = "bounces@digest.test"  # DIGEST_FROM digest@digest.test -> bounces@digest.test
FIXTURE_VERP = b"bounces+d42-k5t2abcdxq@digest.test"
FIXTURE_MESSAGE_ID = b"<digest.42.daily.2025-05-30@digest.test>"
NOW = datetime(2025, 5, 30, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Sent:
    subscriber_id: int
    delivery_id: int
    email: str
    message_id: str
    link_id: str

    @property
    def verp(self) -> str:
        return verp_address(verp_key(SECRET), self.delivery_id, MAILBOX)


def add_sent(db: Database, email: str, *, edition_key: str = "daily:2025-05-30") -> Sent:
    """An active reader and a sent digest of ``edition_key`` (the edition made if new)."""
    with db.session() as session:
        edition = session.query(EditionRow).filter_by(key=edition_key).one_or_none()
        if edition is None:
            edition = EditionRow(
                key=edition_key, frequency="daily", period_start=date(2025, 5, 30), created_at=NOW
            )
            session.add(edition)
        row = SubscriberRow(
            email=email,
            email_key=email.lower(),
            status="active",
            created_at=NOW,
            updated_at=NOW,
            link_id=new_link_id(),
        )
        session.add(row)
        session.flush()
        delivery = DeliveryRow(
            edition_id=edition.id,
            subscriber_id=row.id,
            status="sent",
            created_at=NOW,
            updated_at=NOW,
            sent_at=NOW,
        )
        session.add(delivery)
        session.flush()
        message_id = f"<digest.{delivery.id}.{edition_key.replace(':', '.')}@digest.test>"
        delivery.message_id = message_id
        return Sent(row.id, delivery.id, email, message_id, row.link_id)


def report_for(name: str, sent: Sent, *, verp: bool = True) -> bytes:
    """A fixture rewritten for ``sent`` (its VERP address and Message-ID), with CRLF line
    ends as on the wire."""
    raw = (FIXTURES / "bounces" / name).read_bytes().replace(b"\n", b"\r\n")
    raw = raw.replace(FIXTURE_MESSAGE_ID, sent.message_id.encode())
    return raw.replace(FIXTURE_VERP, sent.verp.encode() if verp else b"bounces@digest.test")


def status_of(db: Database, subscriber_id: int) -> tuple[str, float]:
    with db.session() as session:
        row = session.get(SubscriberRow, subscriber_id)
        assert row is not None
        return row.status, row.bounce_score
