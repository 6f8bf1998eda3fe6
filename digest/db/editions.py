"""Editions and their ledger rows, as planning and sending read them: the edition of a
slot (created once however many planners race), one pending row per (reader, edition),
the schedule fields of the active readers, the rows of a batch and their picks, and what
each reader was already sent.

The rows' state changes (claim, sent, failed, ...) are in :mod:`digest.db.ledger`; where
a run's rows stand is in :mod:`digest.db.tracking`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, text, update
from sqlalchemy.orm import Session

from digest.db.models import (
    DeliveryRow,
    EditionRow,
    SentPaperRow,
    SubscriberRow,
)
from digest.db.paper_values import to_json
from digest.db.statements import among, chunks, id_chunks, insert, table
from digest.domain import Pick
from digest.schedule import EditionSlot


def get_or_create_edition(session: Session, slot: EditionSlot, now: datetime) -> EditionRow:
    """Race-safe: concurrent planners insert the same key once, then both read it."""
    session.execute(
        insert(session, EditionRow)
        .values(
            key=slot.key, frequency=slot.frequency, period_start=slot.period_start, created_at=now
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    edition = session.scalar(select(EditionRow).where(EditionRow.key == slot.key))
    assert edition is not None
    return edition


def pause_edition(session: Session, edition_id: int, reason: str) -> str:
    """Stop an edition (nothing more is claimed from it) with the reason; its key."""
    edition = session.get_one(EditionRow, edition_id)
    if edition.paused_reason is None:
        edition.paused_reason = reason
    return edition.key


def resume_editions(session: Session) -> list[str]:
    """Lift every pause; the keys of the editions that were paused."""
    paused = list(session.scalars(select(EditionRow).where(EditionRow.paused_reason.is_not(None))))
    for edition in paused:
        edition.paused_reason = None
    return [e.key for e in paused]


def editions_by_ids(session: Session, ids: Iterable[int]) -> dict[int, EditionRow]:
    wanted = list(set(ids))
    return {e.id: e for e in session.scalars(select(EditionRow).where(EditionRow.id.in_(wanted)))}


def ensure_deliveries(session: Session, pairs: Sequence[tuple[int, int]], now: datetime) -> None:
    """One pending ledger row per (subscriber, edition); existing rows are left alone."""
    if session.get_bind().dialect.name == "postgresql":  # one statement of two arrays
        for chunk in chunks(pairs, 50_000):
            session.execute(
                _ENSURE_UNNEST,
                {"sub": [s for s, _ in chunk], "ed": [e for _, e in chunk], "now": now},
            )
        return
    for chunk in chunks(pairs):
        session.execute(
            insert(session, DeliveryRow)
            .values(
                [
                    {
                        "subscriber_id": s,
                        "edition_id": e,
                        "status": "pending",
                        "attempts": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for s, e in chunk
                ]
            )
            .on_conflict_do_nothing(index_elements=["subscriber_id", "edition_id"])
        )


# The PostgreSQL form of ensure_deliveries: as 500-row VALUES lists of six parameters a
# row, SQLAlchemy compiled and psycopg parsed 3,000 placeholders a statement (about
# 0.13 ms of the planner's CPU a reader); two integer arrays cost a few ms for 5,000.
_ENSURE_UNNEST = text(
    "INSERT INTO deliveries (subscriber_id, edition_id, status, attempts, created_at, "
    "updated_at) "
    "SELECT s, e, 'pending', 0, CAST(:now AS TIMESTAMP WITH TIME ZONE), "
    "CAST(:now AS TIMESTAMP WITH TIME ZONE) "
    "FROM unnest(CAST(:sub AS INTEGER[]), CAST(:ed AS INTEGER[])) AS v(s, e) "
    "ON CONFLICT (subscriber_id, edition_id) DO NOTHING"
)


def deliveries_for(session: Session, pairs: Sequence[tuple[int, int]]) -> list[DeliveryRow]:
    rows: list[DeliveryRow] = []
    for chunk in chunks(pairs, 250):
        condition = or_(
            *(and_(DeliveryRow.subscriber_id == s, DeliveryRow.edition_id == e) for s, e in chunk)
        )
        rows.extend(session.scalars(select(DeliveryRow).where(condition)))
    return sorted(rows, key=lambda r: r.id)


@dataclass(frozen=True, slots=True)
class Due:
    """What planning needs of an active subscriber: when their digest is due."""

    id: int
    email_key: str
    frequency: str
    delivery_hour: int
    timezone: str
    weekday: int


def due_fields(session: Session) -> list[Due]:
    """Every active subscriber's schedule, as plain values: columns only (no ORM objects,
    no interests), since planning 100,000 readers reads nothing else of them."""
    subscribers = table(SubscriberRow)
    statement = (
        select(
            subscribers.c.id,
            subscribers.c.email_key,
            subscribers.c.frequency,
            subscribers.c.delivery_hour,
            subscribers.c.timezone,
            subscribers.c.weekday,
        )
        .where(subscribers.c.status == "active")
        .order_by(subscribers.c.id)
    )
    return [Due(*row) for row in session.execute(statement)]


@dataclass(frozen=True, slots=True)
class Schedule:
    """Active readers who share a schedule, and so the edition due for them now: how many
    they are (planning on PostgreSQL works on these, not on every reader)."""

    frequency: str
    delivery_hour: int
    timezone: str
    weekday: int
    readers: int


def schedules(session: Session) -> list[Schedule]:
    """The active readers' distinct schedules, with their counts."""
    subscribers = table(SubscriberRow)
    keys = (
        subscribers.c.frequency,
        subscribers.c.delivery_hour,
        subscribers.c.timezone,
        subscribers.c.weekday,
    )
    statement = (
        select(*keys, func.count())
        .where(subscribers.c.status == "active")
        .group_by(*keys)
        .order_by(*keys)
    )
    return [Schedule(*row) for row in session.execute(statement)]


