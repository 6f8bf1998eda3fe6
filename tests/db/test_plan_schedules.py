"""Planning on PostgreSQL decides who is due once per distinct schedule and lets the
database insert their readers' rows (``editions.plan_schedules``): the same rows, ids in
reader order, statuses and editions as planning reader by reader, on a first run, a rerun,
with readers who left, and with a reader whose schedule moved them to another edition."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from digest.db import Database, subscribers
from digest.db.models import DeliveryRow, SubscriberRow
from digest.pipeline import service
from digest.pipeline.runtime import Runtime
from digest.settings import Settings
from digest.subscriber_spec import validate_spec

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)  # a Wednesday
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Pacific/Auckland"]
READERS = len(ZONES) * 2 * 4 * 3 * 2  # zones x frequencies x hours x weekdays x 2


@pytest.fixture
def rt(pg_url: str, tmp_path) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    db = Database(pg_url)
    db.upgrade()
    settings = Settings.from_env({"DIGEST_VAR_DIR": str(tmp_path), "DIGEST_SECRET_KEY": "x" * 24})
    yield Runtime.from_settings(settings, db=db, clock=lambda: NOW)
    db.dispose()


def add_readers(db: Database) -> None:
    kinds = itertools.product(ZONES, ["daily", "weekly"], [0, 9, 10, 23], [0, 2, 5])
    with db.session() as session:
        for n, (zone, frequency, hour, weekday) in enumerate(kinds):
            for copy in range(2):
                spec = {
                    "email": f"r{n}-{copy}@example.org",
                    "timezone": zone,
                    "frequency": frequency,
                    "hour": hour,
                    "weekday": weekday,
                    "topics": ["speech"],
                }
                subscribers.add_subscriber(session, validate_spec(spec), NOW)


def planned(rt: Runtime, *, by_schedule: bool, respect_hour: bool) -> list[tuple[object, ...]]:
    with rt.db.session() as session:
        if by_schedule:
            rows = service._plan_by_schedule(session, NOW, respect_hour, None)
        else:
            rows = service._plan_by_reader(session, NOW, respect_hour, None, None)
    return [(r.id, r.subscriber_id, r.status, r.next_attempt_at, r.ranked) for r in rows]


def ledger(db: Database) -> list[tuple[object, ...]]:
    with db.session() as session:
        statement = select(
            DeliveryRow.id, DeliveryRow.subscriber_id, DeliveryRow.edition_id, DeliveryRow.status
        ).order_by(DeliveryRow.id)
        return [tuple(row) for row in session.execute(statement)]


@pytest.mark.parametrize("respect_hour", [False, True])
def test_planning_by_schedule_is_planning_by_reader(rt: Runtime, respect_hour: bool) -> None:
    add_readers(rt.db)
    first = planned(rt, by_schedule=True, respect_hour=respect_hour)
    rows = ledger(rt.db)
    assert first and len(first) == len(rows) and (len(first) < READERS) == respect_hour
    by_reader = sorted(rows, key=lambda r: r[1])  # ids numbered in reader order
    assert [r[0] for r in by_reader] == sorted(r[0] for r in rows)
    assert {r[2] for r in first} == {"pending"} and not any(r[4] for r in first)

    # A rerun reads the rows back, as reader-by-reader planning does; then the same after
    # some readers left, one got picks and a retry, and one moved to another time zone.
    assert planned(rt, by_schedule=True, respect_hour=respect_hour) == first
    assert planned(rt, by_schedule=False, respect_hour=respect_hour) == first
    with rt.db.session() as session:
        ids = [r[1] for r in first]
        session.execute(
            update(SubscriberRow).where(SubscriberRow.id.in_(ids[:3])).values(status="unsubscribed")
        )
        session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id == first[5][0])
            .values(status="retry", picks=[], next_attempt_at=NOW)
        )
        moved = session.get_one(SubscriberRow, ids[6])
        moved.timezone = "Pacific/Kiritimati" if moved.timezone != "Pacific/Kiritimati" else "UTC"
    before = ledger(rt.db)
    again = planned(rt, by_schedule=True, respect_hour=respect_hour)
    assert again == planned(rt, by_schedule=False, respect_hour=respect_hour)
    assert len(again) < len(first) and ("retry", NOW, True) in {r[2:] for r in again}
    assert ledger(rt.db)[: len(before)] == before  # existing rows untouched


def test_plan_edition_uses_schedules_on_postgresql(rt: Runtime, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    add_readers(rt.db)
    monkeypatch.setattr(
        service, "_plan_by_reader", lambda *a: pytest.fail("planned reader by reader")
    )
    plan = service.plan_edition(rt)
    assert len(plan.delivery_ids) == len(plan.unranked) == len(plan.row_ids) == READERS
