"""SQLAlchemy 2.0 typed ORM models: the one place that knows the schema.

Portable between SQLite and PostgreSQL: lists are JSON columns, enums are short strings
checked by the application, case-insensitive e-mail uniqueness uses a stored lower-case key.
Every change here needs an Alembic migration in ``digest/db/migrations/versions``.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which drops the offset) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # JSON columns are typed by what they hold; the map names each such type.
    type_annotation_map: ClassVar = {
        datetime: UTCDateTime(),
        list[str]: JSON,
        dict[str, Any]: JSON,
        list[dict[str, Any]]: JSON,
    }


class PaperRow(Base):
    """A paper, one row per canonical id whatever the version or source."""

    __tablename__ = "papers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(default=list)
    categories: Mapped[list[str]] = mapped_column(default=list)
    links: Mapped[dict[str, Any]] = mapped_column(default=dict)
    comment: Mapped[str | None] = mapped_column(Text)
    published_on: Mapped[date | None] = mapped_column(Date)
    announced_on: Mapped[date | None] = mapped_column(Date)
    first_seen_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    upvotes: Mapped[int | None] = mapped_column(Integer)
    github_stars: Mapped[int | None] = mapped_column(Integer)
    num_comments: Mapped[int | None] = mapped_column(Integer)
    sources: Mapped[list[str]] = mapped_column(default=list)
    # Added by ingestion (migration 0002):
    doi: Mapped[str | None] = mapped_column(String(200))
    journal_ref: Mapped[str | None] = mapped_column(Text)
    primary_category: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[int | None] = mapped_column(Integer)
    featured_on: Mapped[date | None] = mapped_column(Date)
    ai_summary: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(default=list, server_default="[]")
    affiliations: Mapped[list[str]] = mapped_column(default=list, server_default="[]")
    # Added by ranking (migration 0003): the sentence embedding (float32 bytes), computed
    # once at ingest when the semantic extra is installed; deferred so that loading papers
    # does not load vectors.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    embedding_model: Mapped[str | None] = mapped_column(String(64))


class PaperSightingRow(Base):
    """One source saw one paper: the digest of what it said last, to skip it when unchanged.

    Comparing this short hash is how a re-ingest recognises unchanged records without
    loading the paper rows; it also records which sources saw a paper and since when.
    """

    __tablename__ = "paper_sightings"
    __table_args__ = (Index("ix_paper_sightings_source_hash", "source", "content_hash"),)

    paper_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(32))
    first_seen_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SourceRow(Base):
    """A configured paper source and its ingestion state (cursor, HTTP validators, last run).

    Sources come from the TOML file (``origin='config'``) or from ``digest sources add``
    (``origin='cli'``); the state columns are kept for both.
    """

    __tablename__ = "sources"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    origin: Mapped[str] = mapped_column(String(10), default="cli")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    validators: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_run_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Kept across runs (migration 0007): when the source last worked, and its last failure.
    last_success_at: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]
    last_failure: Mapped[str | None] = mapped_column(Text)


def new_link_id() -> str:
    """128 random bits, URL-safe: the subscriber's identity inside signed links."""
    return secrets.token_urlsafe(16)


class SubscriberRow(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    frequency: Mapped[str] = mapped_column(String(10), default="daily")
    delivery_hour: Mapped[int] = mapped_column(Integer, default=7)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    # Added by the subscription site (migration 0005):
    # weekly readers' day, 0 = Monday ... 6 = Sunday
    weekday: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The random, opaque id every signed link carries instead of ``id``; replacing it
    # revokes every link sent before ("sign me out of all links", a resubscribe).
    link_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: new_link_id())
    paused_until: Mapped[datetime | None]
    # Consent: when and how the reader asked (and, for the web form, from which IP, as a
    # keyed hash, and which wording of the form they saw).
    consent_at: Mapped[datetime | None]
    consent_source: Mapped[str | None] = mapped_column(String(20))
    consent_ip_hash: Mapped[str | None] = mapped_column(String(64))
    consent_version: Mapped[str | None] = mapped_column(String(40))
    # Confirmation emails sent on ``confirm_day`` (UTC), to cap them per address and day.
    confirm_day: Mapped[date | None] = mapped_column(Date)
    confirm_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Asynchronous bounces (migration 0006; digest.db.bounces): Mailman's score of soft
    # bounces, restarted when the last one is older than DIGEST_BOUNCE_WINDOW_DAYS.
    bounce_score: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    last_bounce_at: Mapped[datetime | None]
    # What the greeting calls the reader (migration 0009); None: the first name of ``name``.
    greeting_name: Mapped[str | None] = mapped_column(String(100))

    interests: Mapped[list[InterestRow]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", order_by="InterestRow.id"
    )


