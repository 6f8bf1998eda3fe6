"""`digest stats --json`, `digest editions list|show --json` against a ledger built with
known counts through the ledger's own transitions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from digest.db import Database, accounts, bounces, editions, feedback, ledger, subscribers
from digest.db.sources import record_source_run, save_source_config
from digest.schedule import edition_for
from digest.subscriber_spec import validate_spec
from tests.helpers import run_cli

LEASE = timedelta(minutes=10)
BACKOFF = timedelta(minutes=5)


@pytest.fixture
def ledger_env(db: Database, db_url: str, digest_env, monkeypatch) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Seven readers; one edition: 2 sent, 1 failed (550 5.1.1), 2 retry (451 4.7.1),
    1 pending; a hard bounce and a complaint; clicks and votes; a source that worked,
    then failed."""
    monkeypatch.setenv("DIGEST_DATABASE_URL", db_url)
    now = datetime.now(UTC)
    with db.session() as session:
        ids = [
            subscribers.add_subscriber(
                session, validate_spec({"email": f"r{i}@example.org"}), now
            ).id
            for i in range(7)
        ]
        edition = editions.get_or_create_edition(session, edition_for("daily", now, "UTC"), now)
        editions.ensure_deliveries(session, [(i, edition.id) for i in ids[:6]], now)
        rows = editions.deliveries_for(session, [(i, edition.id) for i in ids[:6]])
    with db.ledger_connection() as conn:
        for row in rows[:5]:
            assert ledger.claim(conn, row.id, now, LEASE)
        for row in rows[:2]:
            ledger.mark_sent(conn, row.id, message_id=f"<{row.id}@t>", reply="250 ok", now=now)
        failures = [
            (rows[2], "server replied 550 5.1.1 <r2@example.org>: user unknown", True),
            (rows[3], "server replied 451 4.7.1 greylisted, try again later", False),
            (rows[4], "server replied 451 4.7.1 greylisted", False),
        ]
        for row, error, permanent in failures:
            ledger.mark_failed(
                conn, row.id, attempts=1, error=error, permanent=permanent, now=now,
                max_attempts=5, backoff=BACKOFF,
            )  # fmt: skip
    with db.session() as session:
        hard = bounces.BounceEvent("hard", now, subscriber_id=ids[0], status="5.1.1")
        bounces.record_event(session, hard)
        old_complaint = bounces.BounceEvent(
            "complaint", now - timedelta(days=10), subscriber_id=ids[1]
        )
        bounces.record_event(session, old_complaint)
        reader = subscribers.subscribers_by_ids(session, [ids[6]])[ids[6]]
        accounts.unsubscribe_many(session, [reader.link_id], now - timedelta(days=2))
        for who, paper, kind in [
            (ids[0], "2412.00001", "click"),
            (ids[1], "2412.00001", "click"),
            (ids[1], "2412.00001", "click"),
            (ids[0], "2412.00002", "click"),
            (ids[0], "2412.00002", "up"),
        ]:
            feedback.add_feedback(session, who, paper, kind, now)
        save_source_config(session, name="hf", kind="hf_daily", options={}, origin="cli", now=now)
        record_source_run(
            session, "hf", now=now - timedelta(hours=3), status="ok", counts={"new": 4}
        )
        record_source_run(
            session, "hf", now=now - timedelta(hours=1), status="failed", counts={},
            error="HTTP 503 from huggingface.co",
        )  # fmt: skip
    return {"key": edition.key, "id": edition.id, "now": now}


def test_editions_show_counts_every_state_and_groups_failures_by_reply(
    ledger_env: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "editions", "show", str(ledger_env["key"]), "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert data["key"] == ledger_env["key"]
    counts = data["counts"]
    assert (counts["sent"], counts["failed"], counts["retry"], counts["pending"]) == (2, 1, 2, 1)
    assert counts["total"] == 6 and counts["unknown"] == 0
    assert [(g["reply"], g["count"], g["statuses"]) for g in data["failures"]] == [
        ("451 4.7.1", 2, {"retry": 2}),
        ("550 5.1.1", 1, {"failed": 1}),
    ]
    now = ledger_env["now"]
    assert isinstance(now, datetime)
    assert datetime.fromisoformat(data["next_retry_at"]) == now + BACKOFF
    # by id too, and the table for people names the groups
    text = run_cli(capsys, "editions", "show", str(ledger_env["id"]))
    assert text.code == 0, text.err
    assert ": 1 pending, 2 retry, 2 sent, 1 failed; total 6; next retry " in text.out
    assert "451 4.7.1: 2 (2 retry)" in text.out and "550 5.1.1: 1 (1 failed)" in text.out


def test_editions_list_and_an_unknown_edition(
    ledger_env: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "editions", "list", "--json", "--limit", "5")
    assert result.code == 0, result.err
    [edition] = result.json()["editions"]
    assert edition["key"] == ledger_env["key"] and edition["counts"]["total"] == 6
    missing = run_cli(capsys, "editions", "show", "daily:1999-01-01")
    assert missing.code == 3
    assert (
        missing.err.strip() == "error: no edition 'daily:1999-01-01' (see `digest editions list`)"
    )


def test_stats_json_reports_readers_rates_feedback_clicks_and_sources(
    ledger_env: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "stats", "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert data["subscribers"] == {"active": 6, "unsubscribed": 1, "total": 7}
    [edition] = data["editions"]
    assert edition["counts"]["sent"] == 2 and edition["counts"]["retry"] == 2
    week, month = data["windows"]
    # 2 sent; the hard bounce is in both windows, the complaint (10 days ago) only in 30
    assert week == {
        "days": 7, "sent": 2, "bounces": 1, "complaints": 0, "unsubscribes": 1,
        "bounce_rate": 0.5, "complaint_rate": 0.0, "unsubscribe_rate": 0.5,
    }  # fmt: skip
    assert (month["complaints"], month["complaint_rate"]) == (1, 0.5)
    assert data["feedback"]["7d"] == {"up": 1, "down": 0, "click": 4}
    assert data["most_clicked"][:2] == [
        {"paper": "2412.00001", "title": None, "clicks": 3, "readers": 2},
        {"paper": "2412.00002", "title": None, "clicks": 1, "readers": 1},
    ]
    [source] = data["sources"]
    assert source["name"] == "hf" and source["last_status"] == "failed"
    assert source["last_failure"] == "HTTP 503 from huggingface.co"
    now = ledger_env["now"]
    assert isinstance(now, datetime)
    assert datetime.fromisoformat(source["last_success_at"]) == now - timedelta(hours=3)
    text = run_cli(capsys, "stats")
    assert text.code == 0, text.err
    assert "last 7 days: 2 sent, 1 bounces (50.00%)" in text.out
    assert "source hf (hf_daily): last run 1h 0m ago (failed); last success 3h 0m ago" in text.out
