"""Named queries: every database statement of digest lives here, with its reason beside it.

The rest of the code asks for things by name (``claim_deliveries``, ``upsert_papers``) and
gets plain data or ORM rows back; it never builds SQL itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from digest.db.models import (
    FEEDBACK_KINDS,
    DeliveryRow,
    EditionRow,
    FeedbackEventRow,
    InterestRow,
    PaperRow,
    SentPaperRow,
    SubscriberRow,
    TextEmbeddingRow,
)
from digest.db.papers import paper_from_row
from digest.domain import FeedbackEvent, Paper, Pick, Profile, SubscriberInfo
from digest.errors import InputError, NotFoundError
from digest.schedule import EditionSlot
from digest.subscriber_spec import INTEREST_KIND, LIST_FIELDS, SubscriberSpec, email_key

CHUNK = 500  # ids per IN (...) list: well under SQLite's bound-parameter limit


def _insert(session: Session, model: type):  # type: ignore[no-untyped-def]
    """INSERT with ``on_conflict_do_nothing`` for the session's dialect."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def _chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:  # type: ignore[type-arg]
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- subscribers ------------------------------------------------------------------------
def _subscribers() -> Select:  # type: ignore[type-arg]
    return select(SubscriberRow).options(selectinload(SubscriberRow.interests))


def find_subscriber(session: Session, email: str) -> SubscriberRow | None:
    return session.scalar(_subscribers().where(SubscriberRow.email_key == email_key(email)))


def get_subscriber(session: Session, email: str) -> SubscriberRow:
    row = find_subscriber(session, email)
    if row is None:
        raise NotFoundError(f"no subscriber with address {email!r}")
    return row


def list_subscribers(session: Session, status: str | None = None) -> list[SubscriberRow]:
    query = _subscribers().order_by(SubscriberRow.id)
    if status:
        query = query.where(SubscriberRow.status == status)
    return list(session.scalars(query))


def subscribers_by_ids(session: Session, ids: Iterable[int]) -> dict[int, SubscriberRow]:
    wanted = list(dict.fromkeys(ids))
    found: dict[int, SubscriberRow] = {}
    for chunk in _chunks(wanted):
        for row in session.scalars(_subscribers().where(SubscriberRow.id.in_(chunk))):
            found[row.id] = row
    return found


def add_subscriber(session: Session, spec: SubscriberSpec, now: datetime) -> SubscriberRow:
    key = email_key(spec.email)
    if session.scalar(select(SubscriberRow.id).where(SubscriberRow.email_key == key)):
        raise InputError(f"a subscriber with address {spec.email!r} already exists")
    row = SubscriberRow(
        email=spec.email,
        email_key=key,
        name=spec.name,
        greeting_name=spec.greeting_name,
        status=spec.status,
        timezone=spec.timezone,
        frequency=spec.frequency,
        delivery_hour=spec.delivery_hour,
        weekday=spec.weekday,
        created_at=now,
        updated_at=now,
        confirmed_at=now if spec.status == "active" else None,
        unsubscribed_at=now if spec.status == "unsubscribed" else None,
    )
    row.interests = [InterestRow(kind=k, value=v) for k, v in spec.interests()]
    session.add(row)
    session.flush()
    return row


def replace_subscriber(
    session: Session, row: SubscriberRow, spec: SubscriberSpec, now: datetime
) -> SubscriberRow:
    """Make ``row`` say what ``spec`` says (used by update and by import of known addresses)."""
    key = email_key(spec.email)
    if key != row.email_key:
        other = session.scalar(select(SubscriberRow.id).where(SubscriberRow.email_key == key))
        if other:
            raise InputError(f"a subscriber with address {spec.email!r} already exists")
    if spec.status != row.status:
        if spec.status == "active" and row.confirmed_at is None:
            row.confirmed_at = now
        if spec.status == "unsubscribed":
            row.unsubscribed_at = now
    row.email, row.email_key, row.name = spec.email, key, spec.name
    row.status, row.timezone = spec.status, spec.timezone
    row.frequency, row.delivery_hour = spec.frequency, spec.delivery_hour
    row.weekday, row.greeting_name = spec.weekday, spec.greeting_name
    wanted = spec.interests()
    current = {(i.kind, i.value): i for i in row.interests}
    row.interests = [
        current.get(pair) or InterestRow(kind=pair[0], value=pair[1]) for pair in wanted
    ]
    row.updated_at = now
    session.flush()
    return row


