"""`digest run` builds the edition's candidate pool in a thread while the plan inserts its
rows, then ranks in chunks that start small and double: the first batches go out after the
pool and one small chunk, not after planning, then indexing, then 800 readers."""

from __future__ import annotations

import threading
from datetime import timedelta
from itertools import pairwise

import pytest

import digest.rank
from digest.db import Database, editions, subscribers
from digest.db.papers import upsert_papers
from digest.deliver.transports import MemoryTransport
from digest.demo import sample_papers_path
from digest.ingest.parse_jsonl import parse_jsonl
from digest.pipeline import edition, service
from digest.pipeline.pool_ahead import PoolAhead
from digest.pipeline.runtime import Runtime, utcnow
from digest.pipeline.service import EditionPool, chunk_sizes, plan_edition
from digest.settings import Settings
from digest.subscriber_spec import validate_spec

READERS = {
    "speech@example.org": {"topics": ["speech recognition"]},
    "llm@example.org": {"topics": ["reasoning in large language models"]},
    "cold@example.org": {},
}


def test_chunks_start_small_and_double_up_to_the_most() -> None:
    spans = chunk_sizes(20_000, first=400, most=5000)
    assert [end - start for start, end in spans] == [400, 800, 1600, 3200, 5000, 5000, 4000]
    assert spans[0][0] == 0 and spans[-1][1] == 20_000
    assert all(a[1] == b[0] for a, b in pairwise(spans))  # no gap
    assert chunk_sizes(0, first=400, most=5000) == []
    assert chunk_sizes(300, first=400, most=5000) == [(0, 300)]
    assert chunk_sizes(10, first=4, most=3) == [(0, 3), (3, 6), (6, 9), (9, 10)]


def runtime(db: Database, tmp_path, clock) -> Runtime:  # type: ignore[no-untyped-def]
    settings = Settings.from_env({"DIGEST_VAR_DIR": str(tmp_path), "DIGEST_SECRET_KEY": "x" * 24})
    memory = MemoryTransport()
    return Runtime.from_settings(settings, db=db, transport_factory=lambda: memory, clock=clock)


def with_readers(db: Database, active: bool = True) -> None:
    lines = sample_papers_path().read_text().splitlines()
    now = utcnow()
    with db.session() as session:
        upsert_papers(session, parse_jsonl(lines[:30], source="t").records, now)
        for email, interests in READERS.items():
            sub = subscribers.add_subscriber(
                session, validate_spec({"email": email, **interests}), now
            )
            if not active:
                sub.status = "unsubscribed"


def test_the_pool_is_built_in_a_thread_started_before_the_rows_are_inserted(
    db: Database, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_readers(db)
    sending = utcnow() + timedelta(minutes=5)
    rt = runtime(db, tmp_path, lambda: sending)
    events: list[str] = []
    build_pool = digest.rank.build_pool

    def building(*args, **kwargs):  # type: ignore[no-untyped-def]
        events.append(f"pool built in {threading.current_thread().name}")
        return build_pool(*args, **kwargs)

    started = threading.Event()
    pool_start = PoolAhead.start

    def start(self: PoolAhead) -> None:
        events.append("pool started")
        pool_start(self)
        started.set()

    def inserting(insert):  # type: ignore[no-untyped-def]
        def insert_rows(*args, **kwargs):  # type: ignore[no-untyped-def]
            assert started.is_set()
            events.append("rows inserted")
            return insert(*args, **kwargs)

        return insert_rows

    monkeypatch.setattr(digest.rank, "build_pool", building)
    monkeypatch.setattr(PoolAhead, "start", start)
    # SQLite inserts the readers' pairs, PostgreSQL their schedules' readers
    monkeypatch.setattr(service, "ensure_deliveries", inserting(service.ensure_deliveries))
    monkeypatch.setattr(service, "plan_schedules", inserting(service.plan_schedules))
    report = edition.run_edition(rt)
    assert report.result.counts["sent"] >= 1 and report.ok
    assert events[:2] == ["pool started", "rows inserted"]
    assert events.count("pool built in digest-pool") == 1 and len(events) == 3
    with db.session() as session:  # every row ranked: picks stored (empty for no match)
        rows = editions.load_deliveries(session, report.plan.row_ids)
        assert len(rows) == len(READERS) and all(r.picks is not None for r in rows)

    events.clear()  # a rerun: nothing to rank (the plan says so), nobody ranked again
    rank_pool = digest.rank.rank_pool
    monkeypatch.setattr(
        digest.rank, "rank_pool", lambda *a, **k: events.append("ranked") or rank_pool(*a, **k)
    )
    again = edition.run_edition(rt)
    assert again.plan.unranked == [] and again.result.counts["sent"] == 0
    assert "ranked" not in events and again.ok


def test_nobody_due_starts_no_pool(db: Database, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with_readers(db, active=False)
    rt = runtime(db, tmp_path, utcnow)
    monkeypatch.setattr(PoolAhead, "start", lambda self: pytest.fail("a pool was started"))
    report = edition.run_edition(rt)
    assert report.plan.delivery_ids == [] and report.ok


def test_the_plan_names_the_rows_to_rank(db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with_readers(db)
    rt = runtime(db, tmp_path, utcnow)
    plan = plan_edition(rt)
    with db.session() as session:
        assert plan.unranked == editions.unranked_rows(session, plan.delivery_ids)
    assert len(plan.unranked) == len(READERS)
    assert service.store_edition_picks(rt, plan.delivery_ids) == len(READERS)
    assert plan_edition(rt).unranked == []  # picks stored: nothing left to rank


POOL = EditionPool([], None)


def test_pool_ahead_gives_the_result_of_its_thread() -> None:
    threads: list[str] = []

    def build(wanted):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return POOL if wanted() else None

    with PoolAhead(build) as ahead:
        ahead.start()
        ahead.start()  # once only
        assert ahead.result() is POOL
    assert threads == ["digest-pool"]

    with PoolAhead(build) as never_started:  # built at once, in the caller's thread
        assert never_started.result() is POOL
    assert threads[-1] == threading.current_thread().name


def test_pool_ahead_cancelled_before_indexing_stops_and_errors_reach_the_caller() -> None:
    asked = threading.Event()
    go_on = threading.Event()

    def build(wanted):  # type: ignore[no-untyped-def]
        asked.set()
        go_on.wait(5)
        return POOL if wanted() else None

    with PoolAhead(build) as ahead:
        ahead.start()
        asked.wait(5)
        ahead.cancel()
        go_on.set()
        assert ahead.result() is None  # the caller then builds it itself

    def broken(wanted):  # type: ignore[no-untyped-def]
        raise ValueError("no papers table")

    with PoolAhead(broken) as failing:
        failing.start()
        with pytest.raises(ValueError, match="no papers table"):
            failing.result()
