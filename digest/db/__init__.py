"""Storage adapter: models, engine, migrations, and the named queries, one module per job
(papers, sources, subscribers, editions, ledger, tracking, feedback, vectors, accounts,
bounces, stats): see docs/architecture.md."""

from digest.db.engine import Database

__all__ = ["Database"]
