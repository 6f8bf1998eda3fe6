"""Subscribers and their interests: find, list, add, replace, remove; and a row read as
the plain data the rest of the code speaks (``SubscriberSpec``, ``Profile``,
``SubscriberInfo``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session, selectinload

from digest.db.models import (
    InterestRow,
    SentPaperRow,
    SubscriberRow,
)
from digest.db.statements import among, id_chunks
from digest.domain import Profile, SubscriberInfo
from digest.errors import InputError, NotFoundError
from digest.subscriber_spec import (
    InterestLists,
    SubscriberSpec,
    email_key,
    interest_lists,
)


def _subscribers() -> Select[SubscriberRow]:
    return select(SubscriberRow).options(selectinload(SubscriberRow.interests))


def find_subscriber(session: Session, email: str) -> SubscriberRow | None:
    return session.scalar(_subscribers().where(SubscriberRow.email_key == email_key(email)))


def subscriber_by_id(session: Session, subscriber_id: int) -> SubscriberRow | None:
    return session.get(SubscriberRow, subscriber_id)


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
    for chunk in id_chunks(session, wanted):
        for row in session.scalars(_subscribers().where(among(session, SubscriberRow.id, chunk))):
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
    """The subscriber and everything of theirs: the database's cascades, and the papers
    they were sent (``sent_papers`` has no foreign key: migration 0011)."""
    session.execute(delete(SentPaperRow).where(SentPaperRow.subscriber_id == row.id))
    session.delete(row)
    session.flush()


def profile_of(subscriber_id: int, lists: InterestLists) -> Profile:
    """Ranking's profile of a subscriber from their :func:`interest_lists`."""
    return Profile(id=str(subscriber_id), **lists)


def _row_lists(row: SubscriberRow) -> InterestLists:
    return interest_lists((i.kind, i.value) for i in row.interests)


def spec_from_row(row: SubscriberRow) -> SubscriberSpec:
    return SubscriberSpec(
        email=row.email,
        name=row.name,
        greeting_name=row.greeting_name,
        status=row.status,
        timezone=row.timezone,
        frequency=row.frequency,
        delivery_hour=row.delivery_hour,
        weekday=row.weekday,
        **_row_lists(row),
    )


def profile_from_row(row: SubscriberRow) -> Profile:
    return profile_of(row.id, _row_lists(row))


@dataclass(frozen=True, slots=True)
class Reader:
    """What ranking reads of a subscriber: their id, frequency and profile."""

    id: int
    frequency: str
    profile: Profile


def reader_from_row(row: SubscriberRow) -> Reader:
    return Reader(row.id, row.frequency, profile_from_row(row))


def readers_by_ids(session: Session, ids: Iterable[int]) -> dict[int, Reader]:
    """Ranking's view of these subscribers (the same profiles as :func:`profile_from_row`),
    read as columns, two statements a chunk: the planner reads every reader of an
    edition, and ORM objects with their interests cost it about 60 us a reader."""
    wanted = list(dict.fromkeys(ids))
    found: dict[int, Reader] = {}
    for chunk in id_chunks(session, wanted):
        schedule = session.execute(
            select(SubscriberRow.id, SubscriberRow.frequency).where(
                among(session, SubscriberRow.id, chunk)
            )
        ).all()
        pairs: dict[int, list[tuple[str, str]]] = {}
        interests = (
            select(InterestRow.subscriber_id, InterestRow.kind, InterestRow.value)
            .where(among(session, InterestRow.subscriber_id, chunk))
            .order_by(InterestRow.id)  # the relationship's order
        )
        for subscriber_id, kind, value in session.execute(interests):
            pairs.setdefault(subscriber_id, []).append((kind, value))
        for subscriber_id, frequency in schedule:
            lists = interest_lists(pairs.get(subscriber_id, ()))
            found[subscriber_id] = Reader(
                subscriber_id, frequency, profile_of(subscriber_id, lists)
            )
    return found


@dataclass(frozen=True, slots=True)
class Recipient:
    """What rendering a digest reads of its reader: their info, and whether nothing in
    their profile can steer ranking (the email then says how to add interests)."""

    info: SubscriberInfo
    cold_start: bool


def recipient_from_row(row: SubscriberRow) -> Recipient:
    return Recipient(info_from_row(row), profile_from_row(row).is_empty)


# SubscriberInfo's fields, in its order: a row of these columns is its positional arguments.
_INFO_FIELDS = tuple(f.name for f in fields(SubscriberInfo))
_INFO_COLUMNS = tuple(getattr(SubscriberRow, name) for name in _INFO_FIELDS)


def recipients_by_ids(session: Session, ids: Iterable[int]) -> dict[int, Recipient]:
    """The same as :func:`recipient_from_row` for these subscribers, read as columns, two
    statements a chunk: a worker reads every reader it sends to, and ORM objects with
    their interests cost it about a tenth of a message's CPU."""
    wanted = list(dict.fromkeys(ids))
    found: dict[int, Recipient] = {}
    for chunk in id_chunks(session, wanted):
        rows = session.execute(
            select(*_INFO_COLUMNS).where(among(session, SubscriberRow.id, chunk))
        ).all()
        pairs: dict[int, list[tuple[str, str]]] = {}
        interests = (
            select(InterestRow.subscriber_id, InterestRow.kind, InterestRow.value)
            .where(among(session, InterestRow.subscriber_id, chunk))
            .order_by(InterestRow.id)
        )
        for subscriber_id, kind, value in session.execute(interests):
            pairs.setdefault(subscriber_id, []).append((kind, value))
        for row in rows:
            profile = profile_of(row.id, interest_lists(pairs.get(row.id, ())))
            found[row.id] = Recipient(SubscriberInfo(*row), profile.is_empty)
    return found


def info_from_row(row: SubscriberRow) -> SubscriberInfo:
    return SubscriberInfo(*(getattr(row, name) for name in _INFO_FIELDS))