def plan_schedules(
    session: Session, due: Sequence[tuple[Schedule, int]], now: datetime
) -> list[PlannedRow]:
    """PostgreSQL: one ledger row for every active reader of each due (schedule, edition
    id), inserted by one statement that finds the readers itself, and the planned rows, by
    id. Planning 100,000 readers reader by reader read them all into the planner, sent
    their pairs back, then read the rows: 0.8 s of the planner's CPU before the first
    digest could go out, and the edition's candidate pool is built in a thread meanwhile.
    When fewer rows were new than the schedules have readers (a rerun, another planner
    at the same time), every planned row is read back, as :func:`planned_rows` does."""
    if not due:
        return []
    arrays = {
        "frequency": [s.frequency for s, _ in due],
        "hour": [s.delivery_hour for s, _ in due],
        "zone": [s.timezone for s, _ in due],
        "weekday": [s.weekday for s, _ in due],
        "edition": [edition for _, edition in due],
    }
    inserted = session.execute(_PLAN_SCHEDULES, arrays | {"now": now}).all()
    if len(inserted) >= sum(s.readers for s, _ in due):
        rows = [PlannedRow(row_id, sub, "pending", None, False) for row_id, sub in inserted]
    else:
        rows = [PlannedRow(*row) for row in session.execute(_PLANNED_BY_SCHEDULE, arrays)]
    return sorted(rows, key=lambda r: r.id)


