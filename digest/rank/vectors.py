"""Paper embeddings at rest: float32 bytes in ``papers.embedding``, and the ingest step
that fills them. A paper is embedded once, when it arrives; ranking then reads the stored
vector instead of running the model again.

Without the semantic extra :func:`embed_new_papers` does nothing and returns 0, so the
ingest path may always call it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from digest.rank import semantic


def encode(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def decode(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")


def decode_all(blobs: Mapping[str, bytes]) -> dict[str, np.ndarray]:
    return {pid: decode(b) for pid, b in blobs.items()}


def embed_new_papers(
    session,  # type: ignore[no-untyped-def]
    embedder: semantic.Embedder | None = None,
    *,
    batch: int = 256,
    limit: int | None = None,
) -> int:
    """Embed every paper that has no vector for the current model yet; returns how many.

    Call it after an ingest commits new papers (``digest ingest`` and the scheduler do).
    """
    from digest.db import repo

    if embedder is None and not semantic.available():
        return 0
    name = embedder.name if embedder is not None else semantic.MODEL_NAME
    done = 0
    while limit is None or done < limit:
        size = batch if limit is None else min(batch, limit - done)
        papers = repo.papers_without_embedding(session, name, size)
        if not papers:
            break
        if embedder is None:  # load the model only when there is something to embed
            embedder = semantic.default_embedder()
        matrix = semantic.embed_papers(papers, embedder)
        repo.store_embeddings(
            session, {p.id: encode(v) for p, v in zip(papers, matrix, strict=True)}, embedder.name
        )
        session.flush()
        done += len(papers)
    return done


def embed_after_ingest(db, options=None) -> int:  # type: ignore[no-untyped-def]
    """The ingest hook: embed the papers an ingest just committed, in their own transaction.

    Does nothing (returns 0) when the semantic backend is off (``DIGEST_RANK=semantic=off``)
    or its extra is not installed; a later ingest or ranking picks up what is missing.
    """
    if not semantic.in_use(options.semantic if options is not None else None):
        return 0
    with db.session() as session:
        return embed_new_papers(session)


def text_key(text: str) -> str:
    """How a topic text is stored: its SHA-256, so the table holds no reader's words."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def text_vectors(
    session,  # type: ignore[no-untyped-def]
    texts: Sequence[str],
    embedder: semantic.Embedder,
    now: datetime | None = None,
) -> dict[str, np.ndarray]:
    """Vectors of these texts: stored ones read back, the others embedded and stored.

    The pipeline calls it with the topics of a batch of readers before ranking, so the
    model runs only on topics no earlier edition has seen.
    """
    from digest.db import repo

    keys = {text: text_key(text) for text in dict.fromkeys(texts)}
    stored = repo.text_embeddings_for(session, keys.values(), embedder.name)
    found = {text: decode(stored[key]) for text, key in keys.items() if key in stored}
    missing = [text for text in keys if text not in found]
    if missing:
        matrix = embedder.embed(missing)
        fresh = dict(zip(missing, matrix, strict=True))
        repo.store_text_embeddings(
            session,
            {keys[text]: encode(v) for text, v in fresh.items()},
            embedder.name,
            now or datetime.now(UTC),
        )
        found.update(fresh)
    return found


def prune_text_vectors(
    session,  # type: ignore[no-untyped-def]
    now: datetime | None = None,
    grace: timedelta = timedelta(days=1),
) -> int:
    """Delete the stored topic vectors no subscriber needs any more (topics that were
    removed, readers who unsubscribed, another model's vectors); returns how many.

    Vectors stored within ``grace`` of ``now`` are kept whatever they are, so a topic added
    while this runs is not embedded twice. ``digest db prune-vectors`` calls it.
    """
    from digest.db import repo
    from digest.rank.ranker import topic_texts

    profiles = [
        repo.profile_from_row(row)
        for row in repo.list_subscribers(session)
        if row.status != "unsubscribed"
    ]
    keep = {text_key(text) for text in topic_texts(profiles)}
    before = (now or datetime.now(UTC)) - grace
    return repo.prune_text_embeddings(session, keep, semantic.MODEL_NAME, before)


class KnownTexts:
    """An embedder that answers from vectors it was given and runs ``inner`` on the rest."""

    def __init__(self, inner: semantic.Embedder, known: Mapping[str, np.ndarray]):
        self.inner, self.name, self.known = inner, inner.name, known

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return self.inner.embed([])
        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        computed = dict(zip(missing, self.inner.embed(missing), strict=True)) if missing else {}
        return np.vstack(
            [np.asarray(self.known.get(t, computed.get(t)), dtype=np.float32) for t in texts]
        )
