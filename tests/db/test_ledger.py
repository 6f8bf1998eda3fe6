"""The delivery ledger's rules, one test per rule, on SQLite and PostgreSQL with a frozen
clock: who may claim a row and when, what a failure does to it (backoff, attempts), what
an expired lease means, and that a reader who left is never claimed."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from digest.db import Database, bounces, editions, ledger, subscribers
from digest.db.models import DeliveryRow, SentPaperRow, SubscriberRow
from digest.db.paper_values import to_json
from digest.deliver.transports import MemoryTransport, OutgoingMessage
from digest.domain import Pick
from digest.schedule import edition_for
from digest.subscriber_spec import validate_spec

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)
BACKOFF = timedelta(minutes=5)


@pytest.fixture
def rows(db: Database) -> list[int]:
    """Three readers, one pending ledger row each, in one edition."""
    with db.session() as session:
        ids = [
            subscribers.add_subscriber(
                session, validate_spec({"email": f"r{i}@example.org"}), T0
            ).id
            for i in range(3)
        ]
        edition = editions.get_or_create_edition(session, edition_for("daily", T0, "UTC"), T0)
        editions.ensure_deliveries(session, [(i, edition.id) for i in ids], T0)
        return [d.id for d in editions.deliveries_for(session, [(i, edition.id) for i in ids])]


def row(db: Database, delivery_id: int) -> DeliveryRow:
    with db.session() as session:
        return session.scalars(select(DeliveryRow).where(DeliveryRow.id == delivery_id)).one()


def fail(db: Database, delivery_id: int, now: datetime, *, permanent: bool = False) -> str:
    with db.session() as session:
        found = session.get_one(DeliveryRow, delivery_id)
        return ledger.mark_failed(
            session,
            delivery_id,
            attempts=found.attempts,
            error="451 4.3.0 try later",
            permanent=permanent,
            now=now,
            max_attempts=3,
            backoff=BACKOFF,
        )


def claim(db: Database, delivery_id: int, now: datetime) -> bool:
    with db.ledger_connection() as conn:
        return ledger.claim(conn, delivery_id, now, LEASE)


def test_a_row_is_claimed_once(db: Database, rows: list[int]) -> None:
    assert claim(db, rows[0], T0)
    assert not claim(db, rows[0], T0)
    assert row(db, rows[0]).status == "sending" and row(db, rows[0]).attempts == 1


def test_two_concurrent_claimers_one_wins(db: Database, rows: list[int]) -> None:
    """Many threads, each on its own connection, race for each row: one winner per row."""
    wins: list[int] = []
    start = threading.Barrier(6)

    def claimer() -> None:
        start.wait()
        for delivery_id in rows:
            if claim(db, delivery_id, T0):
                wins.append(delivery_id)

    threads = [threading.Thread(target=claimer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == sorted(rows)


def test_a_temporary_failure_backs_off_doubling_until_attempts_run_out(
    db: Database, rows: list[int]
) -> None:
    now = T0
    expected_waits = [BACKOFF, 2 * BACKOFF]
    for wait in expected_waits:
        assert claim(db, rows[0], now)
        assert fail(db, rows[0], now) == "retry"
        due = row(db, rows[0]).next_attempt_at
        assert due == now + wait
        assert not claim(db, rows[0], due - timedelta(seconds=1))  # not yet due: untouched
        assert row(db, rows[0]).status == "retry"
        now = due
    assert claim(db, rows[0], now)
    assert fail(db, rows[0], now) == "failed"  # third attempt of three
    found = row(db, rows[0])
    assert found.attempts == 3 and found.next_attempt_at is None
    assert not claim(db, rows[0], now + timedelta(days=1))


def test_a_permanent_failure_is_final_at_once(db: Database, rows: list[int]) -> None:
    assert claim(db, rows[1], T0)
    assert fail(db, rows[1], T0, permanent=True) == "failed"
    assert row(db, rows[1]).attempts == 1


def test_a_failure_is_recorded_only_on_a_claimed_row(db: Database, rows: list[int]) -> None:
    fail(db, rows[2], T0)  # never claimed: a stray record must not change it
    assert row(db, rows[2]).status == "pending"


def test_a_session_failure_before_data_gives_the_row_back_uncounted(
    db: Database, rows: list[int]
) -> None:
    assert claim(db, rows[0], T0)
    with db.ledger_connection() as conn:
        assert ledger.release(conn, rows[0], reason="421 closing", now=T0)
    found = row(db, rows[0])
    assert (found.status, found.attempts, found.last_error) == ("pending", 0, "421 closing")
    assert claim(db, rows[0], T0)


def test_an_expired_lease_after_data_began_is_unknown_never_resent(
    db: Database, rows: list[int]
) -> None:
    """A worker that died after the claim (the claim is made right before DATA)."""
    transport = MemoryTransport()
    message = OutgoingMessage("d@example.org", "r0@example.org", b"x\r\n", "<1@x>")

    def before_data() -> bool:
        ok = claim(db, rows[0], T0)
        raise SystemExit("killed while handing the message over") if ok else AssertionError

    with pytest.raises(SystemExit):
        transport.send(message, before_data=before_data)
    with db.ledger_connection() as conn:
        assert ledger.expire_leases(conn, T0 + LEASE - timedelta(seconds=1)) == 0
        assert ledger.expire_leases(conn, T0 + LEASE + timedelta(seconds=1)) == 1
    assert row(db, rows[0]).status == "unknown"
    assert not claim(db, rows[0], T0 + timedelta(days=1))


def test_a_worker_dying_before_data_leaves_the_row_open(db: Database, rows: list[int]) -> None:
    """Nothing was handed over (the envelope was being sent): no claim, nothing in doubt;
    the lease sweep leaves it alone and the next worker sends it."""
    transport = MemoryTransport(fail_for={"r1@example.org": SystemExit("killed at RCPT")})  # type: ignore[dict-item]
    message = OutgoingMessage("d@example.org", "r1@example.org", b"x\r\n", "<2@x>")
    with pytest.raises(SystemExit):
        transport.send(message, before_data=lambda: claim(db, rows[1], T0))
    with db.ledger_connection() as conn:
        assert ledger.expire_leases(conn, T0 + timedelta(days=1)) == 0
    assert row(db, rows[1]).status == "pending"
    assert claim(db, rows[1], T0 + timedelta(minutes=1))


def test_a_reader_who_left_is_not_claimed_but_skipped(db: Database, rows: list[int]) -> None:
    with db.session() as session:
        subscriber_id = session.get_one(DeliveryRow, rows[0]).subscriber_id
        bounces.suppress(session, subscriber_id, now=T0)
    assert not claim(db, rows[0], T0)
    with db.ledger_connection() as conn:
        assert ledger.skip_if_reader_left(conn, rows[0], T0) == "bounced"
        assert ledger.skip_if_reader_left(conn, rows[1], T0) is None  # still active
    assert (row(db, rows[0]).status, row(db, rows[0]).last_error) == (
        "skipped",
        "reader is bounced",
    )


def test_picks_are_stored_once(db: Database, rows: list[int]) -> None:
    first = [Pick("2501.00001", 1.0, "matches your topic")]
    second = [Pick("2501.00002", 2.0, "matches your topic")]
    with db.session() as session:
        editions.store_picks(session, [(rows[0], first)])
    with db.session() as session:
        editions.store_picks(session, [(rows[0], second), (rows[1], second)])
    assert row(db, rows[0]).picks == [p.to_json() for p in first]
    assert row(db, rows[1]).picks == [p.to_json() for p in second]


def test_a_sent_row_stays_sent(db: Database, rows: list[int]) -> None:
    assert claim(db, rows[0], T0)
    with db.ledger_connection() as conn:
        assert ledger.mark_sent(conn, rows[0], message_id="<m@x>", reply="250 ok", now=T0)
        assert not ledger.mark_sent(conn, rows[0], message_id="<n@x>", reply="250", now=T0)
        assert not ledger.release(conn, rows[0], reason="late", now=T0)
        assert ledger.expire_leases(conn, T0 + timedelta(days=1)) == 0
    found = row(db, rows[0])
    assert (found.status, found.message_id, found.lease_until) == ("sent", "<m@x>", None)


@pytest.mark.postgres
def test_claims_wait_for_the_disk_and_sent_records_do_not(pg_url: str) -> None:
    """A claim is what keeps a message from going out twice after a database crash, so its
    commit is flushed; the "sent" record may be lost with the last instant before a crash
    (its row then stays claimed, later unknown, never resent), so it does not wait."""
    from sqlalchemy import text

    db = Database(pg_url)
    try:
        with db.ledger_connection() as durable, db.ledger_connection(durable=False) as relaxed:
            assert durable.execute(text("SHOW synchronous_commit")).scalar() == "on"
            assert relaxed.execute(text("SHOW synchronous_commit")).scalar() == "off"
        with db.engine.connect() as one, db.engine.connect() as two:  # nothing leaks into
            for pooled in (one, two):  # the pool (both connections back from it)
                assert pooled.execute(text("SHOW synchronous_commit")).scalar() == "on"
    finally:
        db.dispose()


def test_retention_deletes_old_settled_rows_and_keeps_open_ones_and_sent_papers(
    db: Database, rows: list[int]
) -> None:
    sent, open_row, failed = rows
    assert claim(db, sent, T0)
    with db.ledger_connection() as conn:
        assert ledger.mark_sent(conn, sent, message_id="<m@x>", reply="250 ok", now=T0)
        papers = ledger.SentPapers()
        papers.add(conn, row(db, sent).subscriber_id, sent, ["2501.00001"], T0)
        papers.flush(conn)
    assert claim(db, failed, T0)
    assert fail(db, failed, T0, permanent=True) == "failed"
    with db.session() as session:  # created at T0: not older than T0 itself
        assert ledger.prune_settled(session, T0) == 0
    with db.session() as session:
        assert ledger.prune_settled(session, T0 + timedelta(days=1)) == 2
    with db.session() as session:
        left = {d.id: d.status for d in session.scalars(select(DeliveryRow))}
        assert left == {open_row: "pending"}  # an open row stays, whatever its age
        kept = session.execute(select(SentPaperRow.paper_id, SentPaperRow.delivery_id)).all()
        assert [tuple(k) for k in kept] == [("2501.00001", None)]  # still never sent to
        # that reader again, and naming no ledger row that is gone (no foreign key does it)


def test_sent_papers_are_recorded_once_per_reader_in_groups(db: Database, rows: list[int]) -> None:
    """A group holding a pair twice, or a pair recorded by an earlier group, records it once;
    a group is written when it reaches ``flush_at`` rows and at ``flush``."""
    first, second, _ = rows
    readers = {d: row(db, d).subscriber_id for d in (first, second)}
    with db.ledger_connection(durable=False) as conn:
        papers = ledger.SentPapers(flush_at=4)
        papers.add(conn, readers[first], first, ["p1", "p2", "p1"], T0)
        assert len(papers.rows) == 3  # not yet written
        papers.add(conn, readers[second], second, ["p1"], T0)
        assert papers.rows == []  # written at 4 rows
        papers.add(conn, readers[first], first, ["p2", "p3"], T0 + timedelta(hours=1))
        papers.flush(conn)
        papers.flush(conn)  # nothing left: a no-op
    with db.session() as session:
        got = session.execute(
            select(SentPaperRow.subscriber_id, SentPaperRow.paper_id, SentPaperRow.delivery_id)
        ).all()
    assert sorted(got) == sorted(
        [
            (readers[first], "p1", first),
            (readers[first], "p2", first),
            (readers[first], "p3", first),
            (readers[second], "p1", second),
        ]
    )


def test_the_send_loop_claims_with_a_prepared_statement(db: Database, rows: list[int]) -> None:
    """On PostgreSQL the claim and the sent record of the send loop's autocommit connection
    run on the driver's cursor (the same rules: the tests above); elsewhere, as before."""
    with db.ledger_connection() as conn:
        assert ledger.claim(conn, rows[0], T0, LEASE)
        assert not ledger.claim(conn, rows[0], T0, LEASE)
        assert ledger.mark_sent(conn, rows[0], message_id="<m@x>", reply="250 ok", now=T0)
        assert ("ledger_cursor" in conn.info) == db.is_postgres
    assert row(db, rows[0]).status == "sent" and row(db, rows[0]).message_id == "<m@x>"
    with db.session() as session:  # a session: the ORM's own path, in its transaction
        assert ledger.claim(session.connection(), rows[1], T0, LEASE)
        session.rollback()
    assert row(db, rows[1]).status == "pending"


