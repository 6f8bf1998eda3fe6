"""The planner ranks the whole edition once (one pool) and stores the picks before fan-out:
the same picks as ranking each reader's batch, whatever the chunking, on day one and on a
later day when most of the pool arrived before the readers' last digest."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from digest.db import Database, editions, subscribers
from digest.db.models import DeliveryRow
from digest.db.papers import upsert_papers
from digest.deliver.transports import MemoryTransport
from digest.demo import sample_papers_path
from digest.ingest.parse_jsonl import parse_jsonl
from digest.pipeline.edition import run_edition
from digest.pipeline.runtime import Runtime, utcnow
from digest.pipeline.service import compute_picks, plan_edition, store_edition_picks
from digest.settings import Settings
from digest.subscriber_spec import validate_spec

READERS = {
    "speech@example.org": {"topics": ["speech recognition"]},
    "vision@example.org": {"topics": ["video generation"], "exclude": ["motion"]},
    "llm@example.org": {"topics": ["reasoning in large language models"]},
    "med@example.org": {"topics": ["medical image segmentation"], "require": ["segmentation"]},
    "cold@example.org": {},
}


def runtime(db: Database, tmp_path, clock) -> Runtime:  # type: ignore[no-untyped-def]
    settings = Settings.from_env(
        {"DIGEST_VAR_DIR": str(tmp_path), "DIGEST_SECRET_KEY": "x" * 24, "DIGEST_TOP_K": "5"}
    )
    memory = MemoryTransport()
    return Runtime.from_settings(settings, db=db, transport_factory=lambda: memory, clock=clock)


def stored(db: Database, ids: list[int]) -> dict[int, list[object]]:
    with db.session() as session:
        rows = session.scalars(select(DeliveryRow).where(DeliveryRow.id.in_(ids)))
        return {r.subscriber_id: r.picks for r in rows}


def expected(rt: Runtime, ids: list[int]) -> dict[int, list[object]]:
    """The picks of ranking these rows' readers as one batch would (compute_picks)."""
    with rt.db.session() as session:
        rows = editions.load_deliveries(session, ids)
        subs = subscribers.subscribers_by_ids(session, [r.subscriber_id for r in rows])
        readers = [subs[r.subscriber_id] for r in rows]
        picks = compute_picks(rt, session, readers, rt.clock())
        found = {s.id: [p.to_json() for p in c] for s, c in zip(readers, picks, strict=True)}
        session.rollback()
    return found


def test_edition_picks_equal_batch_picks_on_day_one_and_later(db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = sample_papers_path().read_text().splitlines()
    now = utcnow()
    with db.session() as session:
        upsert_papers(session, parse_jsonl(lines[:30], source="t").records, now)
        for email, interests in READERS.items():
            subscribers.add_subscriber(session, validate_spec({"email": email, **interests}), now)

    sending = now + timedelta(minutes=5)
    rt = runtime(db, tmp_path, lambda: sending)
    plan = plan_edition(rt)
    want = expected(rt, plan.delivery_ids)
    assert store_edition_picks(rt, plan.delivery_ids, chunk=2) == len(READERS)
    assert stored(db, plan.delivery_ids) == want
    assert any(want.values())
    assert store_edition_picks(rt, plan.delivery_ids) == 0  # stored once, never redone
    run_edition(rt)

    later = now + timedelta(days=1)
    with db.session() as session:
        upsert_papers(session, parse_jsonl(lines[30:], source="t").records, later)
    rt2 = replace(rt, clock=lambda: later)
    plan2 = plan_edition(rt2)
    want2 = expected(rt2, plan2.delivery_ids)
    store_edition_picks(rt2, plan2.delivery_ids, chunk=3)
    got2 = stored(db, plan2.delivery_ids)
    assert got2 == want2 and any(got2.values())
    first_day = {json_line["id"] for json_line in map(json.loads, lines[:30])}
    for picks in got2.values():  # only papers that arrived after their last digest
        assert not {p["id"] for p in picks} & first_day  # type: ignore[index]