def remove_subscriber(session: Session, row: SubscriberRow) -> None:
    session.delete(row)
    session.flush()


def spec_from_row(row: SubscriberRow) -> SubscriberSpec:
    lists: dict[str, list[str]] = {f: [] for f in LIST_FIELDS}
    field_of = {kind: f for f, kind in INTEREST_KIND.items()}
    for interest in row.interests:
        lists[field_of[interest.kind]].append(interest.value)
    return SubscriberSpec(
        email=row.email,
        name=row.name,
        greeting_name=row.greeting_name,
        status=row.status,
        timezone=row.timezone,
        frequency=row.frequency,
        delivery_hour=row.delivery_hour,
        weekday=row.weekday,
        **{f: tuple(v) for f, v in lists.items()},
    )


def profile_from_row(row: SubscriberRow) -> Profile:
    spec = spec_from_row(row)
    return Profile(
        id=str(row.id),
        topics=spec.topics,
        require=spec.require,
        exclude=spec.exclude,
        authors=spec.authors,
        categories=spec.categories,
        liked=spec.liked,
        disliked=spec.disliked,
    )


def info_from_row(row: SubscriberRow) -> SubscriberInfo:
    return SubscriberInfo(
        id=row.id,
        email=row.email,
        name=row.name,
        timezone=row.timezone,
        frequency=row.frequency,
        delivery_hour=row.delivery_hour,
        created_at=row.created_at,
        link_id=row.link_id,
        weekday=row.weekday,
        greeting_name=row.greeting_name,
    )


