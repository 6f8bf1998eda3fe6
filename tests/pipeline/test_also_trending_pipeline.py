"""The "Also trending" fill through the whole pipeline on SQLite (plan, rank the edition,
render, send, ledger): a reader with two matching papers, on a day with upvotes, gets those
two and up to ``trending_fill`` trending papers in their own section; a reader with nothing
matching on a day without trending data gets no email and a skipped row that says why."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from sqlalchemy import select

from digest.db.engine import Database
from digest.db.models import DeliveryRow, SubscriberRow
from digest.db.papers import upsert_papers
from digest.db.subscribers import add_subscriber
from digest.deliver.transports import MemoryTransport
from digest.domain import Paper
from digest.pipeline.edition import run_edition
from digest.pipeline.runtime import Runtime, utcnow
from digest.settings import Settings
from digest.subscriber_spec import validate_spec
from tests.mailcheck import body, parse

MATCHING = [
    Paper(
        "2505.00001",
        "Membership inference attacks on language models",
        "We measure membership inference leakage of fine-tuned language models.",
        ("A. Author",),
        ("cs.CR",),
    ),
    Paper(
        "2505.00002",
        "Defending against membership inference with differential privacy",
        "Membership inference attacks are blunted by differentially private training.",
        ("B. Author",),
        ("cs.CR",),
    ),
]
OTHERS = [
    Paper(
        f"2505.001{n:02d}",
        f"{subject} with neural networks",
        f"We study {subject.lower()} on standard benchmarks and report gains.",
        ("C. Author",),
        ("cs.LG",),
    )
    for n, subject in enumerate(
        ["Protein folding", "Weather forecasting", "Speech recognition", "Image segmentation"]
    )
]
UPVOTES = [40, 0, 90, 15]  # weather forecasting has none: it cannot fill


def _run(
    tmp_path, papers: list[Paper], readers: dict[str, dict]
) -> tuple[Database, MemoryTransport]:  # type: ignore[no-untyped-def,type-arg]
    db = Database(f"sqlite:///{tmp_path / 'digest.db'}")
    db.upgrade()
    now = utcnow()
    day = date(2025, 5, 30)
    with db.session() as session:
        upsert_papers(session, [replace(p, announced=day) for p in papers], now)
        for email, interests in readers.items():
            add_subscriber(session, validate_spec({"email": email, **interests}), now)
    settings = Settings.from_env(
        {"DIGEST_VAR_DIR": str(tmp_path), "DIGEST_SECRET_KEY": "x" * 24, "DIGEST_TOP_K": "10"}
    )
    memory = MemoryTransport()
    sending = now + timedelta(minutes=5)
    rt = Runtime.from_settings(
        settings, db=db, transport_factory=lambda: memory, clock=lambda: sending
    )
    run_edition(rt)
    return db, memory


def _rows(db: Database) -> dict[str, tuple[str, str | None, list]]:  # type: ignore[type-arg]
    with db.session() as session:
        rows = session.execute(
            select(
                SubscriberRow.email, DeliveryRow.status, DeliveryRow.last_error, DeliveryRow.picks
            ).join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
        ).all()
    return {email: (status, error, picks or []) for email, status, error, picks in rows}


def test_two_matches_and_a_pool_with_upvotes_give_two_plus_capped_trending(tmp_path) -> None:  # type: ignore[no-untyped-def]
    hot = [replace(p, upvotes=u) for p, u in zip(OTHERS, UPVOTES, strict=True)]
    readers = {
        "mia@example.org": {"topics": ["membership inference"]},
        "qec@example.org": {"topics": ["quantum error correction"]},  # nothing matches
    }
    db, memory = _run(tmp_path, [*MATCHING, *hot], readers)
    rows = _rows(db)
    status, _, picks = rows["mia@example.org"]
    assert status == "sent"
    assert {p["id"] for p in picks[:2]} == {"2505.00001", "2505.00002"}  # theirs first
    assert not any(p.get("trending") for p in picks[:2])
    # then the cap (3) of the most upvoted, most first; the paper without upvotes never
    assert [p["id"] for p in picks[2:]] == ["2505.00102", "2505.00100", "2505.00103"]
    assert all(p["trending"] and not p["shown"] for p in picks[2:])

    sent = {m.recipient: parse(m.data) for m in memory.sent}
    text = body(sent["mia@example.org"], "plain")
    own, also = text.split("ALSO TRENDING TODAY")
    assert "Membership inference attacks on language models" in own
    assert "Speech recognition with neural networks" in also
    assert "Not picked for your interests" in also
    assert "Weather forecasting" not in text
    assert "plus 3 trending today" in " ".join(text.split())
    assert sent["mia@example.org"]["Subject"].endswith(" + 1 more, + 3 trending")
    html = body(sent["mia@example.org"], "html")
    assert "Also trending today" in html and "Not picked for your interests" in html

    # Nothing matched, but there is trending data: an email of only that section.
    status, _, picks = rows["qec@example.org"]
    assert status == "sent" and len(picks) == 3 and all(p["trending"] for p in picks)
    subject = sent["qec@example.org"]["Subject"]
    assert subject.endswith("+ 2 more trending today") and "quantum" not in subject
    assert "No new paper matched your interests today" in " ".join(
        body(sent["qec@example.org"], "plain").split()
    )


def test_nothing_relevant_and_no_trending_data_gives_no_email_and_a_skipped_row(tmp_path) -> None:  # type: ignore[no-untyped-def]
    readers = {
        "mia@example.org": {"topics": ["membership inference"]},
        "qec@example.org": {"topics": ["quantum error correction"]},
    }
    db, memory = _run(tmp_path, [*MATCHING, *OTHERS], readers)  # no upvotes, stars, comments
    rows = _rows(db)
    assert rows["qec@example.org"][:2] == ("skipped", "no new papers match")
    assert [m.recipient for m in memory.sent] == ["mia@example.org"]
    status, _, picks = rows["mia@example.org"]
    assert status == "sent" and len(picks) == 2 and not any(p.get("trending") for p in picks)
