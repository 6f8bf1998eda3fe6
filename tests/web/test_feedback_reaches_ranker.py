"""A 👍 given on the site changes that reader's next digest: the paper's neighbours rank
higher than for an identical reader who gave no feedback."""

from __future__ import annotations

import json

from sqlalchemy import select

from digest.db.models import DeliveryRow, EditionRow, SubscriberRow
from digest.db.papers import upsert_papers
from digest.demo import sample_papers_path
from digest.ingest.parse_jsonl import parse_jsonl
from tests.web.conftest import Harness, feedback_of, links_in

TOPICS = ["speech and audio models"]


def load(h: Harness, lines: list[str]) -> None:
    parsed = parse_jsonl(lines, source="sample")
    with h.rt.db.session() as session:
        upsert_papers(session, parsed.records, h.clock())


def picks_of(h: Harness, email: str, edition_key: str) -> list[dict[str, object]]:
    with h.rt.db.session() as session:
        row = session.execute(
            select(DeliveryRow.picks)
            .join(EditionRow, EditionRow.id == DeliveryRow.edition_id)
            .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
            .where(SubscriberRow.email == email, EditionRow.key == edition_key)
        ).scalar_one()
    return list(row or [])


def test_a_thumbs_up_on_the_site_lifts_the_papers_neighbours_in_the_next_digest(
    harness: Harness,
) -> None:
    h = harness
    lines = sample_papers_path().read_text().splitlines()
    load(h, lines[0::2])  # day 1: half of the sample
    for email in ("voter@example.org", "control@example.org"):
        h.add(email, topics=TOPICS, timezone="UTC")
    h.send_edition()
    first = picks_of(h, "voter@example.org", "daily:2026-12-01")
    assert first and first == picks_of(h, "control@example.org", "daily:2026-12-01")

    # the voter presses 👍 on the first paper of their digest (GET shows, POST records)
    liked_id = str(first[0]["id"])
    link = h.reader("voter@example.org").link_id  # type: ignore[union-attr]
    ups = [p for p in links_in(h.last_mail("voter@example.org"), "/f/") if p.endswith("/up")]
    up = next(p for p in ups if feedback_of(h, p) == (link, liked_id))
    assert h.client.post(up).status_code == 200

    h.clock.advance(days=1)
    load(h, lines[1::2])  # day 2: the other half is new
    h.send_edition()
    voter = [str(p["id"]) for p in picks_of(h, "voter@example.org", "daily:2026-12-02")]
    control = [str(p["id"]) for p in picks_of(h, "control@example.org", "daily:2026-12-02")]
    reasons = {
        str(p["id"]): str(p["why"]) for p in picks_of(h, "voter@example.org", "daily:2026-12-02")
    }
    title = json.loads(lines[[json.loads(x)["id"] for x in lines].index(liked_id)])["title"]

    lifted = [pid for pid, why in reasons.items() if "which you rated 👍" in why]
    assert lifted, reasons  # the digest says why: close to the paper they rated
    assert all(title[:20] in reasons[pid] for pid in lifted)
    promoted = 0
    for pid in lifted:
        # Never demoted: no paper of the control's digest that was below it overtakes it
        # (papers the control does not get at all may now sit above: they were lifted too).
        above_mine = set(voter[: voter.index(pid)]) & set(control)
        above_theirs = set(control[: control.index(pid)]) if pid in control else set(control)
        assert above_mine <= above_theirs, (pid, voter, control)
        # Promoted: in the voter's digest only (the digest mails only real matches), or
        # above a paper that was above it in the control's.
        promoted += pid not in control or above_mine < above_theirs
    assert promoted, (lifted, voter, control)
    assert voter != control
