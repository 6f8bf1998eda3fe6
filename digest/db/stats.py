"""The statements behind `digest stats` and `digest editions`: counts, never row by row.

Each function returns plain data (dicts, tuples, dataclasses of ``digest.ops``); the
grouping and the rates are computed by the pure ``digest.ops``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from digest.db.models import (
    BounceEventRow,
    DeliveryRow,
    EditionRow,
    FeedbackEventRow,
    PaperRow,
    SourceRow,
    SubscriberRow,
)
from digest.errors import NotFoundError
from digest.ops import FailureGroup, Window, group_failures, state_counts

FAILED_STATES = ("failed", "retry", "bounced", "unknown")


def subscribers_by_status(session: Session) -> dict[str, int]:
    query = select(SubscriberRow.status, func.count()).group_by(SubscriberRow.status)
    return {status: int(count) for status, count in session.execute(query)}


@dataclass(frozen=True, slots=True)
class EditionStats:
    id: int
    key: str
    created_at: datetime
    counts: dict[str, int]  # every ledger state, plus total
    next_retry_at: datetime | None
    paused_reason: str | None
    failures: list[FailureGroup]

    def to_json(self, *, with_failures: bool = True) -> dict[str, object]:
        data: dict[str, object] = {
            "id": self.id,
            "key": self.key,
            "created_at": self.created_at.isoformat(),
            "counts": self.counts,
            "next_retry_at": self.next_retry_at.isoformat() if self.next_retry_at else None,
            "paused_reason": self.paused_reason,
        }
        if with_failures:
            data["failures"] = [group.to_json() for group in self.failures]
        return data


def _counts(
    session: Session, edition_ids: list[int]
) -> tuple[dict[int, dict[str, int]], dict[int, datetime]]:
    counts: dict[int, dict[str, int]] = {i: {} for i in edition_ids}
    retries: dict[int, datetime] = {}
    if not edition_ids:
        return counts, retries
    query = (
        select(
            DeliveryRow.edition_id,
            DeliveryRow.status,
            func.count(),
            func.min(DeliveryRow.next_attempt_at),
        )
        .where(DeliveryRow.edition_id.in_(edition_ids))
        .group_by(DeliveryRow.edition_id, DeliveryRow.status)
    )
    for edition_id, status, count, earliest in session.execute(query):
        counts[edition_id][status] = int(count)
        if status == "retry" and earliest is not None:
            retries[edition_id] = earliest
    return counts, retries


def _stats(
    session: Session, editions: list[EditionRow], *, with_failures: bool
) -> list[EditionStats]:
    ids = [e.id for e in editions]
    counts, retries = _counts(session, ids)
    failures: dict[int, list[FailureGroup]] = {}
    if with_failures:
        for edition_id in ids:
            query = select(DeliveryRow.status, DeliveryRow.last_error).where(
                DeliveryRow.edition_id == edition_id, DeliveryRow.status.in_(FAILED_STATES)
            )
            failures[edition_id] = group_failures(
                (status, error) for status, error in session.execute(query)
            )
    return [
        EditionStats(
            id=e.id,
            key=e.key,
            created_at=e.created_at,
            counts=state_counts(counts[e.id]),
            next_retry_at=retries.get(e.id),
            paused_reason=e.paused_reason,
            failures=failures.get(e.id, []),
        )
        for e in editions
    ]


def recent_editions(
    session: Session, limit: int = 10, *, with_failures: bool = False
) -> list[EditionStats]:
    """The newest editions first (by creation), with their counts per ledger state."""
    query = select(EditionRow).order_by(EditionRow.created_at.desc(), EditionRow.id.desc())
    editions = list(session.scalars(query.limit(limit)))
    return _stats(session, editions, with_failures=with_failures)


def edition_stats(session: Session, name: str) -> EditionStats:
    """One edition by key (``daily:2026-12-05``) or id, with its failures grouped."""
    condition = EditionRow.key == name
    if name.isdigit():
        condition = condition | (EditionRow.id == int(name))
    edition = session.scalars(select(EditionRow).where(condition)).first()
    if edition is None:
        raise NotFoundError(f"no edition {name!r} (see `digest editions list`)")
    [stats] = _stats(session, [edition], with_failures=True)
    return stats


def window(session: Session, now: datetime, days: int) -> Window:
    """Messages sent in the last ``days`` days and the bounces, complaints and
    unsubscribes that came in over the same days."""
    since = now - timedelta(days=days)
    sent = session.scalar(
        select(func.count()).where(DeliveryRow.status == "sent", DeliveryRow.sent_at >= since)
    )
    query = (
        select(BounceEventRow.kind, func.count())
        .where(BounceEventRow.received_at >= since)
        .group_by(BounceEventRow.kind)
    )
    kinds = {kind: int(count) for kind, count in session.execute(query)}
    unsubscribes = session.scalar(
        select(func.count()).where(
            SubscriberRow.unsubscribed_at.is_not(None), SubscriberRow.unsubscribed_at >= since
        )
    )
    return Window(
        days=days,
        sent=int(sent or 0),
        bounces=int(kinds.get("hard", 0)) + int(kinds.get("soft", 0)),
        complaints=int(kinds.get("complaint", 0)),
        unsubscribes=int(unsubscribes or 0),
    )


def feedback_counts(session: Session, since: datetime) -> dict[str, int]:
    query = (
        select(FeedbackEventRow.kind, func.count())
        .where(FeedbackEventRow.created_at >= since)
        .group_by(FeedbackEventRow.kind)
    )
    found = {kind: int(count) for kind, count in session.execute(query)}
    return {kind: found.get(kind, 0) for kind in ("up", "down", "click")} | found


def most_clicked(session: Session, since: datetime, limit: int = 5) -> list[dict[str, object]]:
    """The papers clicked most since ``since``: id, title, clicks, readers who clicked."""
    clicks = func.count().label("clicks")
    query = (
        select(
            FeedbackEventRow.paper_id,
            PaperRow.title,
            clicks,
            func.count(func.distinct(FeedbackEventRow.subscriber_id)),
        )
        .outerjoin(PaperRow, PaperRow.id == FeedbackEventRow.paper_id)
        .where(FeedbackEventRow.kind == "click", FeedbackEventRow.created_at >= since)
        .group_by(FeedbackEventRow.paper_id, PaperRow.title)
        .order_by(clicks.desc(), FeedbackEventRow.paper_id)
        .limit(limit)
    )
    return [
        {"paper": paper, "title": title, "clicks": int(n), "readers": int(readers)}
        for paper, title, n, readers in session.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class SourceHealth:
    name: str
    kind: str
    enabled: bool
    last_run_at: datetime | None
    last_status: str | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_failure: str | None

    def to_json(self) -> dict[str, object]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "name": self.name,
            "kind": self.kind,
            "enabled": self.enabled,
            "last_run_at": iso(self.last_run_at),
            "last_status": self.last_status,
            "last_success_at": iso(self.last_success_at),
            "last_failure_at": iso(self.last_failure_at),
            "last_failure": self.last_failure,
        }


def source_health(session: Session) -> list[SourceHealth]:
    rows = session.scalars(select(SourceRow).order_by(SourceRow.name))
    return [
        SourceHealth(
            name=r.name,
            kind=r.kind,
            enabled=r.enabled,
            last_run_at=r.last_run_at,
            last_status=r.last_status,
            last_success_at=r.last_success_at,
            last_failure_at=r.last_failure_at,
            last_failure=r.last_failure,
        )
        for r in rows
    ]


# -- for /metrics (digest.metrics): a few aggregate statements per scrape ----------------
def edition_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(EditionRow)) or 0)


def deliveries_by_state(session: Session) -> dict[str, int]:
    """Rows of the whole ledger per state: one GROUP BY."""
    query = select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
    return {status: int(count) for status, count in session.execute(query)}


@dataclass(frozen=True, slots=True)
class LatencyCounts:
    """Seconds from a row's planning (``created_at``) to the relay's acceptance
    (``sent_at``) over an edition's sent rows: how many took at most each bound
    (cumulative, as Prometheus buckets are), how many in all, and their sum."""

    bounds: tuple[float, ...]
    at_most: tuple[int, ...]
    count: int
    total_seconds: float


def send_latency(session: Session, edition_id: int, bounds: tuple[float, ...]) -> LatencyCounts:
    """One aggregate statement (a SUM per bound), not a row per message."""
    seconds: ColumnElement[Any]
    if session.get_bind().dialect.name == "postgresql":
        seconds = func.extract("epoch", DeliveryRow.sent_at - DeliveryRow.created_at)
    else:  # SQLite keeps times as text: julianday gives days with a fraction
        seconds = (
            func.julianday(DeliveryRow.sent_at) - func.julianday(DeliveryRow.created_at)
        ) * 86_400.0
    query = select(
        func.count(),
        func.coalesce(func.sum(seconds), 0),
        *(func.coalesce(func.sum(case((seconds <= bound, 1), else_=0)), 0) for bound in bounds),
    ).where(
        DeliveryRow.edition_id == edition_id,
        DeliveryRow.status == "sent",
        DeliveryRow.sent_at.is_not(None),
    )
    count, total, *at_most = session.execute(query).one()
    return LatencyCounts(bounds, tuple(int(n) for n in at_most), int(count), float(total))


def ingest_counts(session: Session) -> dict[str, dict[str, int]]:
    """Each source's counts of its last run (new, updated, unchanged, rejected)."""
    query = select(SourceRow.name, SourceRow.last_counts).order_by(SourceRow.name)
    return {
        name: {str(k): int(v) for k, v in (counts or {}).items() if isinstance(v, int)}
        for name, counts in session.execute(query)
    }