INTEREST_KINDS = ("topic", "require", "exclude", "author", "category", "liked", "disliked")


class InterestRow(Base):
    """One interest of one subscriber: ``kind`` is one of :data:`INTEREST_KINDS`."""

    __tablename__ = "interests"
    __table_args__ = (UniqueConstraint("subscriber_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(1000))

    subscriber: Mapped[SubscriberRow] = relationship(back_populates="interests")


class EditionRow(Base):
    """One issue of the digest: ``key`` is ``daily:YYYY-MM-DD`` or ``weekly:YYYY-Www``."""

    __tablename__ = "editions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    frequency: Mapped[str] = mapped_column(String(10))
    period_start: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime]
    # Set when many providers refused this edition by policy (5.7.x): nothing more is
    # claimed until an operator resumes it (`digest run --resume`).
    paused_reason: Mapped[str | None] = mapped_column(Text)


DELIVERY_STATUSES = (
    "pending",
    "sending",
    "retry",
    "sent",
    "skipped",
    "failed",
    "bounced",
    "unknown",
)


class DeliveryRow(Base):
    """The ledger: at most one row, hence at most one email, per subscriber and edition."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "edition_id"),  # also serves by-reader reads
        Index("ix_deliveries_edition_status", "edition_id", "status"),
        # Expired leases (ledger.expire_leases): a row has a lease only while 'sending'.
        # Not on status, so that no plan serves "status = 'sending'" from it (migration 0010).
        Index(
            "ix_deliveries_lease_until",
            "lease_until",
            postgresql_where=text("lease_until IS NOT NULL"),
            sqlite_where=text("lease_until IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    picks: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True))
    message_id: Mapped[str | None] = mapped_column(String(255))
    smtp_reply: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class SentPaperRow(Base):
    """A paper that reached a subscriber: it is never sent to them again."""

    __tablename__ = "sent_papers"

    # No foreign keys (each was a referential check a paper sent, on the send loop's path,
    # migrations 0010 and 0011): removing a subscriber deletes their rows itself
    # (subscribers.remove_subscriber), as CASCADE did.
    subscriber_id: Mapped[int] = mapped_column(primary_key=True)
    paper_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    # The ledger row it went with: retention clears it (ledger.prune_settled), as SET NULL did.
    delivery_id: Mapped[int | None]
    sent_at: Mapped[datetime]


FEEDBACK_KINDS = ("up", "down", "click")


class FeedbackEventRow(Base):
    """A reader's 👍 (up), 👎 (down) or click on a paper they were sent; ranking learns
    from these (``digest.rank.feedback``)."""

    __tablename__ = "feedback_events"
    __table_args__ = (
        Index("ix_feedback_events_subscriber_created", "subscriber_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    paper_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime]


class TextEmbeddingRow(Base):
    """The sentence embedding of a reader's topic text (float32 bytes), stored the first
    time a ranking needs it: topics recur in every edition, and a run started by cron
    would otherwise run the model on every reader's topics each time. Keyed by a SHA-256
    of the text (``digest.rank.vectors.text_key``), so the table holds no reader's words."""

    __tablename__ = "text_embeddings"

    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    text_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


BOUNCE_KINDS = ("hard", "soft", "complaint", "policy")


class BounceEventRow(Base):
    """One bounce or complaint, for the operator's record (``digest bounces list``).

    ``subscriber_id`` is NULL for a report that names no delivery of ours; ``report_key``
    (the report's Message-ID, or a hash of it) makes reading the same mailbox twice
    harmless."""

    __tablename__ = "bounce_events"
    __table_args__ = (
        Index("ix_bounce_events_subscriber_received", "subscriber_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE")
    )
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(12))
    status: Mapped[str | None] = mapped_column(String(16))  # RFC 3463 code, e.g. 5.1.1
    detail: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(12), default="report")  # report | smtp
    report_key: Mapped[str | None] = mapped_column(String(255), index=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
