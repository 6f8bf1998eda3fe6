"""Schema migrations with Alembic: upgrade, and the revisions alembic knows.

Kept apart from ``engine`` so that opening a database whose schema is current (every CLI
command, every worker) does not import Alembic and Mako: ``Database.ensure_schema`` reads
the stored revision with one query and compares it with ``revision.head_revision``; this
module loads only when a schema is upgraded or inspected.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from digest.db.revision import MIGRATIONS_DIR


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision(url: str) -> str | None:
    """The newest revision of the migration scripts, as Alembic reads them."""
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(conn: Connection, url: str, revision: str = "head") -> None:
    cfg = alembic_config(url)
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)