_DUE_SCHEDULES = (
    "WITH due (frequency, delivery_hour, timezone, weekday, edition_id) AS ("
    "SELECT * FROM unnest(CAST(:frequency AS TEXT[]), CAST(:hour AS INTEGER[]), "
    "CAST(:zone AS TEXT[]), CAST(:weekday AS INTEGER[]), CAST(:edition AS INTEGER[]))), "
    "readers AS (SELECT s.id AS subscriber_id, due.edition_id FROM subscribers AS s "
    "JOIN due ON s.frequency = due.frequency AND s.delivery_hour = due.delivery_hour "
    "AND s.timezone = due.timezone AND s.weekday = due.weekday "
    "WHERE s.status = 'active') "
)
# Rows numbered in reader order, as planning reader by reader numbered them.
_PLAN_SCHEDULES = text(
    _DUE_SCHEDULES + "INSERT INTO deliveries (subscriber_id, edition_id, status, attempts, "
    "created_at, updated_at) "
    "SELECT subscriber_id, edition_id, 'pending', 0, CAST(:now AS TIMESTAMP WITH TIME ZONE), "
    "CAST(:now AS TIMESTAMP WITH TIME ZONE) FROM readers ORDER BY subscriber_id, edition_id "
    "ON CONFLICT (subscriber_id, edition_id) DO NOTHING "
    "RETURNING id, subscriber_id"
)
_PLANNED_BY_SCHEDULE = text(
    _DUE_SCHEDULES + "SELECT d.id, d.subscriber_id, d.status, d.next_attempt_at, "
    "d.picks IS NOT NULL FROM deliveries AS d JOIN readers AS r "
    "ON d.subscriber_id = r.subscriber_id AND d.edition_id = r.edition_id"
)


@dataclass(frozen=True, slots=True)
class PlannedRow:
    id: int
    subscriber_id: int
    status: str
    next_attempt_at: datetime | None
    ranked: bool  # its picks are stored


def planned_rows(session: Session, pairs: Sequence[tuple[int, int]]) -> list[PlannedRow]:
    """The ledger rows of these (subscriber, edition) pairs, columns only, by id. Many pairs
    are read edition by edition (one indexed query each, filtered here) rather than as
    hundreds of 250-way ORs."""
    if len(pairs) <= 1000:
        return [
            PlannedRow(r.id, r.subscriber_id, r.status, r.next_attempt_at, r.picks is not None)
            for r in deliveries_for(session, pairs)
        ]
    deliveries = table(DeliveryRow)
    wanted = set(pairs)
    found: list[PlannedRow] = []
    for edition in sorted({e for _, e in pairs}):
        statement = select(
            deliveries.c.id,
            deliveries.c.subscriber_id,
            deliveries.c.status,
            deliveries.c.next_attempt_at,
            deliveries.c.picks.is_not(None),
        ).where(deliveries.c.edition_id == edition)
        found.extend(
            PlannedRow(row_id, sub, status, next_at, ranked)
            for row_id, sub, status, next_at, ranked in session.execute(statement)
            if (sub, edition) in wanted
        )
    return sorted(found, key=lambda r: r.id)


def claimable(delivery: DeliveryRow | PlannedRow, now: datetime) -> bool:
    """Open and due: what :func:`claim_delivery` would take (reader status aside)."""
    return delivery.status == "pending" or (
        delivery.status == "retry"
        and (delivery.next_attempt_at is None or delivery.next_attempt_at <= now)
    )


def store_picks(session: Session, picks: Sequence[tuple[int, Sequence[Pick]]]) -> None:
    """Store each row's picks before sending, once (rows that have picks keep them): a
    retry or a concurrent batch sends the same. One statement for all (executemany)."""
    if not picks:
        return
    if session.get_bind().dialect.name == "postgresql":  # one statement, not one a row
        # Every row's picks sent as one JSON array: as an array of 5,000 JSON strings,
        # psycopg spent about 1.1 s of client CPU a chunk quoting them (0.2 ms a reader), as
        # one text 9 ms. Written by orjson: 2 us a reader, json.dumps 19 us (a fifth of
        # what ranking the reader costs); each row's element is what the column reads back.
        joined = to_json([[p.to_json() for p in chosen] for _, chosen in picks])
        session.execute(_STORE_PICKS_UNNEST, {"row_id": [i for i, _ in picks], "row_picks": joined})
        return
    deliveries = table(DeliveryRow)
    statement = (
        update(deliveries)
        .where(deliveries.c.id == bindparam("row_id"), deliveries.c.picks.is_(None))
        .values(picks=bindparam("row_picks"))
    )
    rows = [{"row_id": i, "row_picks": [p.to_json() for p in chosen]} for i, chosen in picks]
    session.execute(statement, rows)


