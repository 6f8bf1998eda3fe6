"""Readers' feedback events (👍/👎/clicks per paper): recorded as they come, read back
for ranking (latest vote wins there)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.db.models import (
    FEEDBACK_KINDS,
    FeedbackEventRow,
)
from digest.db.statements import among, id_chunks
from digest.domain import FeedbackEvent
from digest.errors import InputError


def add_feedback(
    session: Session, subscriber_id: int, paper_id: str, kind: str, now: datetime
) -> FeedbackEventRow:
    """Record a 👍/👎/click. Events are kept (not overwritten): the latest vote wins when
    ranking reads them, and the history stays for evaluation."""
    if kind not in FEEDBACK_KINDS:
        raise InputError(f"feedback kind must be one of {', '.join(FEEDBACK_KINDS)}, got {kind!r}")
    row = FeedbackEventRow(
        subscriber_id=subscriber_id, paper_id=paper_id, kind=kind, created_at=now
    )
    session.add(row)
    session.flush()
    return row


def feedback_for(
    session: Session, subscriber_ids: Sequence[int], *, limit: int = 1000
) -> dict[int, list[FeedbackEvent]]:
    """Each subscriber's feedback events, oldest first (at most ``limit`` newest each)."""
    found: dict[int, list[FeedbackEvent]] = {}
    for chunk in id_chunks(session, list(subscriber_ids)):
        query = (
            select(FeedbackEventRow)
            .where(among(session, FeedbackEventRow.subscriber_id, chunk))
            .order_by(FeedbackEventRow.subscriber_id, FeedbackEventRow.created_at)
        )
        for row in session.scalars(query):
            found.setdefault(row.subscriber_id, []).append(
                FeedbackEvent(row.paper_id, row.kind, row.created_at)
            )
    return {k: v[-limit:] for k, v in found.items()}
