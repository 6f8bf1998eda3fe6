"""Where an edition's ledger rows stand, as a run follows and reports them: counts per
state, the rows still open, the relay errors noted by batches that stopped, each row's
outcome. Cheap reads through the ``(edition_id, status)`` index; workers move the rows,
``digest run`` only watches them (:mod:`digest.pipeline.fanout`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from digest.db.models import (
    DeliveryRow,
    EditionRow,
    SubscriberRow,
)
from digest.db.statements import among, id_chunks


@dataclass(frozen=True, slots=True)
class LedgerState:
    """The states of a set of ledger rows, and when the earliest retry is due."""

    counts: Counter[str]
    next_retry_at: datetime | None


def ledger_state(session: Session, delivery_ids: Sequence[int]) -> LedgerState:
    counts: Counter[str] = Counter()
    next_retry: datetime | None = None
    for chunk in id_chunks(session, list(delivery_ids)):
        query = (
            select(DeliveryRow.status, func.count(), func.min(DeliveryRow.next_attempt_at))
            .where(among(session, DeliveryRow.id, chunk))
            .group_by(DeliveryRow.status)
        )
        for status, count, earliest in session.execute(query):
            counts[status] += count
            if status == "retry" and earliest is not None:
                next_retry = earliest if next_retry is None else min(next_retry, earliest)
    return LedgerState(counts, next_retry)


def following(
    session: Session, delivery_ids: Sequence[int], now: datetime, *, since: datetime
) -> tuple[dict[int, str], int]:
    """The rows still to be handled now (pending, sending, or a retry whose time has come;
    a retry due later is settled for this pass): id -> status, and how many of them are
    pending with a relay error noted since ``since`` (a run's start). Both from the rows
    themselves, by id: following the last rows of an edition."""
    noted = _noted_since(since)
    found: dict[int, str] = {}
    errors = 0
    for chunk in id_chunks(session, list(delivery_ids)):
        query = select(DeliveryRow.id, DeliveryRow.status, noted).where(
            among(session, DeliveryRow.id, chunk), _open_now(now)
        )
        for row_id, status, has_error in session.execute(query):
            found[row_id] = status
            errors += bool(has_error)
    return found, errors


def _noted_since(since: datetime) -> ColumnElement[bool]:
    """A pending row carrying a relay error noted since ``since`` (a run's start): a batch
    stopped on it because the relay refused the session (``note_session_error``)."""
    return and_(
        DeliveryRow.status == "pending",
        DeliveryRow.last_error.is_not(None),
        DeliveryRow.updated_at >= since,
    )


def _open_now(now: datetime) -> ColumnElement[bool]:
    """Pending, sending, or a retry whose time has come."""
    return or_(
        DeliveryRow.status.in_(("pending", "sending")),
        and_(
            DeliveryRow.status == "retry",
            or_(DeliveryRow.next_attempt_at.is_(None), DeliveryRow.next_attempt_at <= now),
        ),
    )


def edition_ids_of(session: Session, delivery_ids: Sequence[int]) -> list[int]:
    """The editions these ledger rows belong to."""
    found: set[int] = set()
    for chunk in id_chunks(session, list(delivery_ids)):
        query = (
            select(DeliveryRow.edition_id).where(among(session, DeliveryRow.id, chunk)).distinct()
        )
        found.update(session.scalars(query))
    return sorted(found)


def open_in_editions(
    session: Session, edition_ids: Sequence[int], now: datetime, *, since: datetime
) -> tuple[int, int]:
    """How many rows of these editions are still to be handled now (pending, sending, or
    a retry that is due), and how many pending ones carry a relay error noted since
    ``since``: one cheap query (through the status index) for following a big edition."""
    is_open = _open_now(now)
    noted = _noted_since(since)
    count, errors = session.execute(
        select(func.count(), func.coalesce(func.sum(case((noted, 1), else_=0)), 0)).where(
            DeliveryRow.status.in_(("pending", "sending", "retry")),
            DeliveryRow.edition_id.in_(list(edition_ids)),
            is_open,
        )
    ).one()
    return int(count), int(errors)


def note_session_error(
    session: Session, delivery_ids: Sequence[int], reason: str, now: datetime
) -> None:
    """A batch could not reach the relay: its ``pending`` rows keep their state and carry
    the reason (a pending row has no error otherwise), for the run that waits on them."""
    for chunk in id_chunks(session, list(delivery_ids)):
        session.execute(
            update(DeliveryRow)
            .where(among(session, DeliveryRow.id, chunk), DeliveryRow.status == "pending")
            .values(last_error=reason[:2000], updated_at=now)
            .execution_options(synchronize_session=False)
        )


def session_errors(session: Session, delivery_ids: Sequence[int], since: datetime) -> list[str]:
    """The distinct relay errors noted on open rows since ``since`` (a run's start)."""
    errors: list[str] = []
    for chunk in id_chunks(session, list(delivery_ids)):
        query = (
            select(DeliveryRow.last_error)
            .where(
                among(session, DeliveryRow.id, chunk),
                _noted_since(since),
            )
            .distinct()
        )
        errors.extend(e for e in session.scalars(query) if e and e not in errors)
    return errors


def outcomes_of(session: Session, delivery_ids: Sequence[int]) -> list[dict[str, object]]:
    """Where each row stands, as a run reports it (for rows delivered by workers)."""
    found: list[dict[str, object]] = []
    for chunk in id_chunks(session, list(delivery_ids)):
        query = (
            select(
                DeliveryRow.id,
                SubscriberRow.email,
                EditionRow.key,
                DeliveryRow.status,
                DeliveryRow.last_error,
                DeliveryRow.message_id,
            )
            .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
            .join(EditionRow, EditionRow.id == DeliveryRow.edition_id)
            .where(among(session, DeliveryRow.id, chunk))
        )
        for delivery_id, email, edition, status, error, message_id in session.execute(query):
            outcome: dict[str, object] = {
                "delivery": delivery_id,
                "email": email,
                "edition": edition,
                "status": status,
            }
            if status == "sent":
                outcome["message_id"] = message_id
            elif error:
                outcome["detail"] = error
            found.append(outcome)
    return sorted(found, key=lambda o: int(o["delivery"]))  # type: ignore[call-overload]
