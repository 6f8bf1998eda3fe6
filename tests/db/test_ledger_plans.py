"""PostgreSQL's plans of the statements every message runs (claim, sent record, both).

Each must reach its rows by primary key, whatever the statistics say: a plan that reads
every ``sending`` entry of the status index (12.5 ms a claim at 10,000 rows once the
statistics said ``sending`` was rare) or every active reader into a hash table (3 ms a claim
at 5,000 readers, with the statistics of tables analyzed while empty) costs nothing in a
small test and grows with the edition. So the plans are read, not timed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import text, update

from digest.db import Database, editions, ledger, subscribers
from digest.db.models import DeliveryRow
from digest.schedule import edition_for
from digest.subscriber_spec import validate_spec

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
READERS = 2000


def add_readers(db: Database, count: int, first: int) -> list[int]:
    """``count`` readers with a pending row each in one edition; their rows' ids."""
    with db.session() as session:
        ids = [
            subscribers.add_subscriber(
                session, validate_spec({"email": f"r{first + i}@example.org"}), T0
            ).id
            for i in range(count)
        ]
        edition = editions.get_or_create_edition(session, edition_for("daily", T0, "UTC"), T0)
        pairs = [(i, edition.id) for i in ids]
        editions.ensure_deliveries(session, pairs, T0)
        return [d.id for d in editions.deliveries_for(session, pairs)]


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def explained(db: Database, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The nodes of ``EXPLAIN ANALYZE`` of a send-loop statement, run and rolled back."""
    statement = ledger.SEND_LOOP[name]
    with psycopg.connect(db.url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        found = conn.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + statement.sql, statement.defaults | params
        ).fetchone()
        conn.rollback()
    assert found is not None
    document = json.loads(found[0]) if isinstance(found[0], str) else found[0]
    return list(plan_nodes(document[0]["Plan"]))


def assert_by_primary_key(nodes: list[dict[str, Any]]) -> None:
    """Every table read through its primary key alone, for the rows asked for only; no
    hashed subplan, no sequential scan, no other index."""
    kinds = {node["Node Type"] for node in nodes}
    assert kinds <= {"ModifyTable", "Index Scan", "Bitmap Heap Scan", "Bitmap Index Scan"}, kinds
    tables = {node["Relation Name"] for node in nodes if "Relation Name" in node}
    assert "deliveries" in tables
    for node in nodes:
        assert "hashed" not in node.get("Subplan Name", ""), node
        if "Index Name" in node:
            table = node.get("Relation Name") or node["Index Name"].split("_", 1)[1].split("_")[0]
            assert node["Index Name"] == f"pk_{table}", node
        if "Relation Name" in node and node["Node Type"] != "ModifyTable":
            assert node["Actual Rows"] <= 2, node  # (a bitmap's index counts dead entries too)


def check_send_loop(db: Database, row_id: int, sent_id: int) -> None:
    now = T0 + timedelta(hours=1)
    claim = {"row_id": row_id, "now": now, "lease_until": now + timedelta(minutes=10)}
    record = {"message_id": "<m@x>", "reply": "250 ok"}
    params = {
        "claim": claim,
        "sent": record | {"row_id": sent_id, "now": now},
        "claim and sent": claim | record | {"sent_id": sent_id, "sent_at": now},
    }
    for name, values in params.items():
        nodes = explained(db, name, values)
        assert_by_primary_key(nodes)
        (scan,) = [
            n
            for n in nodes
            if n.get("Relation Name") == "deliveries" and n["Node Type"] != "ModifyTable"
        ]
        assert scan["Actual Rows"] == (2 if name == "claim and sent" else 1), name  # it matched


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    database.upgrade()
    yield database
    database.dispose()


def set_status(db: Database, ids: list[int], status: str) -> None:
    with db.session() as session:
        session.execute(update(DeliveryRow).where(DeliveryRow.id.in_(ids)).values(status=status))


def analyze(db: Database) -> None:
    with db.engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()


def test_with_the_statistics_of_tables_analyzed_while_empty(db: Database) -> None:
    """Statistics taken before the readers came (as after ``digest db upgrade``): the
    reader check stays one probe by primary key (as an ``EXISTS`` it was a hashed subplan
    reading every active reader)."""
    analyze(db)
    rows = add_readers(db, READERS, first=0)
    set_status(db, [rows[0]], "sending")
    check_send_loop(db, row_id=rows[1], sent_id=rows[0])


def test_with_the_statistics_of_an_edition_nearly_sent(db: Database) -> None:
    """Statistics say ``sending`` and ``pending`` are rare (most rows sent): the rows are
    still found by id (with a status condition PostgreSQL chose the status index)."""
    rows = add_readers(db, READERS, first=0)
    set_status(db, rows[2:], "sent")
    set_status(db, [rows[0]], "sending")
    analyze(db)
    check_send_loop(db, row_id=rows[1], sent_id=rows[0])
