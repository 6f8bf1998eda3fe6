"""Stored vectors: each paper's embedding (``papers.embedding``, written once at ingest)
and the vectors of readers' topic texts (``text_embeddings``, keyed by model and the
text's SHA-256). Bytes in, bytes out: encoding them is :mod:`digest.rank.vectors`' job,
embedding them :mod:`digest.embeddings`'.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from digest.db.models import (
    PaperRow,
    TextEmbeddingRow,
)
from digest.db.papers import paper_from_row
from digest.db.statements import chunks, insert
from digest.domain import Paper


def papers_without_embedding(session: Session, model: str, limit: int = 500) -> list[Paper]:
    """Papers with no stored vector for ``model`` (new ones, or embedded by another model)."""
    query = (
        select(PaperRow)
        .where(or_(PaperRow.embedding_model.is_(None), PaperRow.embedding_model != model))
        .order_by(PaperRow.first_seen_at.desc(), PaperRow.id)
        .limit(limit)
    )
    return [paper_from_row(r) for r in session.scalars(query)]


def store_embeddings(session: Session, vectors: dict[str, bytes], model: str) -> int:
    for paper_id, blob in vectors.items():
        session.execute(
            update(PaperRow)
            .where(PaperRow.id == paper_id)
            .values(embedding=blob, embedding_model=model)
            .execution_options(synchronize_session=False)
        )
    return len(vectors)


def embeddings_for(session: Session, ids: Iterable[str], model: str) -> dict[str, bytes]:
    """Stored vectors of ``model`` for these papers (papers without one are left out)."""
    found: dict[str, bytes] = {}
    for chunk in chunks(list(dict.fromkeys(ids))):
        query = select(PaperRow.id, PaperRow.embedding).where(
            PaperRow.id.in_(chunk),
            PaperRow.embedding_model == model,
            PaperRow.embedding.is_not(None),
        )
        for paper_id, blob in session.execute(query):
            if blob is not None:  # the query leaves them out; the column is nullable
                found[paper_id] = blob
    return found


def text_embeddings_for(session: Session, keys: Iterable[str], model: str) -> dict[str, bytes]:
    """Stored vectors of ``model`` for these text keys (unknown keys are left out)."""
    found: dict[str, bytes] = {}
    for chunk in chunks(list(dict.fromkeys(keys))):
        query = select(TextEmbeddingRow.text_key, TextEmbeddingRow.vector).where(
            TextEmbeddingRow.model == model, TextEmbeddingRow.text_key.in_(chunk)
        )
        found.update((key, blob) for key, blob in session.execute(query))
    return found


def prune_text_embeddings(session: Session, keep: set[str], model: str, before: datetime) -> int:
    """Delete the text vectors stored before ``before`` that are not of ``model`` or whose
    key is not in ``keep``; returns how many. Rows stored since are left alone: a topic
    added meanwhile may already have its vector."""
    stale: dict[str, list[str]] = {}
    query = select(TextEmbeddingRow.model, TextEmbeddingRow.text_key).where(
        TextEmbeddingRow.created_at < before
    )
    for row_model, key in session.execute(query):
        if row_model != model or key not in keep:
            stale.setdefault(row_model, []).append(key)
    for row_model, keys in stale.items():
        for chunk in chunks(keys):
            session.execute(
                delete(TextEmbeddingRow).where(
                    TextEmbeddingRow.model == row_model, TextEmbeddingRow.text_key.in_(chunk)
                )
            )
    return sum(len(keys) for keys in stale.values())


def store_text_embeddings(
    session: Session, vectors: dict[str, bytes], model: str, now: datetime
) -> None:
    """Insert these vectors; a key another worker stored meanwhile is left as it is."""
    rows = [
        {"model": model, "text_key": key, "vector": blob, "created_at": now}
        for key, blob in vectors.items()
    ]
    for chunk in chunks(rows):
        session.execute(insert(session, TextEmbeddingRow).values(chunk).on_conflict_do_nothing())
