"""Embeddings at rest: the steps that fill, read and prune the stored vectors.

A paper is embedded once, when it arrives (:func:`embed_after_ingest`); ranking then reads
the stored vector instead of running the model again. Readers' topic texts are embedded
the first time an edition ranks them and stored (:func:`text_vectors`);
:func:`prune_text_vectors` deletes those no reader needs any more. The statements are in
:mod:`digest.db.vectors`, the model in :mod:`digest.rank.semantic`, the byte encoding in
:mod:`digest.rank.vectors`.

Without the semantic extra :func:`embed_new_papers` does nothing and returns 0, so the
ingest path may always call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from digest import rank as ranking  # the ranker itself (scikit-learn) loads on first use
from digest.db import vectors as stored
from digest.db.engine import Database
from digest.db.subscribers import list_subscribers, profile_from_row
from digest.rank import semantic
from digest.rank.options import RankOptions
from digest.rank.vectors import decode, encode, text_key


def embed_new_papers(
    session: Session,
    embedder: semantic.Embedder | None = None,
    *,
    batch: int = 256,
    limit: int | None = None,
) -> int:
    """Embed every paper that has no vector for the current model yet; returns how many.

    Call it after an ingest commits new papers (``digest ingest`` and the scheduler do).
    """
    if embedder is None and not semantic.available():
        return 0
    name = embedder.name if embedder is not None else semantic.MODEL_NAME
    done = 0
    while limit is None or done < limit:
        size = batch if limit is None else min(batch, limit - done)
        papers = stored.papers_without_embedding(session, name, size)
        if not papers:
            break
        if embedder is None:  # load the model only when there is something to embed
            embedder = semantic.default_embedder()
        matrix = semantic.embed_papers(papers, embedder)
        stored.store_embeddings(
            session, {p.id: encode(v) for p, v in zip(papers, matrix, strict=True)}, embedder.name
        )
        session.flush()
        done += len(papers)
    return done


def embed_after_ingest(db: Database, options: RankOptions | None = None) -> int:
    """The ingest hook: embed the papers an ingest just committed, in their own transaction.

    Does nothing (returns 0) when the semantic backend is off (``DIGEST_RANK=semantic=off``)
    or its extra is not installed; a later ingest or ranking picks up what is missing.
    """
    if not semantic.in_use(options.semantic if options is not None else None):
        return 0
    with db.session() as session:
        return embed_new_papers(session)


def text_vectors(
    session: Session,
    texts: Sequence[str],
    embedder: semantic.Embedder,
    now: datetime | None = None,
) -> dict[str, np.ndarray]:
    """Vectors of these texts: stored ones read back, the others embedded and stored.

    The pipeline calls it with the topics of a batch of readers before ranking, so the
    model runs only on topics no earlier edition has seen.
    """
    keys = {text: text_key(text) for text in dict.fromkeys(texts)}
    blobs = stored.text_embeddings_for(session, keys.values(), embedder.name)
    found = {text: decode(blobs[key]) for text, key in keys.items() if key in blobs}
    missing = [text for text in keys if text not in found]
    if missing:
        matrix = embedder.embed(missing)
        fresh = dict(zip(missing, matrix, strict=True))
        stored.store_text_embeddings(
            session,
            {keys[text]: encode(v) for text, v in fresh.items()},
            embedder.name,
            now or datetime.now(UTC),
        )
        found.update(fresh)
    return found


def prune_text_vectors(
    session: Session,
    now: datetime | None = None,
    grace: timedelta = timedelta(days=1),
) -> int:
    """Delete the stored topic vectors no subscriber needs any more (topics that were
    removed, readers who unsubscribed, another model's vectors); returns how many.

    Vectors stored within ``grace`` of ``now`` are kept whatever they are, so a topic added
    while this runs is not embedded twice. ``digest db prune-vectors`` calls it.
    """
    profiles = [
        profile_from_row(row) for row in list_subscribers(session) if row.status != "unsubscribed"
    ]
    keep = {text_key(text) for text in ranking.topic_texts(profiles)}
    before = (now or datetime.now(UTC)) - grace
    return stored.prune_text_embeddings(session, keep, semantic.MODEL_NAME, before)