# -- editions and the delivery ledger ---------------------------------------------------
def get_or_create_edition(session: Session, slot: EditionSlot, now: datetime) -> EditionRow:
    """Race-safe: concurrent planners insert the same key once, then both read it."""
    session.execute(
        _insert(session, EditionRow)
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


def ensure_deliveries(session: Session, pairs: Sequence[tuple[int, int]], now: datetime) -> None:
    """One pending ledger row per (subscriber, edition); existing rows are left alone."""
    for chunk in _chunks(pairs):
        session.execute(
            _insert(session, DeliveryRow)
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


def deliveries_for(session: Session, pairs: Sequence[tuple[int, int]]) -> list[DeliveryRow]:
    rows: list[DeliveryRow] = []
    for chunk in _chunks(pairs, 250):
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
    table = SubscriberRow.__table__
    statement = (
        select(
            table.c.id,
            table.c.email_key,
            table.c.frequency,
            table.c.delivery_hour,
            table.c.timezone,
            table.c.weekday,
        )
        .where(table.c.status == "active")
        .order_by(table.c.id)
    )
    return [Due(*row) for row in session.execute(statement)]


@dataclass(frozen=True, slots=True)
class PlannedRow:
    id: int
    status: str
    next_attempt_at: datetime | None


def planned_rows(session: Session, pairs: Sequence[tuple[int, int]]) -> list[PlannedRow]:
    """The ledger rows of these (subscriber, edition) pairs, columns only, by id. Many pairs
    are read edition by edition (one indexed query each, filtered here) rather than as
    hundreds of 250-way ORs."""
    if len(pairs) <= 1000:
        return [
            PlannedRow(r.id, r.status, r.next_attempt_at) for r in deliveries_for(session, pairs)
        ]
    table = DeliveryRow.__table__
    wanted = set(pairs)
    found: list[PlannedRow] = []
    for edition in sorted({e for _, e in pairs}):
        statement = select(
            table.c.id, table.c.subscriber_id, table.c.status, table.c.next_attempt_at
        ).where(table.c.edition_id == edition)
        found.extend(
            PlannedRow(row_id, status, next_at)
            for row_id, sub, status, next_at in session.execute(statement)
            if (sub, edition) in wanted
        )
    return sorted(found, key=lambda r: r.id)


def claimable(delivery: DeliveryRow | PlannedRow, now: datetime) -> bool:
    """Open and due: what :func:`claim_delivery` would take (reader status aside)."""
    return delivery.status == "pending" or (
        delivery.status == "retry"
        and (delivery.next_attempt_at is None or delivery.next_attempt_at <= now)
    )


@dataclass(frozen=True, slots=True)
class LedgerState:
    """The states of a set of ledger rows, and when the earliest retry is due."""

    counts: Counter[str]
    next_retry_at: datetime | None


def ledger_state(session: Session, delivery_ids: Sequence[int]) -> LedgerState:
    counts: Counter[str] = Counter()
    next_retry: datetime | None = None
    for chunk in _chunks(list(delivery_ids)):
        query = (
            select(DeliveryRow.status, func.count(), func.min(DeliveryRow.next_attempt_at))
            .where(DeliveryRow.id.in_(chunk))
            .group_by(DeliveryRow.status)
        )
        for status, count, earliest in session.execute(query):
            counts[status] += count
            if status == "retry" and earliest is not None:
                next_retry = earliest if next_retry is None else min(next_retry, earliest)
    return LedgerState(counts, next_retry)


def unsettled(session: Session, delivery_ids: Sequence[int], now: datetime) -> dict[int, str]:
    """Rows still to be handled now: ``pending``, ``sending``, or ``retry`` whose time has
    come (id -> status). A retry due later is settled for this pass."""
    found: dict[int, str] = {}
    for chunk in _chunks(list(delivery_ids)):
        query = select(DeliveryRow.id, DeliveryRow.status).where(
            DeliveryRow.id.in_(chunk),
            or_(
                DeliveryRow.status.in_(("pending", "sending")),
                and_(
                    DeliveryRow.status == "retry",
                    or_(DeliveryRow.next_attempt_at.is_(None), DeliveryRow.next_attempt_at <= now),
                ),
            ),
        )
        found.update({row_id: status for row_id, status in session.execute(query)})
    return found


def edition_ids_of(session: Session, delivery_ids: Sequence[int]) -> list[int]:
    """The editions these ledger rows belong to."""
    found: set[int] = set()
    for chunk in _chunks(list(delivery_ids)):
        query = select(DeliveryRow.edition_id).where(DeliveryRow.id.in_(chunk)).distinct()
        found.update(session.scalars(query))
    return sorted(found)


def open_in_editions(
    session: Session, edition_ids: Sequence[int], now: datetime, *, since: datetime
) -> tuple[int, int]:
    """How many rows of these editions are still to be handled now (pending, sending, or
    a retry that is due), and how many pending ones carry a relay error noted since
    ``since``: one cheap query (through the status index) for following a big edition."""
    is_open = or_(
        DeliveryRow.status.in_(("pending", "sending")),
        and_(
            DeliveryRow.status == "retry",
            or_(DeliveryRow.next_attempt_at.is_(None), DeliveryRow.next_attempt_at <= now),
        ),
    )
    noted = and_(
        DeliveryRow.status == "pending",
        DeliveryRow.last_error.is_not(None),
        DeliveryRow.updated_at >= since,
    )
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
    for chunk in _chunks(list(delivery_ids)):
        session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id.in_(chunk), DeliveryRow.status == "pending")
            .values(last_error=reason[:2000], updated_at=now)
            .execution_options(synchronize_session=False)
        )


def session_errors(session: Session, delivery_ids: Sequence[int], since: datetime) -> list[str]:
    """The distinct relay errors noted on open rows since ``since`` (a run's start)."""
    errors: list[str] = []
    for chunk in _chunks(list(delivery_ids)):
        query = (
            select(DeliveryRow.last_error)
            .where(
                DeliveryRow.id.in_(chunk),
                DeliveryRow.status == "pending",
                DeliveryRow.last_error.is_not(None),
                DeliveryRow.updated_at >= since,
            )
            .distinct()
        )
        errors.extend(e for e in session.scalars(query) if e and e not in errors)
    return errors


