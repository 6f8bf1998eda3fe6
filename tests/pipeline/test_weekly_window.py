"""How far back a reader's candidates go: the pool covers at least a week (a weekly
reader's), each reader's window is cut from it: ``DIGEST_CANDIDATE_DAYS`` for a daily
reader, at least 7 days for a weekly one, and never before their last digest."""

from __future__ import annotations

from datetime import timedelta

from digest.db import Database, subscribers
from digest.db.papers import upsert_papers
from digest.deliver.transports import MemoryTransport
from digest.demo import sample_papers_path
from digest.ingest.parse_jsonl import parse_jsonl
from digest.pipeline.edition import run_edition
from digest.pipeline.runtime import Runtime, utcnow
from digest.pipeline.service import candidate_papers, ranking_inputs, reader_days
from digest.settings import Settings
from digest.subscriber_spec import validate_spec

AGES = (0.5, 3, 6, 8)  # days since each group of papers was first seen


def test_reader_days() -> None:
    assert (reader_days(2, "daily"), reader_days(2, "weekly")) == (2, 7)
    assert (reader_days(7, "daily"), reader_days(7, "weekly")) == (7, 7)
    assert (reader_days(10, "daily"), reader_days(10, "weekly")) == (10, 10)


def test_a_weekly_reader_gets_the_week_a_daily_reader_their_days(db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    lines = sample_papers_path().read_text().splitlines()
    groups: dict[float, set[str]] = {}
    with db.session() as session:
        for n, age in enumerate(AGES):
            records = parse_jsonl(lines[n * 10 : n * 10 + 10], source="t").records
            upsert_papers(session, records, now - timedelta(days=age))
            groups[age] = {r.id for r in records}
        for email, frequency in (("day@example.org", "daily"), ("week@example.org", "weekly")):
            spec = validate_spec({"email": email, "frequency": frequency, "topics": ["model"]})
            subscribers.add_subscriber(session, spec, now - timedelta(days=30))
    settings = Settings.from_env(
        {
            "DIGEST_VAR_DIR": str(tmp_path),
            "DIGEST_SECRET_KEY": "x" * 24,
            "DIGEST_CANDIDATE_DAYS": "2",
        }
    )
    memory = MemoryTransport()
    rt = Runtime.from_settings(settings, db=db, transport_factory=lambda: memory, clock=lambda: now)

    with db.session() as session:
        pool = {paper.id for paper, _ in candidate_papers(rt, session, now)}
        assert pool == groups[0.5] | groups[3] | groups[6]  # a week, not DIGEST_CANDIDATE_DAYS
        readers = [
            subscribers.find_subscriber(session, e) for e in ("day@example.org", "week@example.org")
        ]
        inputs = ranking_inputs(rt, session, readers, now)  # type: ignore[arg-type]
        daily, weekly = (inputs.excluded[p.id] for p in inputs.profiles)
        assert pool - set(daily) == groups[0.5]  # the daily reader's two days
        assert pool - set(weekly) == pool  # the weekly reader's whole week

    # A week after their digest, the weekly reader's candidates are what came since.
    report = run_edition(rt, emails=["week@example.org"])
    assert report.ok and report.result.counts["sent"] == 1
    later = now + timedelta(days=7)
    with db.session() as session:
        records = parse_jsonl(lines[40:50], source="t").records
        upsert_papers(session, records, later - timedelta(days=1))
        fresh = {r.id for r in records}
        reader = subscribers.find_subscriber(session, "week@example.org")
        inputs = ranking_inputs(rt, session, [reader], later)  # type: ignore[list-item]
        window = {p.id for p, _ in candidate_papers(rt, session, later)}
        assert window - set(inputs.excluded[inputs.profiles[0].id]) == fresh
