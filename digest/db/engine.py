"""Engines, sessions and schema checks for SQLite and PostgreSQL.

``Database`` wraps one engine and its session factory. ``ensure_schema`` checks the server
answers and the schema is current, and turns driver errors into one-line ConfigErrors.
Migrations themselves live in ``digest.db.migrate`` (Alembic), loaded only to run one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from digest.db.revision import VERSION_TABLE, head_revision
from digest.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

# PostgreSQL connections kept open per process: the web server runs at most this many
# requests' database work at once (digest.web.app), so a busy site reuses connections
# instead of opening one per request. Created lazily: a CLI command opens one.
POOL_SIZE = 20


def normalize_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs (SQLAlchemy would default to psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_db_engine(url: str) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=POOL_SIZE,
        max_overflow=10,
        connect_args={"connect_timeout": 10},
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """One database: an engine, a session factory and its migrations."""

    def __init__(self, url: str):
        self.url = normalize_url(url)
        self.engine = create_db_engine(self.url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def ledger_connection(self, *, durable: bool = True) -> Iterator[Connection]:
        """One connection in autocommit mode, held for a send loop: each ledger transition
        (``digest.db.ledger``) is a single statement, durable when it returns, in one round
        trip (no BEGIN/COMMIT, no pool checkout and ping per step).

        ``durable=False`` (PostgreSQL: ``synchronous_commit = off``) is for records whose
        loss in a database crash is harmless: a commit returns before its WAL is flushed,
        so a sender does not wait for the disk (this machine's disk allows ~280 flushed
        commits a second, ~4,000 without). A claim must stay durable: it is what keeps a
        message from being sent twice after a crash; a "sent" record lost with the last
        fraction of a second before a crash leaves its row claimed, later ``unknown``,
        never sent again. The setting is reset before the connection returns to the pool."""
        with self.engine.connect() as conn:
            auto = conn.execution_options(isolation_level="AUTOCOMMIT")
            relaxed = not durable and self.is_postgres
            if relaxed:
                auto.execute(text("SET synchronous_commit TO off"))
            try:
                yield auto
            finally:
                if relaxed and not auto.invalidated:
                    auto.execute(text("RESET synchronous_commit"))

    def check_connection(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            reason = _first_line(exc)
            raise ConfigError(
                f"DIGEST_DATABASE_URL: cannot connect to {self.display_url}: {reason}"
            ) from None

    # -- migrations -------------------------------------------------------------------
    # Alembic (and Mako) load only here, when a schema is upgraded or inspected: opening a
    # current database needs neither (see ``ensure_schema``).
    def _alembic_config(self) -> Config:
        from digest.db import migrate  # lazy: Alembic (see above)

        return migrate.alembic_config(self.url)

    def head_revision(self) -> str | None:
        from digest.db import migrate  # lazy: Alembic (see above)

        return migrate.head_revision(self.url)

    def current_revision(self) -> str | None:
        from digest.db import migrate  # lazy: Alembic (see above)

        with self.engine.connect() as conn:
            return migrate.current_revision(conn)

    def upgrade(self, revision: str = "head") -> None:
        from digest.db import migrate  # lazy: Alembic (see above)

        self.check_connection()
        with self.engine.begin() as conn:
            migrate.upgrade(conn, self.url, revision)

    def stored_revision(self) -> str | None:
        """The revision the database is at (None: no digest tables), in one query."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table(VERSION_TABLE):
                return None
            return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()

    def ensure_schema(self, *, auto_upgrade: bool) -> None:
        """Check the server answers and the schema is current; upgrade if allowed."""
        self.check_connection()
        try:
            current = self.stored_revision()
        except OperationalError as exc:
            raise ConfigError(f"DIGEST_DATABASE_URL: {_first_line(exc)}") from None
        if current == head_revision():
            return
        if auto_upgrade:
            self.upgrade()
            return
        state = "has no digest tables" if current is None else f"is at revision {current}"
        raise ConfigError(
            f"DIGEST_DATABASE_URL: the database {state}; run `digest db upgrade` first"
        )

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, *, auto_upgrade: bool | None = None) -> Database:
    """Connect, and bring an embedded SQLite schema up to date automatically.

    A PostgreSQL schema is only upgraded by `digest db upgrade` (or `digest demo`): an
    operator decides when production migrations run.
    """
    db = Database(url)
    if auto_upgrade is None:
        auto_upgrade = not db.is_postgres
    db.ensure_schema(auto_upgrade=auto_upgrade)
    return db


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__