def test_planning_reads_the_rows_of_many_pairs_edition_by_edition(db: Database) -> None:
    """Over 1,000 pairs, rows are read per edition and filtered to the pairs asked for:
    the same rows as the pair-by-pair query, and none of other readers."""
    with db.session() as session:
        ids = [
            subscribers.add_subscriber(
                session, validate_spec({"email": f"p{i}@example.org"}), T0
            ).id
            for i in range(1200)
        ]
        daily = editions.get_or_create_edition(session, edition_for("daily", T0, "UTC"), T0)
        weekly = editions.get_or_create_edition(session, edition_for("weekly", T0, "UTC"), T0)
        everyone = [(i, daily.id) for i in ids] + [(i, weekly.id) for i in ids]
        editions.ensure_deliveries(session, everyone, T0)
        asked = [(i, daily.id) for i in ids[:1100]] + [(i, weekly.id) for i in ids[:50]]
        planned = editions.planned_rows(session, asked)
        expected = [d.id for d in editions.deliveries_for(session, asked)]
        assert [r.id for r in planned] == expected and len(expected) == 1150
        assert {r.status for r in planned} == {"pending"}
        due = editions.due_fields(session)
        assert [d.id for d in due] == sorted(ids) and due[0].frequency == "daily"


def test_a_sent_record_is_written_with_the_next_claim_or_at_flush(
    db: Database, rows: list[int]
) -> None:
    """The send loop's record of a message rides on the claim of the next one (one
    statement on PostgreSQL): at most one row waits for its record; a claim that loses
    still writes it; ``flush`` writes the last. The rows end as with claim + mark_sent."""
    first, second, third = rows
    sent_at = T0 + timedelta(seconds=5)
    with db.ledger_connection() as conn, db.ledger_connection(durable=False) as records:
        sent = ledger.SentRecords(records)
        assert sent.claim(conn, first, T0, LEASE)
        sent.add(first, message_id="<1@x>", reply="250 ok", now=sent_at)
        assert row(db, first).status == ("sending" if db.is_postgres else "sent")
        assert sent.claim(conn, second, T0 + timedelta(seconds=10), LEASE)
        assert sent.waiting is None
        sent.add(second, message_id="<2@x>", reply="250 ok 2", now=sent_at)
        assert not sent.claim(conn, second, T0, LEASE)  # taken: the record is written all the same
        assert sent.claim(conn, third, T0, LEASE)
        sent.add(third, message_id="<3@x>", reply="250 ok 3", now=sent_at)
        sent.flush()
        sent.flush()  # nothing left: a no-op
    for delivery_id, message_id in ((first, "<1@x>"), (second, "<2@x>"), (third, "<3@x>")):
        found = row(db, delivery_id)
        assert (found.status, found.message_id, found.lease_until, found.attempts) == (
            "sent",
            message_id,
            None,
            1,
        )
        assert found.sent_at is not None and found.sent_at == sent_at
    claimed = row(db, second)
    assert claimed.updated_at == sent_at and claimed.smtp_reply == "250 ok 2"


