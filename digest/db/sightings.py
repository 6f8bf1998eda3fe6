"""What one source said last about given papers (the digests ``paper_sightings`` keeps)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.db.models import PaperSightingRow

CHUNK = 1_000


def stored_hashes(session: Session, source: str, paper_ids: Sequence[str]) -> dict[str, str]:
    """paper id -> the content digest ``source`` stored for it, for those it has seen."""
    found: dict[str, str] = {}
    ids = sorted(set(paper_ids))
    for start in range(0, len(ids), CHUNK):
        query = select(PaperSightingRow.paper_id, PaperSightingRow.content_hash).where(
            PaperSightingRow.source == source,
            PaperSightingRow.paper_id.in_(ids[start : start + CHUNK]),
        )
        found.update((paper_id, digest) for paper_id, digest in session.execute(query))
    return found
