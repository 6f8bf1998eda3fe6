"""The planner reads readers as columns (``readers_by_ids``): the same profiles, in the
same order of interests, as the ORM rows give (``profile_from_row``)."""

from __future__ import annotations

from datetime import UTC, datetime

from digest.db import Database, subscribers
from digest.subscriber_spec import validate_spec

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def test_readers_as_columns_are_the_orm_profiles(db: Database) -> None:
    specs = [
        {"email": "empty@example.org"},
        {
            "email": "many@example.org",
            "frequency": "weekly",
            "topics": ["zeta topic", "alpha topic", "language models"],
            "authors": ["Ada Lovelace"],
            "categories": ["cs.CL", "cs.AI"],
            "exclude": ["survey"],
            "require": ["benchmark"],
        },
        {"email": "one@example.org", "topics": ["speech"]},
    ]
    with db.session() as session:
        ids = [subscribers.add_subscriber(session, validate_spec(s), T0).id for s in specs]
    with db.session() as session:
        rows = subscribers.subscribers_by_ids(session, ids)
        readers = subscribers.readers_by_ids(session, [*reversed(ids), ids[0], 10**9])
    assert set(readers) == set(ids)  # an unknown id is left out, a repeated one read once
    for i in ids:
        assert readers[i] == subscribers.reader_from_row(rows[i])
    assert readers[ids[1]].frequency == "weekly"
    assert readers[ids[1]].profile.topics == ("zeta topic", "alpha topic", "language models")
    assert readers[ids[0]].profile.is_empty


def test_recipients_as_columns_are_the_orms(db: Database) -> None:
    """Workers read the readers they send to as columns (``recipients_by_ids``)."""
    specs = [
        {"email": "a@example.org", "name": "Ada Lovelace", "greeting_name": "Ada"},
        {"email": "b@example.org", "timezone": "Asia/Tokyo", "frequency": "weekly", "weekday": 4},
        {"email": "c@example.org", "topics": ["speech"], "delivery_hour": 18},
    ]
    with db.session() as session:
        ids = [subscribers.add_subscriber(session, validate_spec(s), T0).id for s in specs]
    with db.session() as session:
        rows = subscribers.subscribers_by_ids(session, ids)
        recipients = subscribers.recipients_by_ids(session, [*reversed(ids), 10**9])
    assert set(recipients) == set(ids)
    for i in ids:
        assert recipients[i] == subscribers.recipient_from_row(rows[i])
    assert recipients[ids[1]].info.timezone == "Asia/Tokyo"
    assert recipients[ids[0]].info.greeting_name == "Ada"