def test_a_claim_with_a_waiting_record_still_checks_the_reader(
    db: Database, rows: list[int]
) -> None:
    """The combined statement claims under the same rules: a reader who left is not
    claimed, and the waiting record is written anyway."""
    first, second, _ = rows
    reader = row(db, second).subscriber_id
    with db.session() as session:
        session.get_one(SubscriberRow, reader).status = "unsubscribed"
    with db.ledger_connection() as conn, db.ledger_connection(durable=False) as records:
        sent = ledger.SentRecords(records)
        assert sent.claim(conn, first, T0, LEASE)
        sent.add(first, message_id="<1@x>", reply="250 ok", now=T0)
        assert not sent.claim(conn, second, T0, LEASE)
        assert ledger.skip_if_reader_left(conn, second, T0) == "unsubscribed"
    assert row(db, first).status == "sent"
    assert row(db, second).status == "skipped"


def test_many_rows_picks_are_stored_in_one_go_and_read_back_as_the_json_column_would(
    db: Database, rows: list[int]
) -> None:
    """On PostgreSQL a chunk's picks are one UPDATE ... FROM unnest: the stored JSON (as
    orjson writes it: no spaces, UTF-8 rather than escapes) reads back as the same lists as
    the text the column itself writes, rows with picks keep them, and an empty list is
    stored as an empty list."""
    from sqlalchemy import text

    picks = [Pick("2501.00001", 1.5, "matches 'x' — ünïcode", "x", shown=True, match=0.7)]
    with db.session() as session:
        editions.store_picks(session, [(rows[0], picks)])
    with db.session() as session:
        editions.store_picks(session, [(rows[0], []), (rows[1], picks), (rows[2], [])])
    assert row(db, rows[0]).picks == [p.to_json() for p in picks]
    assert row(db, rows[1]).picks == [p.to_json() for p in picks]
    assert row(db, rows[2]).picks == []
    with db.session() as session:
        stored = session.execute(
            text("SELECT CAST(picks AS TEXT) FROM deliveries WHERE id = :i"), {"i": rows[1]}
        ).scalar()
    import json

    assert isinstance(stored, str) and json.loads(stored) == [p.to_json() for p in picks]
    column_text = json.dumps([p.to_json() for p in picks])  # SQLAlchemy's JSON column
    if db.is_postgres:
        assert stored == to_json([p.to_json() for p in picks]) != column_text
        assert json.loads(stored) == json.loads(column_text)
    else:
        assert stored == column_text


