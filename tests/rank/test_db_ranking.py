"""Migrations 0003-0004 and the ranking adapters on real SQLite and PostgreSQL: feedback
events, stored paper and topic embeddings, and the pipeline's compute_picks reading them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import inspect

from digest import embeddings
from digest.db import Database, feedback, subscribers
from digest.db import vectors as db_vectors
from digest.db.papers import papers_by_ids, upsert_papers
from digest.domain import Paper
from digest.errors import InputError
from digest.rank import vectors
from digest.subscriber_spec import validate_spec

NOW = datetime(2025, 5, 2, 8, 0, tzinfo=UTC)


class TinyEmbedder:
    """A deterministic stand-in model (bag of three words) that counts its calls."""

    name = "tiny-test-model"

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.calls += 1
        rows = [[t.lower().count(w) + 0.01 for w in ("speech", "graph", "learning")] for t in texts]
        m = np.array(rows, dtype=np.float32)
        return m / np.linalg.norm(m, axis=1, keepdims=True)


def papers() -> list[Paper]:
    day = date(2025, 5, 2)
    return [
        Paper("2505.00001", "Speech recognition at scale", "speech models", announced=day),
        Paper("2505.00002", "Graph learning for molecules", "graph neural nets", announced=day),
        Paper("2505.00003", "Speech synthesis", "text to speech", announced=day),
    ]


def test_migration_creates_and_drops_the_ranking_schema(db: Database) -> None:
    insp = inspect(db.engine)
    assert {"embedding", "embedding_model"} <= {c["name"] for c in insp.get_columns("papers")}
    assert "feedback_events" in insp.get_table_names()
    db_cfg = db._alembic_config()
    from alembic import command

    with db.engine.begin() as conn:
        db_cfg.attributes["connection"] = conn
        command.downgrade(db_cfg, "0002")
    insp = inspect(db.engine)
    assert "feedback_events" not in insp.get_table_names()
    assert "embedding" not in {c["name"] for c in insp.get_columns("papers")}
    db.upgrade()
    assert "feedback_events" in inspect(db.engine).get_table_names()


def test_migration_0004_creates_and_drops_text_embeddings(db: Database) -> None:
    from alembic import command

    assert "text_embeddings" in inspect(db.engine).get_table_names()
    db_cfg = db._alembic_config()
    with db.engine.begin() as conn:
        db_cfg.attributes["connection"] = conn
        command.downgrade(db_cfg, "0003")
    assert "text_embeddings" not in inspect(db.engine).get_table_names()
    db.upgrade()
    assert "text_embeddings" in inspect(db.engine).get_table_names()


def test_topic_vectors_are_embedded_once_and_read_back(db: Database) -> None:
    model = TinyEmbedder()
    topics = ["speech recognition", "graph learning", "speech recognition"]
    with db.session() as session:
        first = embeddings.text_vectors(session, topics, model, NOW)
    assert model.calls == 1 and set(first) == {"speech recognition", "graph learning"}
    with db.session() as session:
        again = embeddings.text_vectors(session, [*topics, "learning to rank"], model, NOW)
        assert embeddings.text_vectors(session, topics, model, NOW).keys() == first.keys()
    assert model.calls == 2  # only "learning to rank" reached the model the second time
    assert all(np.allclose(again[t], first[t]) for t in first)
    with db.session() as session:
        stored = db_vectors.text_embeddings_for(
            session, [vectors.text_key(t) for t in again], model.name
        )
        assert len(stored) == 3
        assert db_vectors.text_embeddings_for(session, stored, "another-model") == {}
        # a key stored meanwhile (another worker) is left as it is, not an error
        db_vectors.store_text_embeddings(
            session, {vectors.text_key("graph learning"): b"x"}, model.name, NOW
        )
        kept = db_vectors.text_embeddings_for(
            session, [vectors.text_key("graph learning")], model.name
        )
    assert vectors.decode(next(iter(kept.values()))).shape == (3,)


def test_known_texts_run_the_model_only_on_the_others() -> None:
    model = TinyEmbedder()
    known = {"speech": np.array([1.0, 0.0, 0.0], dtype=np.float32)}
    embedder = vectors.KnownTexts(model, known)
    out = embedder.embed(["speech", "graph", "speech"])
    assert model.calls == 1 and out.shape == (3, 3)
    assert np.array_equal(out[0], known["speech"]) and np.array_equal(out[2], known["speech"])
    assert np.allclose(out[1], model.embed(["graph"])[0])
    embedder.embed(["speech"])
    assert model.calls == 2  # the direct call above; "speech" alone never reached the model


def test_feedback_events_round_trip(db: Database) -> None:
    with db.session() as session:
        sub = subscribers.add_subscriber(session, validate_spec({"email": "a@example.org"}), NOW)
        feedback.add_feedback(session, sub.id, "2505.00001", "up", NOW)
        feedback.add_feedback(session, sub.id, "2505.00001", "down", NOW + timedelta(hours=1))
        feedback.add_feedback(session, sub.id, "2505.00002", "click", NOW - timedelta(hours=1))
        with pytest.raises(InputError, match="feedback kind"):
            feedback.add_feedback(session, sub.id, "2505.00002", "love", NOW)
        sub_id = sub.id
    with db.session() as session:
        events = feedback.feedback_for(session, [sub_id, 999])[sub_id]
    assert [(e.paper_id, e.kind) for e in events] == [
        ("2505.00002", "click"),
        ("2505.00001", "up"),
        ("2505.00001", "down"),
    ]
    assert events[0].at is not None and events[0].at.tzinfo is not None


def test_papers_are_embedded_once_and_vectors_read_back(db: Database) -> None:
    model = TinyEmbedder()
    with db.session() as session:
        upsert_papers(session, papers(), NOW)
    with db.session() as session:
        assert embeddings.embed_new_papers(session, model, batch=2) == 3
    with db.session() as session:
        assert embeddings.embed_new_papers(session, model) == 0  # nothing new: model not called
        stored = vectors.decode_all(
            db_vectors.embeddings_for(session, [p.id for p in papers()], model.name)
        )
        assert db_vectors.embeddings_for(session, ["2505.00001"], "another-model") == {}
        loaded = papers_by_ids(session, ["2505.00001"])  # vectors are not loaded along
    assert model.calls == 2
    assert set(stored) == {p.id for p in papers()}
    assert stored["2505.00001"].shape == (3,)
    assert np.isclose(np.linalg.norm(stored["2505.00002"]), 1.0, atol=1e-5)
    assert loaded["2505.00001"].title == "Speech recognition at scale"


def test_compute_picks_uses_feedback(db: Database, tmp_path) -> None:
    from digest.pipeline.runtime import Runtime
    from digest.pipeline.service import compute_picks
    from digest.settings import Settings

    settings = Settings.from_env(
        {
            "DIGEST_DATABASE_URL": db.url,
            "DIGEST_VAR_DIR": str(tmp_path),
            "DIGEST_RANK": "semantic=off",
        }
    )
    rt = Runtime.from_settings(settings, db=db, clock=lambda: NOW)
    earlier = Paper(
        "2504.00009", "Speech recognition with transformers", "speech recognition audio"
    )
    with db.session() as session:
        upsert_papers(session, [earlier], NOW - timedelta(days=30))
        upsert_papers(session, papers(), NOW - timedelta(hours=2))
        spec = validate_spec({"email": "b@example.org", "topics": ["graph learning"]})
        sub = subscribers.add_subscriber(session, spec, NOW)
        before = compute_picks(rt, session, [sub], NOW)[0]
        for _ in range(3):
            feedback.add_feedback(session, sub.id, "2504.00009", "up", NOW)
        after = compute_picks(rt, session, [sub], NOW)[0]
    assert [p.paper_id for p in before] == ["2505.00002"]
    assert {"2505.00001", "2505.00002"} <= {p.paper_id for p in after}
    assert any("👍" in p.why for p in after if p.paper_id == "2505.00001")
