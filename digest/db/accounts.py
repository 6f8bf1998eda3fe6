"""Named queries of the subscription site: readers found by link id, their status changes,
consent, votes and past digests.

Kept apart from ``subscribers.py`` (subscriber administration: the CLI, imports): this
module is what the web pages and the subscription service ask of the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import Connection, Select, bindparam, delete, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload

from digest.db.models import (
    DeliveryRow,
    EditionRow,
    FeedbackEventRow,
    PaperRow,
    SubscriberRow,
    new_link_id,
)
from digest.db.statements import affected, table

T = TypeVar("T")


def subscriber_by_link(session: Session, link_id: str) -> SubscriberRow | None:
    """The reader a signed link names, or None when that link id was replaced (revoked)."""
    if not link_id or len(link_id) > 64:
        return None
    return session.scalar(
        select(SubscriberRow)
        .options(selectinload(SubscriberRow.interests))
        .where(SubscriberRow.link_id == link_id)
    )


def delivery_reader(
    session: Session, delivery_id: int
) -> tuple[SubscriberRow, list[object]] | None:
    """The reader of a ledger row and the row's picks (a short feedback link names its
    paper by position in them), or None when the row is gone (pruned, or the reader
    deleted)."""
    found = session.execute(
        select(SubscriberRow, DeliveryRow.picks)
        .join(DeliveryRow, DeliveryRow.subscriber_id == SubscriberRow.id)
        .options(selectinload(SubscriberRow.interests))
        .where(DeliveryRow.id == delivery_id)
    ).first()
    if found is None:
        return None
    row, picks = found
    return row, list(picks or [])


def rotate_link_id(row: SubscriberRow, now: datetime) -> str:
    """Give the reader a new link id: every link sent before stops working."""
    row.link_id = new_link_id()
    row.updated_at = now
    return row.link_id


_subscribers = table(SubscriberRow)
# The one-click POST's statements, built once (Core: no ORM work per request).
_UNSUBSCRIBE_MANY = (
    update(_subscribers)
    .where(
        _subscribers.c.link_id.in_(bindparam("lids", expanding=True)),
        _subscribers.c.status != "unsubscribed",
    )
    .values(
        status="unsubscribed",
        unsubscribed_at=bindparam("at"),
        paused_until=None,
        updated_at=bindparam("at"),
    )
    .returning(_subscribers.c.link_id)
)
_LINKS_EXISTING = select(_subscribers.c.link_id).where(
    _subscribers.c.link_id.in_(bindparam("lids", expanding=True))
)


def unsubscribe_many(
    conn: Connection | Session, link_ids: list[str], now: datetime
) -> dict[str, bool | None]:
    """Unsubscribe the readers of these links at once (one-click POSTs arriving together),
    in one statement: each link id -> True (unsubscribed now), False (already: a repeated
    POST changes nothing), None (no such reader: the link was revoked)."""
    wanted = list(dict.fromkeys(link_ids))
    changed = set(conn.scalars(_UNSUBSCRIBE_MANY, {"lids": wanted, "at": now}))
    rest = [lid for lid in wanted if lid not in changed]
    known = set(conn.scalars(_LINKS_EXISTING, {"lids": rest})) if rest else set()
    return {lid: True if lid in changed else (False if lid in known else None) for lid in wanted}


def count_confirmation(row: SubscriberRow, today: date, limit: int) -> bool:
    """Count one confirmation email for today; False (and nothing counted) past ``limit``."""
    if row.confirm_day != today:
        row.confirm_day, row.confirm_count = today, 0
    if row.confirm_count >= limit:
        return False
    row.confirm_count += 1
    return True


def resume_paused(session: Session, now: datetime) -> int:
    """Readers whose pause has ended become active again (run when an edition is planned)."""
    result = session.execute(
        update(SubscriberRow)
        .where(
            SubscriberRow.status == "paused",
            SubscriberRow.paused_until.is_not(None),
            SubscriberRow.paused_until <= now,
        )
        .values(status="active", paused_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return affected(result)


# -- votes -------------------------------------------------------------------------------
def _newest_vote(column: InstrumentedAttribute[T], subscriber_id: int, paper_id: str) -> Select[T]:
    """``column`` of the reader's newest 👍/👎 event on a paper (the one ranking obeys)."""
    return (
        select(column)
        .where(
            FeedbackEventRow.subscriber_id == subscriber_id,
            FeedbackEventRow.paper_id == paper_id,
            FeedbackEventRow.kind.in_(("up", "down")),
        )
        .order_by(FeedbackEventRow.created_at.desc(), FeedbackEventRow.id.desc())
        .limit(1)
    )


def latest_vote(session: Session, subscriber_id: int, paper_id: str) -> str | None:
    """The reader's standing 👍/👎 on a paper (the newest event wins, as in ranking)."""
    return session.scalar(_newest_vote(FeedbackEventRow.kind, subscriber_id, paper_id))


def undo_latest_vote(session: Session, subscriber_id: int, paper_id: str) -> bool:
    """Delete the newest 👍/👎 on a paper, so the one before it (if any) stands again."""
    newest = session.scalar(_newest_vote(FeedbackEventRow.id, subscriber_id, paper_id))
    if newest is None:
        return False
    session.execute(delete(FeedbackEventRow).where(FeedbackEventRow.id == newest))
    return True


def paper_title(session: Session, paper_id: str) -> str | None:
    return session.scalar(select(PaperRow.title).where(PaperRow.id == paper_id))


# -- past digests ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PastDigest:
    edition_key: str
    period_start: date
    sent_at: datetime
    papers: int


def past_digests(session: Session, subscriber_id: int, limit: int = 100) -> list[PastDigest]:
    """The reader's sent digests, newest first."""
    rows = session.execute(
        select(EditionRow.key, EditionRow.period_start, DeliveryRow.sent_at, DeliveryRow.picks)
        .join(EditionRow, EditionRow.id == DeliveryRow.edition_id)
        .where(DeliveryRow.subscriber_id == subscriber_id, DeliveryRow.status == "sent")
        .order_by(DeliveryRow.sent_at.desc())
        .limit(limit)
    )
    return [
        PastDigest(key, start, sent_at, len(picks or []))
        for key, start, sent_at, picks in rows
        if sent_at is not None
    ]


def sent_delivery(
    session: Session, subscriber_id: int, edition_key: str
) -> tuple[DeliveryRow, EditionRow] | None:
    """The reader's sent delivery of one edition, with the edition."""
    row = session.execute(
        select(DeliveryRow, EditionRow)
        .join(EditionRow, EditionRow.id == DeliveryRow.edition_id)
        .where(
            DeliveryRow.subscriber_id == subscriber_id,
            EditionRow.key == edition_key,
            DeliveryRow.status == "sent",
        )
    ).first()
    return None if row is None else (row[0], row[1])