# The n-th id gets the n-th element of the JSON array (json_array_elements gives each
# element's text as it was sent).
_STORE_PICKS_UNNEST = text(
    "UPDATE deliveries SET picks = v.picks "
    "FROM unnest(CAST(:row_id AS INTEGER[])) WITH ORDINALITY AS i(id, n) "
    "JOIN json_array_elements(CAST(:row_picks AS JSON)) WITH ORDINALITY AS v(picks, n) "
    "USING (n) "
    "WHERE deliveries.id = i.id AND deliveries.picks IS NULL"
)


def unranked_rows(session: Session, ids: Sequence[int]) -> list[tuple[int, int]]:
    """(row id, subscriber id) of the open rows among ``ids`` that have no picks yet, by
    row id: what an edition still has to rank (columns only, no ORM objects)."""
    deliveries = table(DeliveryRow)
    found: list[tuple[int, int]] = []
    for chunk in id_chunks(session, list(ids)):
        statement = select(deliveries.c.id, deliveries.c.subscriber_id).where(
            among(session, deliveries.c.id, chunk),
            deliveries.c.picks.is_(None),
            deliveries.c.status.in_(("pending", "retry")),
        )
        found.extend((row_id, sub) for row_id, sub in session.execute(statement))
    return sorted(found)


@dataclass(frozen=True, slots=True)
class BatchRow:
    """What sending reads of a ledger row."""

    id: int
    subscriber_id: int
    edition_id: int
    status: str
    attempts: int
    picks: list[dict[str, Any]] | None


def batch_rows(session: Session, ids: Sequence[int]) -> list[BatchRow]:
    """These ledger rows as :class:`BatchRow`, by id: columns, not ORM objects (a worker
    reads every row it sends)."""
    deliveries = table(DeliveryRow)
    columns = [deliveries.c[field.name] for field in fields(BatchRow)]
    rows: list[BatchRow] = []
    for chunk in id_chunks(session, list(ids)):
        statement = select(*columns).where(among(session, deliveries.c.id, chunk))
        rows.extend(BatchRow(*row) for row in session.execute(statement))
    return sorted(rows, key=lambda r: r.id)


def load_deliveries(session: Session, ids: Sequence[int]) -> list[DeliveryRow]:
    rows: list[DeliveryRow] = []
    for chunk in id_chunks(session, list(ids)):
        rows.extend(
            session.scalars(select(DeliveryRow).where(among(session, DeliveryRow.id, chunk)))
        )
    return sorted(rows, key=lambda r: r.id)


def sent_paper_ids(session: Session, subscriber_ids: Sequence[int]) -> dict[int, set[str]]:
    sent: dict[int, set[str]] = {}
    for chunk in id_chunks(session, list(subscriber_ids)):
        query = select(SentPaperRow.subscriber_id, SentPaperRow.paper_id).where(
            among(session, SentPaperRow.subscriber_id, chunk)
        )
        for subscriber_id, paper_id in session.execute(query):
            sent.setdefault(subscriber_id, set()).add(paper_id)
    return sent


def last_sent_at(session: Session, subscriber_ids: Sequence[int]) -> dict[int, datetime]:
    found: dict[int, datetime] = {}
    for chunk in id_chunks(session, list(subscriber_ids)):
        query = (
            select(DeliveryRow.subscriber_id, func.max(DeliveryRow.sent_at))
            .where(among(session, DeliveryRow.subscriber_id, chunk), DeliveryRow.status == "sent")
            .group_by(DeliveryRow.subscriber_id)
        )
        for subscriber_id, when in session.execute(query):
            if when is not None:
                found[subscriber_id] = when
    return found
