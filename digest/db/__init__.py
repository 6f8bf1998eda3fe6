"""Storage adapter: models, engine, migrations and the named queries in ``repo``."""

from digest.db.engine import Database

__all__ = ["Database"]