def outcomes_of(session: Session, delivery_ids: Sequence[int]) -> list[dict[str, object]]:
    """Where each row stands, as a run reports it (for rows delivered by workers)."""
    found: list[dict[str, object]] = []
    for chunk in _chunks(list(delivery_ids)):
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
            .where(DeliveryRow.id.in_(chunk))
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


def store_picks(session: Session, picks: Sequence[tuple[int, Sequence[Pick]]]) -> None:
    """Store each row's picks before sending, once (rows that have picks keep them): a
    retry or a concurrent batch sends the same. One statement for all (executemany)."""
    if not picks:
        return
    table = DeliveryRow.__table__
    statement = (
        update(table)
        .where(table.c.id == bindparam("row_id"), table.c.picks.is_(None))
        .values(picks=bindparam("row_picks"))
    )
    rows = [{"row_id": i, "row_picks": [p.to_json() for p in chosen]} for i, chosen in picks]
    session.execute(statement, rows)


def unranked_rows(session: Session, ids: Sequence[int]) -> list[tuple[int, int]]:
    """(row id, subscriber id) of the open rows among ``ids`` that have no picks yet, by
    row id: what an edition still has to rank (columns only, no ORM objects)."""
    table = DeliveryRow.__table__
    found: list[tuple[int, int]] = []
    for chunk in _chunks(list(ids)):
        statement = select(table.c.id, table.c.subscriber_id).where(
            table.c.id.in_(chunk),
            table.c.picks.is_(None),
            table.c.status.in_(("pending", "retry")),
        )
        found.extend((row_id, sub) for row_id, sub in session.execute(statement))
    return sorted(found)


def load_deliveries(session: Session, ids: Sequence[int]) -> list[DeliveryRow]:
    rows: list[DeliveryRow] = []
    for chunk in _chunks(list(ids)):
        rows.extend(session.scalars(select(DeliveryRow).where(DeliveryRow.id.in_(chunk))))
    return sorted(rows, key=lambda r: r.id)


def editions_by_ids(session: Session, ids: Iterable[int]) -> dict[int, EditionRow]:
    wanted = list(set(ids))
    return {e.id: e for e in session.scalars(select(EditionRow).where(EditionRow.id.in_(wanted)))}


def sent_paper_ids(session: Session, subscriber_ids: Sequence[int]) -> dict[int, set[str]]:
    sent: dict[int, set[str]] = {}
    for chunk in _chunks(list(subscriber_ids)):
        query = select(SentPaperRow.subscriber_id, SentPaperRow.paper_id).where(
            SentPaperRow.subscriber_id.in_(chunk)
        )
        for subscriber_id, paper_id in session.execute(query):
            sent.setdefault(subscriber_id, set()).add(paper_id)
    return sent


def last_sent_at(session: Session, subscriber_ids: Sequence[int]) -> dict[int, datetime]:
    found: dict[int, datetime] = {}
    for chunk in _chunks(list(subscriber_ids)):
        query = (
            select(DeliveryRow.subscriber_id, func.max(DeliveryRow.sent_at))
            .where(DeliveryRow.subscriber_id.in_(chunk), DeliveryRow.status == "sent")
            .group_by(DeliveryRow.subscriber_id)
        )
        for subscriber_id, when in session.execute(query):
            if when is not None:
                found[subscriber_id] = when
    return found


# -- ranking: feedback events and paper embeddings ---------------------------------------
def add_feedback(
    session: Session, subscriber_id: int, paper_id: str, kind: str, now: datetime
) -> FeedbackEventRow:
    """Record a 👍/👎/click. Events are kept (not overwritten): the latest vote wins when
    ranking reads them, and the history stays for evaluation."""
    if kind not in FEEDBACK_KINDS:
        raise InputError(f"feedback kind must be one of {', '.join(FEEDBACK_KINDS)}, got {kind!r}")
    row = FeedbackEventRow(
        subscriber_id=subscriber_id, paper_id=paper_id, kind=kind, created_at=now
    )
    session.add(row)
    session.flush()
    return row