def test_a_group_of_papers_sent_keeps_each_rows_time(db: Database, rows: list[int]) -> None:
    """A group of one time (a batch's) and a group of several both store each row's time."""
    first, second, _ = rows
    readers = {d: row(db, d).subscriber_id for d in (first, second)}
    later = T0 + timedelta(minutes=3)
    with db.ledger_connection(durable=False) as conn:
        papers = ledger.SentPapers()
        papers.add(conn, readers[first], first, ["p1", "p2"], T0)
        papers.flush(conn)
        papers.add(conn, readers[first], first, ["p3"], T0)
        papers.add(conn, readers[second], second, ["p1"], later)
        papers.flush(conn)
    with db.session() as session:
        got = session.execute(
            select(SentPaperRow.subscriber_id, SentPaperRow.paper_id, SentPaperRow.sent_at)
        ).all()
    assert sorted((s, p, t) for s, p, t in got) == sorted(
        [
            (readers[first], "p1", T0),
            (readers[first], "p2", T0),
            (readers[first], "p3", T0),
            (readers[second], "p1", later),
        ]
    )


def test_a_claim_sent_without_waiting_is_ours_only_once_committed(
    db: Database, rows: list[int]
) -> None:
    """The send loop's claim goes to PostgreSQL without waiting (the worker renders while
    the database commits): ``claim_later`` returns while another transaction still holds
    the row, and its answer, read later, follows the usual rules: the claim that waited
    behind a winner finds the row taken; the record of the message before rides along;
    an error is raised where the answer is read, and the connection serves on after.
    Elsewhere (SQLite) it is :meth:`SentRecords.claim`."""
    from sqlalchemy import update

    first, second, third = rows
    with db.ledger_connection() as conn, db.ledger_connection(durable=False) as records:
        sent = ledger.SentRecords(records)
        pending = sent.claim_later(conn, first, T0, LEASE)
        if not db.is_postgres:
            assert pending is True
            return
        assert callable(pending) and pending() and pending()  # one answer, read once
        sent.add(first, message_id="<1@x>", reply="250 ok", now=T0)
        with db.engine.connect() as rival:  # holds the second row, uncommitted
            rival.execute(
                update(DeliveryRow).where(DeliveryRow.id == second).values(status="sending")
            )
            pending = sent.claim_later(conn, second, T0, LEASE)  # returns at once
            assert callable(pending) and sent.waiting is not None
            rival.commit()  # the rival wins: our claim, waiting behind it, matches nothing
        assert pending() is False
        assert sent.waiting is None and row(db, first).status == "sent"  # written with it
        assert callable(sent.claim_later(conn, third, T0, LEASE))
        sent.settle()  # an answer nobody asked for is read before the next statement
        assert row(db, third).status == "sending"
        bad = {"row_id": "not a number", "now": T0, "lease_until": T0}
        started = ledger._FAST_CLAIM.start(conn, bad)
        assert started is not None
        with pytest.raises(DBAPIError):
            started()
        assert ledger.claim(conn, first, T0, LEASE) is False  # the connection serves on
