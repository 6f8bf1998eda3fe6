"""The delivery ledger's row transitions: claim, sent, failed, released, skipped, expired.

Each is one conditional UPDATE of ``deliveries`` (SQLAlchemy Core, not the ORM's unit of
work) that changes the row only from the states it names, so two actors racing on a row
cannot both win. Being single statements, they can run on a connection in autocommit
mode: the send loop's claim and its record are one round trip each, durable when they
return (``Database.ledger_connection``).

A row's life: ``pending`` → (claim, right before DATA) ``sending`` → ``sent`` | ``retry``
(→ claim again later) | ``failed``; ``pending``/``retry`` → ``skipped`` (nothing to send,
or the reader left); ``sending`` → ``pending`` (the session failed before the message was
handed over) | ``unknown`` (the lease expired: the worker died while handing it over).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from select import POLLIN, POLLOUT, poll
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Update,
    and_,
    bindparam,
    case,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from digest.db.models import DeliveryRow, SentPaperRow, SubscriberRow
from digest.db.statements import affected, table

if TYPE_CHECKING:
    from psycopg.pq.abc import PGconn, PGresult

Executor = Session | Connection
OPEN = ("pending", "retry")

deliveries = table(DeliveryRow)
subscribers = table(SubscriberRow)
sent_papers = table(SentPaperRow)


def reader_is_active() -> ColumnElement[bool]:
    """The row's reader is still subscribed: checked in the claim itself, so an unsubscribe
    committed at any time before the claim reaches an edition that is already running.

    A scalar subquery (the reader's status, by primary key), not ``EXISTS``: PostgreSQL may
    run an ``EXISTS`` as a "hashed SubPlan" that reads every active reader into a hash
    table on each execution (it did, with the statistics of an empty table: 3 ms a claim at
    5,000 readers, growing with them); a scalar subquery is always one index probe a row.
    A reader deleted since planning has no status: NULL, which no claim matches."""
    status = (
        select(subscribers.c.status)
        .where(subscribers.c.id == deliveries.c.subscriber_id)
        .scalar_subquery()
    )
    return status == "active"


def _change(db: Executor, delivery_id: int, states: Sequence[str], **values: object) -> bool:
    """One conditional UPDATE: changes the row only while it is in ``states``."""
    result = db.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.status.in_(states))
        .values(**values)
    )
    return affected(result) == 1


# The two statements of every message, built once with bound parameters: constructing a
# statement and its cache key costs more Python time than running it.
_CLAIM = (
    update(deliveries)
    .where(
        deliveries.c.id == bindparam("row_id"),
        or_(*(deliveries.c.status == state for state in OPEN)),  # no expanding IN: see _fast
        (deliveries.c.next_attempt_at.is_(None))
        | (deliveries.c.next_attempt_at <= bindparam("now")),
        reader_is_active(),
    )
    .values(
        status="sending",
        lease_until=bindparam("lease_until"),
        attempts=deliveries.c.attempts + 1,
        updated_at=bindparam("now"),
    )
)
_SENT = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("row_id"), deliveries.c.status == "sending")
    .values(
        status="sent",
        message_id=bindparam("message_id"),
        smtp_reply=bindparam("reply"),
        sent_at=bindparam("now"),
        updated_at=bindparam("now"),
        lease_until=None,
        last_error=None,
    )
)


# The claim of the next row and the "sent" record of the previous one, in one statement
# of the send loop (one round trip and one commit instead of two). Each row changes only
# from its own states, as in _CLAIM and _SENT; RETURNING says which did. The two rows are
# found by their ids alone (the states are tested inside a CASE, where no index can
# match them): written as an OR of the two cases, the planner could serve the record's
# case from an index on ``status`` whenever statistics said ``sending`` was rare, and
# then read every ``sending`` entry of that index, dead ones included, on every claim.
_IS_CLAIM = deliveries.c.id == bindparam("row_id")
_CLAIM_AND_SENT = (
    update(deliveries)
    .where(
        deliveries.c.id.in_(
            [bindparam("row_id", type_=Integer()), bindparam("sent_id", type_=Integer())]
        ),
        case(
            (
                _IS_CLAIM,
                and_(
                    or_(*(deliveries.c.status == state for state in OPEN)),
                    (deliveries.c.next_attempt_at.is_(None))
                    | (deliveries.c.next_attempt_at <= bindparam("now")),
                    reader_is_active(),
                ),
            ),
            else_=deliveries.c.status == "sending",
        ),
    )
    .values(
        status=case((_IS_CLAIM, "sending"), else_="sent"),
        lease_until=case(
            (_IS_CLAIM, bindparam("lease_until", type_=deliveries.c.lease_until.type)),
            else_=None,
        ),
        attempts=case((_IS_CLAIM, deliveries.c.attempts + 1), else_=deliveries.c.attempts),
        updated_at=case(
            (_IS_CLAIM, bindparam("now", type_=deliveries.c.updated_at.type)),
            else_=bindparam("sent_at", type_=deliveries.c.sent_at.type),
        ),
        message_id=case(
            (_IS_CLAIM, deliveries.c.message_id),
            else_=bindparam("message_id", type_=deliveries.c.message_id.type),
        ),
        smtp_reply=case(
            (_IS_CLAIM, deliveries.c.smtp_reply),
            else_=bindparam("reply", type_=deliveries.c.smtp_reply.type),
        ),
        sent_at=case(
            (_IS_CLAIM, deliveries.c.sent_at),
            else_=bindparam("sent_at", type_=deliveries.c.sent_at.type),
        ),
        last_error=case((_IS_CLAIM, deliveries.c.last_error), else_=None),
    )
    .returning(deliveries.c.id)
)


class _Prepared:
    """A statement compiled once for psycopg, run on the driver's own cursor as a prepared
    statement (psycopg's ``prepare=True``): for the two statements of every message on the
    send loop's autocommit connections, which otherwise spend more client CPU in
    SQLAlchemy's execution path (cache key, parameters, result) than in the round trip."""

    def __init__(self, statement: Update, name: str):
        compiled = statement.compile(dialect=postgresql.psycopg.dialect())  # type: ignore[no-untyped-call]
        self.sql: str = compiled.string
        self.defaults: dict[str, Any] = dict(compiled.params)
        # The same statement with numbered parameters, prepared under a name of its own on
        # the connection, for :meth:`start` (which sends it through libpq without waiting).
        self.name = f"digest_{name}".encode()
        self.order: list[str] = []
        self.numbered = re.sub(r"%\((\w+)\)s", self._number, self.sql).encode()

    def _number(self, match: re.Match[str]) -> str:
        if match.group(1) not in self.order:
            self.order.append(match.group(1))
        return f"${self.order.index(match.group(1)) + 1}"

    def rowcount(self, db: Executor, values: dict[str, Any]) -> int | None:
        """Rows changed, or None when ``db`` is not an autocommit psycopg connection (a
        session, SQLite, a connection in a transaction): the caller runs it the usual way."""
        cursor = self.run(db, values)
        return None if cursor is None else int(cursor.rowcount)

    def returned(self, db: Executor, values: dict[str, Any]) -> list[Any] | None:
        """The first column of the rows RETURNING gave, or None as for :meth:`rowcount`."""
        cursor = self.run(db, values)
        return None if cursor is None else [found[0] for found in cursor.fetchall()]

    @staticmethod
    def fast(db: Executor) -> bool:
        """Whether ``db`` is an autocommit psycopg connection (where this class runs)."""
        if not isinstance(db, Connection) or db.dialect.driver != "psycopg":
            return False
        driver = db.connection.driver_connection
        return driver is not None and bool(driver.autocommit)

    def run(self, db: Executor, values: dict[str, Any]) -> Any:
        """The driver's cursor after running the statement, or None (see :meth:`rowcount`)."""
        if not self.fast(db):  # in autocommit, as SQLAlchemy would run it
            return None
        assert isinstance(db, Connection)
        driver = db.connection.driver_connection
        assert driver is not None
        cursor = db.info.get("ledger_cursor")
        if cursor is None or cursor.closed:
            cursor = db.info["ledger_cursor"] = driver.cursor()
        params = self.defaults | values
        try:
            cursor.execute(self.sql, params, prepare=True)
        except Exception as exc:  # as SQLAlchemy reports a driver's error
            if driver.broken:
                db.invalidate(exc)
            raise DBAPIError.instance(self.sql, params, exc, type(exc)) from exc
        return cursor

    def start(self, db: Executor, values: dict[str, Any]) -> Started | None:
        """Send the statement without waiting for PostgreSQL's answer (its commit, in
        autocommit), so that the caller can work meanwhile; the :class:`Started` returned
        waits for it. None where :meth:`run` would not run it either.

        Through the connection's libpq wrapper (psycopg's ``Connection.pgconn``): the
        statement, prepared once per connection under its own name, and its parameters as
        text. Nothing else may use the connection until the answer has been read."""
        if not self.fast(db):
            return None
        from psycopg import pq  # lazy: loaded already, the connection is psycopg's

        assert isinstance(db, Connection)
        driver = db.connection.driver_connection
        assert driver is not None
        pgconn = driver.pgconn
        if pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return None  # something else is in flight: the usual way
        params = self.defaults | values
        try:
            prepared: set[bytes] = db.info.setdefault("ledger_statements", set())
            if self.name not in prepared:
                pgconn.send_prepare(self.name, self.numbered)
                _flush(pgconn)
                _answer(pgconn)
                prepared.add(self.name)
            pgconn.send_query_prepared(self.name, [_as_text(params[k]) for k in self.order])
            _flush(pgconn)
        except Exception as exc:
            raise self._failed(db, params, exc) from exc
        return Started(self, db, params)

    def _failed(self, db: Connection, params: dict[str, Any], exc: Exception) -> DBAPIError:
        """A driver's error as SQLAlchemy reports it (the connection invalidated if lost)."""
        driver = db.connection.driver_connection
        if driver is not None and driver.broken:
            db.invalidate(exc)
        error = DBAPIError.instance(self.sql, params, exc, type(exc))
        assert isinstance(error, DBAPIError)
        return error


class Started:
    """A statement sent by :meth:`_Prepared.start`; calling it waits for PostgreSQL's
    answer (once: later calls give the same) and returns the rows it changed and the first
    column of the rows RETURNING gave (as ints: the rows' ids)."""

    def __init__(self, statement: _Prepared, db: Connection, params: dict[str, Any]):
        self.statement, self.db, self.params = statement, db, params
        self.answer: tuple[int, list[int]] | None = None

    def __call__(self) -> tuple[int, list[int]]:
        if self.answer is None:
            driver = self.db.connection.driver_connection
            assert driver is not None
            try:
                result = _answer(driver.pgconn)
            except Exception as exc:
                raise self.statement._failed(self.db, self.params, exc) from exc
            ids = [int(result.get_value(i, 0) or 0) for i in range(result.ntuples)]
            self.answer = (result.command_tuples or 0, ids)
        return self.answer


def _as_text(value: Any) -> bytes | None:
    """A parameter in PostgreSQL's text format (the types are the statement's casts)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().encode()
    return str(value).encode()


def _wait(pgconn: PGconn, events: int) -> None:
    poller = poll()
    poller.register(pgconn.socket, events)
    poller.poll()


def _flush(pgconn: PGconn) -> None:
    """Write what libpq holds for the server (the connection is non-blocking)."""
    while pgconn.flush():
        _wait(pgconn, POLLOUT)


def _answer(pgconn: PGconn) -> PGresult:
    """Wait for the result of the statement sent last, and read it to its end; an error
    result raised as psycopg raises it."""
    # lazy: psycopg (the driver) loads with the first PostgreSQL connection, not with
    # every command that imports the ledger (SQLite needs none of it)
    import psycopg
    from psycopg import pq

    first = None
    while True:
        while pgconn.is_busy():
            _wait(pgconn, POLLIN)
            pgconn.consume_input()
        result = pgconn.get_result()
        if result is None:
            break
        if first is None:
            first = result
    if first is None:
        raise psycopg.OperationalError("no result from the server")
    if first.status == pq.ExecStatus.FATAL_ERROR:
        sqlstate = first.error_field(pq.DiagnosticField.SQLSTATE)
        message = first.error_message.decode("utf-8", "replace")
        error = psycopg.errors.lookup(sqlstate.decode()) if sqlstate else psycopg.DatabaseError
        raise error(message)
    return first


_FAST_CLAIM = _Prepared(_CLAIM, "claim")
_FAST_SENT = _Prepared(_SENT, "sent")
_FAST_CLAIM_AND_SENT = _Prepared(_CLAIM_AND_SENT, "claim_and_sent")
# What every message runs, as the send loop sends it (PostgreSQL's plans of these are tested:
# each must reach its rows by primary key whatever the table statistics say).
SEND_LOOP = {"claim": _FAST_CLAIM, "sent": _FAST_SENT, "claim and sent": _FAST_CLAIM_AND_SENT}


def claim(db: Executor, delivery_id: int, now: datetime, lease: timedelta) -> bool:
    """Atomically move one claimable row to ``sending``; only one claimant can succeed.

    The conditional UPDATE is the lock: a second claimant (a task delivered twice, a
    concurrent run) re-evaluates the WHERE clause after the first commits and matches
    nothing. Not claimable: a retry whose time has not come, a row whose reader is no
    longer active (:func:`skip_if_reader_left` then settles it).
    """
    values = {"row_id": delivery_id, "now": now, "lease_until": now + lease}
    changed = _FAST_CLAIM.rowcount(db, values)
    if changed is None:
        changed = affected(db.execute(_CLAIM, values))
    return changed == 1


def mark_sent(
    db: Executor, delivery_id: int, *, message_id: str, reply: str, now: datetime
) -> bool:
    """Record the relay's 250 for a claimed row (its papers go to :class:`SentPapers`)."""
    values = {"row_id": delivery_id, "message_id": message_id, "reply": reply[:500], "now": now}
    changed = _FAST_SENT.rowcount(db, values)
    if changed is None:
        changed = affected(db.execute(_SENT, values))
    return changed == 1


class SentRecords:
    """The send loop's "sent" records, each written with the claim of the next message
    (one statement: :data:`_CLAIM_AND_SENT`) instead of on its own: one round trip and one
    commit a message instead of two, and the record is as durable as the claim.

    At most one record waits at a time, so a worker killed at any moment leaves at most
    one row of its own ``sending`` without its message's outcome recorded, as before: the
    one whose message is being handed over, or the one sent last. ``flush`` writes a
    record left at the end of a batch (and before anything else is written about the
    rows of the batch). Where the claim is not a prepared statement (SQLite, a session),
    a record is written at once on ``records``, as :func:`mark_sent` does."""

    def __init__(self, records: Executor):
        self.records = records
        self.waiting: dict[str, Any] | None = None
        self.pending: Callable[[], bool] | None = None  # a claim sent, its answer unread

    def add(self, delivery_id: int, *, message_id: str, reply: str, now: datetime) -> None:
        self.flush()
        record = {"sent_id": delivery_id, "message_id": message_id, "reply": reply[:500]}
        if _Prepared.fast(self.records):
            self.waiting = record | {"sent_at": now}
        else:
            mark_sent(self.records, delivery_id, message_id=message_id, reply=reply, now=now)

    def claim_later(
        self, db: Executor, delivery_id: int, now: datetime, lease: timedelta
    ) -> bool | Callable[[], bool]:
        """:meth:`claim`, sent to PostgreSQL without waiting for its commit where it can be
        (the send loop's autocommit psycopg connection), so that the caller works while
        the database commits: then a callable that waits for the commit and says whether
        the row is ours. The row is claimed only once that callable has returned True;
        nothing about the message may be handed over before. Elsewhere :meth:`claim`."""
        self.settle()
        record = self.waiting
        values = {"row_id": delivery_id, "now": now, "lease_until": now + lease}
        if record is None or record["sent_id"] == delivery_id:
            statement = _FAST_CLAIM
        else:
            statement = _FAST_CLAIM_AND_SENT
            values = record | values
        if not _Prepared.fast(db):
            return self.claim(db, delivery_id, now, lease)
        if statement is _FAST_CLAIM:
            self.flush()
        started = statement.start(db, values)
        if started is None:
            return self.claim(db, delivery_id, now, lease)

        def claimed() -> bool:
            self.pending = None
            changed, ids = started()
            if statement is _FAST_CLAIM:
                return changed == 1
            if self.waiting is record:  # written (or no longer ``sending``: as mark_sent)
                self.waiting = None
            return delivery_id in ids

        self.pending = claimed
        return claimed

    def settle(self) -> None:
        """Wait for a claim sent by :meth:`claim_later` whose answer nobody read (the
        connection is free again after)."""
        if self.pending is not None:
            self.pending()

    def claim(self, db: Executor, delivery_id: int, now: datetime, lease: timedelta) -> bool:
        """:func:`claim`, writing the waiting record in the same statement."""
        self.settle()
        record = self.waiting
        if record is None or record["sent_id"] == delivery_id or not _Prepared.fast(db):
            self.flush()
            return claim(db, delivery_id, now, lease)
        values = record | {"row_id": delivery_id, "now": now, "lease_until": now + lease}
        changed = _FAST_CLAIM_AND_SENT.returned(db, values)
        self.waiting = None  # written (or the row was no longer ``sending``: as mark_sent)
        return changed is not None and delivery_id in changed

    def flush(self) -> None:
        self.settle()
        record, self.waiting = self.waiting, None
        if record is not None:
            mark_sent(
                self.records,
                record["sent_id"],
                message_id=record["message_id"],
                reply=record["reply"],
                now=record["sent_at"],
            )


def failure_outcome(
    *, attempts: int, permanent: bool, now: datetime, max_attempts: int, backoff: timedelta
) -> tuple[str, datetime | None]:
    """Where a claimed row that did not go out goes: ``failed`` for good, or ``retry`` at a
    time that doubles with each attempt (``attempts`` counts the one that just failed)."""
    if permanent or attempts >= max_attempts:
        return "failed", None
    return "retry", now + backoff * (2 ** max(attempts - 1, 0))


def mark_failed(
    db: Executor,
    delivery_id: int,
    *,
    attempts: int,
    error: str,
    permanent: bool,
    now: datetime,
    max_attempts: int,
    backoff: timedelta,
) -> str:
    """A claimed row that did not go out; returns its new status (``retry`` or ``failed``)."""
    status, next_at = failure_outcome(
        attempts=attempts, permanent=permanent, now=now, max_attempts=max_attempts, backoff=backoff
    )
    _change(
        db,
        delivery_id,
        ("sending",),
        status=status,
        next_attempt_at=next_at,
        last_error=error[:2000],
        lease_until=None,
        updated_at=now,
    )
    return status


def release(db: Executor, delivery_id: int, *, reason: str, now: datetime) -> bool:
    """Give back a claimed row whose message was never handed over (the session failed
    first): pending again, its attempt not counted."""
    return _change(
        db,
        delivery_id,
        ("sending",),
        status="pending",
        attempts=deliveries.c.attempts - 1,
        next_attempt_at=None,
        lease_until=None,
        last_error=reason[:2000],
        updated_at=now,
    )


def skip_open(db: Executor, delivery_id: int, *, reason: str, now: datetime) -> bool:
    """Settle an open row that has nothing to send (no new paper for its reader)."""
    return _change(
        db,
        delivery_id,
        OPEN,
        status="skipped",
        last_error=reason,
        lease_until=None,
        next_attempt_at=None,
        updated_at=now,
    )


def skip_if_reader_left(db: Executor, delivery_id: int, now: datetime) -> str | None:
    """Settle an open row whose reader is no longer active as ``skipped``; their status
    (``unsubscribed``, ``paused``, ...) when it did, else None."""
    status = db.execute(
        select(subscribers.c.status)
        .join(deliveries, deliveries.c.subscriber_id == subscribers.c.id)
        .where(deliveries.c.id == delivery_id)
    ).scalar()
    if status is None or status == "active":
        return None
    changed = _change(
        db,
        delivery_id,
        OPEN,
        status="skipped",
        last_error=f"reader is {status}",
        lease_until=None,
        next_attempt_at=None,
        updated_at=now,
    )
    return status if changed else None


SETTLED = ("sent", "skipped", "failed", "unknown")


def prune_settled(db: Executor, before: datetime) -> int:
    """Delete settled rows created before ``before`` (retention): sent, skipped, failed and
    unknown rows say nothing the next edition needs. What keeps a paper from reaching a
    reader twice is ``sent_papers``, which stays; open rows (pending, retry, sending) stay
    whatever their age. Returns the number of rows deleted."""
    pruned = and_(deliveries.c.created_at < before, deliveries.c.status.in_(SETTLED))
    # sent_papers.delivery_id has no foreign key (migration 0010): cleared here, as its
    # ON DELETE SET NULL did, so it never names a row that is gone.
    db.execute(
        update(sent_papers)
        .where(sent_papers.c.delivery_id.in_(select(deliveries.c.id).where(pruned)))
        .values(delivery_id=None)
    )
    return affected(db.execute(deliveries.delete().where(pruned)))


def expire_leases(db: Executor, now: datetime) -> int:
    """Rows left in ``sending`` past their lease: the worker died mid-send.

    A row is claimed only once the relay has accepted its envelope, right before DATA (a
    worker that dies earlier leaves it open, and it is simply sent later). So a row still
    ``sending`` had its message handed over, and SMTP cannot tell whether it arrived: it
    becomes ``unknown`` (never re-sent automatically: a duplicate is worse than a miss for
    a digest) and is counted.
    """
    result = db.execute(
        update(deliveries)
        .where(deliveries.c.status == "sending", deliveries.c.lease_until < now)
        .values(
            status="unknown",
            lease_until=None,
            updated_at=now,
            last_error="lease expired while sending; delivery state unknown",
        )
    )
    return affected(result)


_COLUMNS = ("subscriber_id", "paper_id", "delivery_id", "sent_at")
_SENT_PAPERS_UNNEST = text(
    "INSERT INTO sent_papers (subscriber_id, paper_id, delivery_id, sent_at) "
    "SELECT * FROM unnest(CAST(:subscriber_id AS INTEGER[]), CAST(:paper_id AS VARCHAR[]), "
    "CAST(:delivery_id AS INTEGER[]), CAST(:sent_at AS TIMESTAMP WITH TIME ZONE[])) "
    "ON CONFLICT (subscriber_id, paper_id) DO NOTHING"
)
# The same when the group has one time (a batch's rows do): a 2,000-element array of
# timestamps costs psycopg about 10 ms of client CPU to send, one timestamp nothing.
_SENT_PAPERS_UNNEST_AT = text(
    "INSERT INTO sent_papers (subscriber_id, paper_id, delivery_id, sent_at) "
    "SELECT s, p, d, CAST(:sent_at AS TIMESTAMP WITH TIME ZONE) "
    "FROM unnest(CAST(:subscriber_id AS INTEGER[]), CAST(:paper_id AS VARCHAR[]), "
    "CAST(:delivery_id AS INTEGER[])) AS v(s, p, d) "
    "ON CONFLICT (subscriber_id, paper_id) DO NOTHING"
)


class SentPapers:
    """The papers of sent rows, written in groups: remembered so that no paper is sent to
    the same reader twice. (A reader's next candidates also exclude everything that
    arrived before their last digest, so a group lost with a killed worker costs nothing.)"""

    def __init__(self, flush_at: int = 2000):
        self.rows: list[dict[str, object]] = []
        self.flush_at = flush_at  # rows (about 200 digests of 10 papers)

    def add(
        self,
        db: Executor,
        subscriber_id: int,
        delivery_id: int,
        papers: Sequence[str],
        when: datetime,
    ) -> None:
        row = {"subscriber_id": subscriber_id, "delivery_id": delivery_id, "sent_at": when}
        self.rows.extend(row | {"paper_id": paper_id} for paper_id in papers)
        if len(self.rows) >= self.flush_at:
            self.flush(db)

    def flush(self, db: Executor) -> None:
        if not self.rows:
            return
        bind = db.get_bind() if isinstance(db, Session) else db
        if bind.dialect.name == "postgresql":  # one statement of arrays, not 2,000 rows
            times = {r["sent_at"] for r in self.rows}
            if len(times) == 1:
                values = {k: [r[k] for r in self.rows] for k in _COLUMNS if k != "sent_at"}
                db.execute(_SENT_PAPERS_UNNEST_AT, values | {"sent_at": times.pop()})
            else:
                db.execute(_SENT_PAPERS_UNNEST, {k: [r[k] for r in self.rows] for k in _COLUMNS})
            self.rows = []
            return
        insert = postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert
        statement = insert(sent_papers).on_conflict_do_nothing(
            index_elements=["subscriber_id", "paper_id"]
        )
        db.execute(statement, self.rows)
        self.rows = []
