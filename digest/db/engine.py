"""Engines, sessions and schema migrations for SQLite and PostgreSQL.

``Database`` wraps one engine and its session factory. ``connect`` checks the server
answers and the schema is current, and turns driver errors into one-line ConfigErrors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from digest.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
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


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
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
    def ledger_connection(self) -> Iterator[Connection]:
        """One connection in autocommit mode, held for a send loop: each ledger transition
        (``digest.db.ledger``) is a single statement, durable when it returns, in one round
        trip (no BEGIN/COMMIT, no pool checkout and ping per step)."""
        with self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

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
    def _alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return cfg

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def upgrade(self, revision: str = "head") -> None:
        self.check_connection()
        cfg = self._alembic_config()
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    def ensure_schema(self, *, auto_upgrade: bool) -> None:
        """Check the server answers and the schema is current; upgrade if allowed."""
        self.check_connection()
        try:
            current = self.current_revision()
        except OperationalError as exc:
            raise ConfigError(f"DIGEST_DATABASE_URL: {_first_line(exc)}") from None
        if current == self.head_revision():
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
