"""PostgreSQL advisory locks: the scheduler's leader lock (a session-level advisory lock on a
connection of its own), and the statements ``digest run``'s enqueue lock uses.

Held for as long as that session lives, released by the server the moment it ends (a
killed process's socket closes; a vanished host's session ends when TCP keepalives, set on
both ends here, give up after about 25 s). Every failure is reported as "not held" with
the reason in :attr:`AdvisoryLock.problem`, never raised: the scheduler's loop decides.
"""

from __future__ import annotations

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from digest.db.engine import _first_line, normalize_url

# libpq keepalives (our end) and the server's (its end): a dead peer is noticed in ~25 s.
KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
SERVER_KEEPALIVE = (
    "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
)


def try_advisory_lock(conn: Connection, key: int) -> bool:
    """``pg_try_advisory_lock(key)`` on this connection's session: True when it now holds
    the lock (or already did), without waiting."""
    return bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())


def advisory_unlock(conn: Connection, key: int) -> None:
    """Release a lock taken with :func:`try_advisory_lock` on this connection."""
    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


class AdvisoryLock:
    """``pg_try_advisory_lock(key)`` held on one autocommit connection."""

    label = "PostgreSQL advisory lock"

    def __init__(self, url: str, key: int, *, connect_timeout: int = 5):
        self.key = key
        self.problem: str | None = None
        self._engine = create_engine(
            normalize_url(url),
            poolclass=NullPool,
            connect_args={
                "connect_timeout": connect_timeout,
                "options": SERVER_KEEPALIVE,
                "application_name": "digest-scheduler",
                **KEEPALIVE,
            },
        )
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        """Try once, without waiting; True when this session now holds the lock."""
        try:
            if self._conn is None:
                self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = try_advisory_lock(self._conn, self.key)
        except SQLAlchemyError as exc:
            return self._lost(exc)
        self.problem = None
        return bool(got)

    def held(self) -> bool:
        """Is the lock still ours? (The session is alive and the server lists the lock.)"""
        if self._conn is None:
            return False
        try:
            count = self._conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid = pg_backend_pid()"
                )
            ).scalar()
        except SQLAlchemyError as exc:
            return self._lost(exc)
        return bool(count)

    def release(self) -> None:
        """Unlock and close the session (closing alone would release it too)."""
        if self._conn is None:
            return
        try:
            advisory_unlock(self._conn, self.key)
            self._conn.close()
        except SQLAlchemyError:
            pass
        self._conn = None
        self._engine.dispose()

    def _lost(self, exc: SQLAlchemyError) -> bool:
        self.problem = _first_line(exc)
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except SQLAlchemyError:
                pass
            self._conn = None
        return False
