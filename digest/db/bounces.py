"""Bounces and complaints in the database: the events, the score, and what they do.

The rules (Mailman's bounce scoring, adapted to a digest):

- **hard** (the address cannot receive mail: ``5.1.x``, ``5.2.1``): the reader becomes
  ``bounced`` at once, as a hard refusal in the sending path does;
- **soft** (``4.x.x``, delayed, mailbox full, other failures): the reader's
  ``bounce_score`` grows by 0.5, at most once per UTC day (a day's many bounces are one,
  as in Mailman); a score whose last bounce is older than ``DIGEST_BOUNCE_WINDOW_DAYS``
  starts again from 0; reaching ``DIGEST_BOUNCE_SCORE_THRESHOLD`` makes the reader
  ``bounced``. With the defaults (5 and 7 days) a reader is suppressed after ten days of
  soft bounces with no gap of more than a week;
- **complaint** (an ARF abuse report): the reader is unsubscribed, by the statement of the
  one-click unsubscribe (``accounts.unsubscribe_many``); the event says why;
- **policy** (``5.7.x``): recorded only: a refusal of our mail, not of the address.

Every one is a row of ``bounce_events`` for the operator (``digest bounces list``).
An unsubscribed reader stays unsubscribed whatever bounces afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from digest.db import accounts
from digest.db.models import BounceEventRow, DeliveryRow, SubscriberRow
from digest.db.statements import affected

SOFT_INCREMENT = 0.5
_DETAIL_CHARS = 1000


class BounceSettings(Protocol):
    """What the rules read from ``Settings`` (any object with these two will do)."""

    @property
    def bounce_score_threshold(self) -> float: ...
    @property
    def bounce_window_days(self) -> int: ...


@dataclass(frozen=True, slots=True)
class BounceRules:
    threshold: float = 5.0
    window: timedelta = timedelta(days=7)
    increment: float = SOFT_INCREMENT

    @classmethod
    def from_settings(cls, settings: BounceSettings) -> BounceRules:
        return cls(
            threshold=float(settings.bounce_score_threshold),
            window=timedelta(days=settings.bounce_window_days),
        )


def next_score(
    score: float, last_bounce_at: datetime | None, now: datetime, rules: BounceRules
) -> tuple[float, bool]:
    """Mailman's step for one soft bounce: ``(new score, counted)``. Pure.

    A score whose last bounce is older than the window starts again; a second bounce on
    the same UTC day as the last counted one changes nothing."""
    if last_bounce_at is None or now - last_bounce_at > rules.window:
        return rules.increment, True
    if last_bounce_at.astimezone(UTC).date() == now.astimezone(UTC).date():
        return score, False
    return score + rules.increment, True


@dataclass(frozen=True, slots=True)
class Scored:
    """What one soft bounce did to its reader."""

    score: float
    threshold: float
    counted: bool  # False: another soft bounce was already counted that day
    bounced: bool  # the reader became ``bounced`` by this bounce

    def describe(self) -> str:
        if self.bounced:
            return f"score {self.score:g}/{self.threshold:g}: reader bounced"
        note = "" if self.counted else " (already counted today)"
        return f"score {self.score:g}/{self.threshold:g}{note}"


# -- events --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BounceEvent:
    """One bounce, complaint or refusal as it is recorded (a row of ``bounce_events``):
    what the sending path and the report reader know, handed to the rule it triggers."""

    kind: str  # hard | soft | complaint | policy | a report's other kinds
    now: datetime
    subscriber_id: int | None = None
    delivery_id: int | None = None
    status: str | None = None  # the enhanced status code, e.g. 5.1.1
    detail: str = ""
    source: str = "report"  # report (a DSN or ARF message) | smtp (the sending path)
    report_key: str | None = None  # a report's identity, so that a re-read counts once


def record_event(session: Session, event: BounceEvent) -> None:
    session.add(
        BounceEventRow(
            subscriber_id=event.subscriber_id,
            delivery_id=event.delivery_id,
            kind=event.kind,
            status=(event.status or None) and event.status[:16],
            detail=(event.detail or "")[:_DETAIL_CHARS],
            source=event.source,
            report_key=(event.report_key or None) and event.report_key[:255],
            received_at=event.now,
        )
    )


def _reader_of(event: BounceEvent, kind: str) -> int:
    """The reader a rule acts on; the rule for ``kind`` is given only events of its kind."""
    if event.kind != kind or event.subscriber_id is None:
        raise ValueError(f"a {kind} rule needs a {kind} event with a reader, got {event!r}")
    return event.subscriber_id


def report_seen(session: Session, report_key: str | None) -> bool:
    """True when a report with this key was already recorded (the mailbox read again, or
    an LMTP client that sends a message again after a lost reply)."""
    if not report_key:
        return False
    found = session.scalar(
        select(BounceEventRow.id).where(BounceEventRow.report_key == report_key[:255]).limit(1)
    )
    return found is not None


# -- the rules -----------------------------------------------------------------------------
def suppress(session: Session, subscriber_id: int, *, now: datetime) -> bool:
    """The reader becomes ``bounced``: not planned or claimed again until they
    resubscribe. True when this changed their status."""
    result = session.execute(
        update(SubscriberRow)
        .where(
            SubscriberRow.id == subscriber_id,
            SubscriberRow.status.not_in(("unsubscribed", "bounced")),
        )
        .values(status="bounced", last_bounce_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(affected(result))


def record_hard_bounce(session: Session, event: BounceEvent) -> bool:
    """A hard bounce: the reader is suppressed at once; True when they were not before."""
    subscriber_id = _reader_of(event, "hard")
    record_event(session, event)
    return suppress(session, subscriber_id, now=event.now)


def record_soft_bounce(
    session: Session, event: BounceEvent, settings: BounceSettings | BounceRules
) -> Scored:
    """A soft bounce (a 4xx that finally failed, a delay notice, a full mailbox): the
    reader's score grows by Mailman's rule (:func:`next_score`), and at the threshold the
    reader is suppressed. Call it in the transaction that records the failure; the
    reader's row is locked (``FOR UPDATE`` on PostgreSQL) while the score changes."""
    subscriber_id, now = _reader_of(event, "soft"), event.now
    rules = settings if isinstance(settings, BounceRules) else BounceRules.from_settings(settings)
    record_event(session, event)
    row = session.execute(
        select(SubscriberRow.bounce_score, SubscriberRow.last_bounce_at)
        .where(SubscriberRow.id == subscriber_id)
        .with_for_update()
    ).one_or_none()
    if row is None:
        return Scored(0.0, rules.threshold, counted=False, bounced=False)
    score, counted = next_score(row.bounce_score or 0.0, row.last_bounce_at, now, rules)
    if counted:
        session.execute(
            update(SubscriberRow)
            .where(SubscriberRow.id == subscriber_id)
            .values(bounce_score=score, last_bounce_at=now)
            .execution_options(synchronize_session=False)
        )
    bounced = score >= rules.threshold and suppress(session, subscriber_id, now=now)
    return Scored(score, rules.threshold, counted=counted, bounced=bounced)


