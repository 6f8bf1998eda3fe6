"""Pruning stored topic vectors (`digest db prune-vectors`) on real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from digest import embeddings
from digest.db import Database, subscribers
from digest.db import vectors as db_vectors
from digest.rank import semantic, vectors
from digest.subscriber_spec import validate_spec
from tests.helpers import run_cli

NOW = datetime(2025, 5, 2, 8, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=3)


def add(session, email: str, status: str, topics: list[str]) -> None:  # type: ignore[no-untyped-def]
    spec = validate_spec({"email": email, "status": status, "topics": topics})
    subscribers.add_subscriber(session, spec, NOW)


def store(session, texts: list[str], model: str = semantic.MODEL_NAME, at=OLD) -> None:  # type: ignore[no-untyped-def]
    blobs = {vectors.text_key(t): vectors.encode([1.0, 0.0]) for t in texts}
    db_vectors.store_text_embeddings(session, blobs, model, at)


def stored(db: Database, model: str = semantic.MODEL_NAME) -> set[str]:
    keys = {vectors.text_key(t): t for t in TEXTS}
    with db.session() as session:
        return {keys[k] for k in db_vectors.text_embeddings_for(session, keys, model)}


TEXTS = ["speech recognition", "graph learning", "paused topic", "old topic", "removed", "new"]


def test_prune_keeps_what_subscribers_need_and_what_is_recent(db: Database) -> None:
    with db.session() as session:
        add(session, "a@example.org", "active", ["speech recognition", "  graph   learning "])
        add(session, "p@example.org", "paused", ["paused topic"])
        add(session, "u@example.org", "unsubscribed", ["old topic"])
        store(session, ["speech recognition", "graph learning", "paused topic", "old topic"])
        store(session, ["removed"])  # a topic nobody has any more
        store(session, ["new"], at=NOW - timedelta(hours=2))  # within the grace period
        store(session, ["speech recognition"], model="an-older-model")
    with db.session() as session:
        assert embeddings.prune_text_vectors(session, now=NOW) == 3
    assert stored(db) == {"speech recognition", "graph learning", "paused topic", "new"}
    assert stored(db, "an-older-model") == set()
    with db.session() as session:  # nothing left to prune; a zero grace takes the recent one
        assert embeddings.prune_text_vectors(session, now=NOW) == 0
        assert embeddings.prune_text_vectors(session, now=NOW, grace=timedelta(0)) == 1
    assert stored(db) == {"speech recognition", "graph learning", "paused topic"}


def test_prune_vectors_command(db: Database, db_url, digest_env, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", db_url)
    with db.session() as session:
        add(session, "a@example.org", "active", ["graph learning"])
        store(session, ["graph learning", "removed"], at=datetime.now(UTC) - timedelta(days=2))
    result = run_cli(capsys, "db", "prune-vectors")
    assert result.code == 0, result.err
    assert "deleted 1 topic vector(s)" in result.out
    assert stored(db) == {"graph learning"}
    for days in ("-1", "1e12", "soon"):
        bad = run_cli(capsys, "db", "prune-vectors", "--grace-days", days)
        assert bad.code != 0 and "Traceback" not in bad.err + bad.out