def feedback_for(
    session: Session, subscriber_ids: Sequence[int], *, limit: int = 1000
) -> dict[int, list[FeedbackEvent]]:
    """Each subscriber's feedback events, oldest first (at most ``limit`` newest each)."""
    found: dict[int, list[FeedbackEvent]] = {}
    for chunk in _chunks(list(subscriber_ids)):
        query = (
            select(FeedbackEventRow)
            .where(FeedbackEventRow.subscriber_id.in_(chunk))
            .order_by(FeedbackEventRow.subscriber_id, FeedbackEventRow.created_at)
        )
        for row in session.scalars(query):
            found.setdefault(row.subscriber_id, []).append(
                FeedbackEvent(row.paper_id, row.kind, row.created_at)
            )
    return {k: v[-limit:] for k, v in found.items()}


def papers_without_embedding(session: Session, model: str, limit: int = 500) -> list[Paper]:
    """Papers with no stored vector for ``model`` (new ones, or embedded by another model)."""
    query = (
        select(PaperRow)
        .where(or_(PaperRow.embedding_model.is_(None), PaperRow.embedding_model != model))
        .order_by(PaperRow.first_seen_at.desc(), PaperRow.id)
        .limit(limit)
    )
    return [paper_from_row(r) for r in session.scalars(query)]


def store_embeddings(session: Session, vectors: dict[str, bytes], model: str) -> int:
    for paper_id, blob in vectors.items():
        session.execute(
            update(PaperRow)
            .where(PaperRow.id == paper_id)
            .values(embedding=blob, embedding_model=model)
            .execution_options(synchronize_session=False)
        )
    return len(vectors)


def embeddings_for(session: Session, ids: Iterable[str], model: str) -> dict[str, bytes]:
    """Stored vectors of ``model`` for these papers (papers without one are left out)."""
    found: dict[str, bytes] = {}
    for chunk in _chunks(list(dict.fromkeys(ids))):
        query = select(PaperRow.id, PaperRow.embedding).where(
            PaperRow.id.in_(chunk),
            PaperRow.embedding_model == model,
            PaperRow.embedding.is_not(None),
        )
        for paper_id, blob in session.execute(query):
            found[paper_id] = blob
    return found


def text_embeddings_for(session: Session, keys: Iterable[str], model: str) -> dict[str, bytes]:
    """Stored vectors of ``model`` for these text keys (unknown keys are left out)."""
    found: dict[str, bytes] = {}
    for chunk in _chunks(list(dict.fromkeys(keys))):
        query = select(TextEmbeddingRow.text_key, TextEmbeddingRow.vector).where(
            TextEmbeddingRow.model == model, TextEmbeddingRow.text_key.in_(chunk)
        )
        found.update((key, blob) for key, blob in session.execute(query))
    return found


def prune_text_embeddings(session: Session, keep: set[str], model: str, before: datetime) -> int:
    """Delete the text vectors stored before ``before`` that are not of ``model`` or whose
    key is not in ``keep``; returns how many. Rows stored since are left alone: a topic
    added meanwhile may already have its vector."""
    stale: dict[str, list[str]] = {}
    query = select(TextEmbeddingRow.model, TextEmbeddingRow.text_key).where(
        TextEmbeddingRow.created_at < before
    )
    for row_model, key in session.execute(query):
        if row_model != model or key not in keep:
            stale.setdefault(row_model, []).append(key)
    for row_model, keys in stale.items():
        for chunk in _chunks(keys):
            session.execute(
                delete(TextEmbeddingRow).where(
                    TextEmbeddingRow.model == row_model, TextEmbeddingRow.text_key.in_(chunk)
                )
            )
    return sum(len(keys) for keys in stale.values())


def store_text_embeddings(
    session: Session, vectors: dict[str, bytes], model: str, now: datetime
) -> None:
    """Insert these vectors; a key another worker stored meanwhile is left as it is."""
    rows = [
        {"model": model, "text_key": key, "vector": blob, "created_at": now}
        for key, blob in vectors.items()
    ]
    for chunk in _chunks(rows):
        session.execute(_insert(session, TextEmbeddingRow).values(chunk).on_conflict_do_nothing())