def record_complaint(session: Session, event: BounceEvent) -> bool:
    """A spam complaint: the reader is unsubscribed (reason ``complaint``, in the event).
    True when they were subscribed until now."""
    subscriber_id = _reader_of(event, "complaint")
    record_event(session, event)
    link_id = session.scalar(select(SubscriberRow.link_id).where(SubscriberRow.id == subscriber_id))
    if link_id is None:
        return False
    return bool(accounts.unsubscribe_many(session, [link_id], event.now).get(link_id))


def reset_score(session: Session, subscriber_id: int, *, now: datetime) -> None:
    """Forget the soft bounces (a reader who resubscribes or is reactivated by hand)."""
    session.execute(
        update(SubscriberRow)
        .where(SubscriberRow.id == subscriber_id)
        .values(bounce_score=0.0, last_bounce_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )


# -- reading -------------------------------------------------------------------------------
def policy_refusals(session: Session, edition_id: int) -> int:
    """Policy refusals (``5.7.x``) reported for this edition's deliveries: the readers
    whose providers refused our mail. Many of them mean the edition (or our DNS: SPF,
    DKIM, DMARC) is at fault, not the addresses."""
    return (
        session.scalar(
            select(func.count(func.distinct(BounceEventRow.delivery_id)))
            .join(DeliveryRow, DeliveryRow.id == BounceEventRow.delivery_id)
            .where(DeliveryRow.edition_id == edition_id, BounceEventRow.kind == "policy")
        )
        or 0
    )


@dataclass(frozen=True, slots=True)
class ListedEvent:
    """A recorded event as `digest bounces list` shows it, with the reader's address."""

    received_at: datetime
    kind: str
    status: str | None
    email: str | None
    subscriber_status: str | None
    delivery_id: int | None
    source: str
    detail: str

    def to_json(self) -> dict[str, object]:
        return {
            "received_at": self.received_at.isoformat(),
            "kind": self.kind,
            "status": self.status,
            "email": self.email,
            "subscriber_status": self.subscriber_status,
            "delivery_id": self.delivery_id,
            "source": self.source,
            "detail": self.detail,
        }


def recent_events(
    session: Session, *, since: datetime, limit: int = 200, kind: str | None = None
) -> list[ListedEvent]:
    """Bounce events received since ``since``, newest first, with the reader's address."""
    query = (
        select(
            BounceEventRow.received_at,
            BounceEventRow.kind,
            BounceEventRow.status,
            SubscriberRow.email,
            SubscriberRow.status,
            BounceEventRow.delivery_id,
            BounceEventRow.source,
            BounceEventRow.detail,
        )
        .outerjoin(SubscriberRow, SubscriberRow.id == BounceEventRow.subscriber_id)
        .where(BounceEventRow.received_at >= since)
        .order_by(BounceEventRow.received_at.desc(), BounceEventRow.id.desc())
        .limit(limit)
    )
    if kind is not None:
        query = query.where(BounceEventRow.kind == kind)
    return [ListedEvent(*row) for row in session.execute(query)]


# -- finding what a report is about --------------------------------------------------------
def subscriber_status(session: Session, subscriber_id: int) -> str | None:
    return session.scalar(select(SubscriberRow.status).where(SubscriberRow.id == subscriber_id))


def deliveries_matching(
    session: Session, *, delivery_id: int | None = None, message_id: str | None = None
) -> list[tuple[int, int, str]]:
    """(delivery id, subscriber id, address) of the ledger rows with this id or this
    Message-ID (at most 10)."""
    condition = (
        DeliveryRow.id == delivery_id
        if delivery_id is not None
        else DeliveryRow.message_id == message_id
    )
    rows = session.execute(
        select(DeliveryRow.id, DeliveryRow.subscriber_id, SubscriberRow.email)
        .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
        .where(condition)
        .limit(10)
    ).all()
    return [(d, s, e) for d, s, e in rows]


def delivery_of_message(session: Session, message_id: str, subscriber_id: int) -> int | None:
    """The ledger row of this reader that sent this Message-ID, if any."""
    return session.scalar(
        select(DeliveryRow.id).where(
            DeliveryRow.message_id == message_id, DeliveryRow.subscriber_id == subscriber_id
        )
    )
