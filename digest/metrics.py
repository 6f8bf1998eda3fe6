"""Prometheus metrics of ``/metrics`` on the web app, read from the database at scrape time.

The web processes count nothing themselves (several of them, restarted at will, would each
know only a part): a scrape reads a :class:`Snapshot` with a few aggregate statements
(``digest.db.stats``), kept for ``CACHE_SECONDS`` so a storm of scrapes costs one read, and
:func:`families` turns it into metric families (pure). :class:`DigestCollector` is the
thin adapter prometheus_client calls; it lives in a registry of its own.

    digest_subscribers{status}                    readers per status
    digest_editions                               editions in the database
    digest_deliveries{state}                      ledger rows per state, every edition
    digest_edition_deliveries{edition,state}      the same for the newest editions
    digest_edition_created_timestamp_seconds{edition}
    digest_send_latency_seconds{edition}          histogram: planning to relay acceptance,
                                                  the newest edition's sent rows
    digest_source_last_run_papers{source,outcome} a source's last run: new, updated, ...
    digest_source_last_success_timestamp_seconds{source}
    digest_source_last_failure_timestamp_seconds{source}
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from digest.db import stats as db_stats
from digest.db.engine import Database
from digest.db.models import DELIVERY_STATUSES
from digest.db.stats import EditionStats, LatencyCounts, SourceHealth

CACHE_SECONDS = 5.0
RECENT_EDITIONS = 3
LATENCY_BOUNDS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
                  21600.0, 86400.0)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one scrape reports: plain data from ``digest.db.stats``."""

    subscribers: dict[str, int]
    editions: int
    deliveries: dict[str, int]
    recent: list[EditionStats]  # newest first
    latency: tuple[str, LatencyCounts] | None  # (edition key, counts) of the newest edition
    sources: list[SourceHealth]
    ingest: dict[str, dict[str, int]]  # source -> its last run's counts


def read_snapshot(db: Database) -> Snapshot:
    with db.session() as session:
        recent = db_stats.recent_editions(session, RECENT_EDITIONS)
        latency = None
        if recent:
            newest = recent[0]
            latency = (newest.key, db_stats.send_latency(session, newest.id, LATENCY_BOUNDS))
        return Snapshot(
            subscribers=db_stats.subscribers_by_status(session),
            editions=db_stats.edition_count(session),
            deliveries=db_stats.deliveries_by_state(session),
            recent=recent,
            latency=latency,
            sources=db_stats.source_health(session),
            ingest=db_stats.ingest_counts(session),
        )


def _states(counts: dict[str, int]) -> dict[str, int]:
    """Every ledger state (zero when absent), then any other state found."""
    ordered = {state: int(counts.get(state, 0)) for state in DELIVERY_STATUSES}
    return ordered | {k: int(v) for k, v in counts.items() if k not in ordered and k != "total"}


def _timestamp(value: datetime) -> float:
    return value.timestamp()


def families(snap: Snapshot) -> list[Metric]:
    """The metric families of a snapshot (pure)."""
    subscribers = GaugeMetricFamily(
        "digest_subscribers", "Subscribers per status.", labels=["status"]
    )
    for status, count in sorted(snap.subscribers.items()):
        subscribers.add_metric([status], count)

    editions = GaugeMetricFamily(
        "digest_editions", "Editions in the database.", value=snap.editions
    )

    deliveries = GaugeMetricFamily(
        "digest_deliveries", "Delivery ledger rows per state, every edition.", labels=["state"]
    )
    for state, count in _states(snap.deliveries).items():
        deliveries.add_metric([state], count)

    per_edition = GaugeMetricFamily(
        "digest_edition_deliveries",
        f"Delivery ledger rows per state of the {RECENT_EDITIONS} newest editions.",
        labels=["edition", "state"],
    )
    created = GaugeMetricFamily(
        "digest_edition_created_timestamp_seconds",
        "When each of the newest editions was first planned (Unix time).",
        labels=["edition"],
    )
    for edition in snap.recent:
        for state, count in _states(edition.counts).items():
            per_edition.add_metric([edition.key, state], count)
        created.add_metric([edition.key], _timestamp(edition.created_at))

    latency = HistogramMetricFamily(
        "digest_send_latency_seconds",
        "Seconds from planning a reader's row to the relay accepting the message, "
        "over the newest edition's sent rows.",
        labels=["edition"],
    )
    if snap.latency is not None:
        key, counts = snap.latency
        pairs = zip(counts.bounds, counts.at_most, strict=True)
        buckets = [(str(float(bound)), n) for bound, n in pairs]
        latency.add_metric(
            [key], [*buckets, ("+Inf", counts.count)], sum_value=counts.total_seconds
        )

    papers = GaugeMetricFamily(
        "digest_source_last_run_papers",
        "Papers of each source's last run, by outcome (new, updated, unchanged, rejected).",
        labels=["source", "outcome"],
    )
    for name, by_outcome in sorted(snap.ingest.items()):
        for outcome, count in sorted(by_outcome.items()):
            papers.add_metric([name, outcome], count)
    success = GaugeMetricFamily(
        "digest_source_last_success_timestamp_seconds",
        "When each source last ran without failing (Unix time); absent: never.",
        labels=["source"],
    )
    failure = GaugeMetricFamily(
        "digest_source_last_failure_timestamp_seconds",
        "When each source last failed (Unix time); absent: never.",
        labels=["source"],
    )
    for source in snap.sources:
        if source.last_success_at is not None:
            success.add_metric([source.name], _timestamp(source.last_success_at))
        if source.last_failure_at is not None:
            failure.add_metric([source.name], _timestamp(source.last_failure_at))
    return [
        subscribers, editions, deliveries, per_edition, created, latency, papers, success,
        failure,
    ]  # fmt: skip


class SnapshotCache:
    """The last snapshot for ``seconds``; concurrent scrapes wait for one read and share it."""

    def __init__(
        self,
        read: Callable[[], Snapshot],
        seconds: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.read = read
        self.seconds = seconds
        self.monotonic = monotonic
        self.lock = threading.Lock()
        self.value: Snapshot | None = None
        self.read_at = 0.0

    def get(self) -> Snapshot:
        with self.lock:
            if self.value is None or self.monotonic() - self.read_at >= self.seconds:
                self.value = self.read()
                self.read_at = self.monotonic()
            return self.value


class DigestCollector(Collector):
    """prometheus_client's custom collector: the snapshot's families at each collect."""

    def __init__(self, cache: SnapshotCache):
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        yield from families(self.cache.get())


def bearer_ok(authorization: str | None, token: str) -> bool:
    """An ``Authorization: Bearer TOKEN`` header naming ``token`` (compared in constant
    time); any request when no token is configured."""
    if not token:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())
