"""Reports against a real database (SQLite and PostgreSQL): hard -> bounced, soft up to
the threshold, complaint -> unsubscribed, policy recorded only, matching and dedupe."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from digest.db import bounces as store
from digest.db.models import BounceEventRow
from digest.deliver.inbound import Inbound, process_report
from digest.settings import Settings
from tests.bounces.conftest import NOW, SECRET, add_sent, report_for, status_of


@pytest.fixture
def inbound(db, tmp_path):  # type: ignore[no-untyped-def]
    settings = Settings.from_env(
        {
            "DIGEST_SECRET_KEY": SECRET,
            "DIGEST_FROM": "Digest <digest@digest.test>",
            "DIGEST_BASE_URL": "https://digest.test",
            "DIGEST_VAR_DIR": str(tmp_path / "var"),
            "DIGEST_DATABASE_URL": db.url,
        }
    )
    return Inbound(settings, db, clock=lambda: NOW)


def events(db):  # type: ignore[no-untyped-def]
    with db.session() as session:
        return session.query(BounceEventRow).order_by(BounceEventRow.id).all()


@pytest.mark.parametrize(
    "name",
    [
        "postfix_hard_5.1.1.eml",
        "exim_hard_5.0.0.eml",
        "gmail_hard_5.1.1.eml",
        "m365_hard_5.1.10.eml",
    ],
)
def test_a_hard_bounce_suppresses_the_reader_at_once(db, inbound, name) -> None:  # type: ignore[no-untyped-def]
    sent = add_sent(db, "jane@gone.example")
    other = add_sent(db, "other@example.org")
    outcome = process_report(inbound, report_for(name, sent))
    assert (outcome.kind, outcome.action, outcome.matched_by) == ("hard", "reader bounced", "verp")
    assert (outcome.email, outcome.delivery_id) == (sent.email, sent.delivery_id)
    assert status_of(db, sent.subscriber_id)[0] == "bounced"
    assert status_of(db, other.subscriber_id)[0] == "active"
    (event,) = events(db)
    assert (event.kind, event.subscriber_id, event.delivery_id) == (
        "hard",
        sent.subscriber_id,
        sent.delivery_id,
    )
    assert event.status.startswith("5.1.")


def test_the_same_report_twice_is_recorded_once(db, inbound) -> None:  # type: ignore[no-untyped-def]
    sent = add_sent(db, "sam@slow.example")
    raw = report_for("postfix_delayed_4.4.1.eml", sent)
    assert process_report(inbound, raw).action == "score 0.5/5"
    assert process_report(inbound, raw).action == "already recorded"
    assert status_of(db, sent.subscriber_id) == ("active", 0.5)
    assert len(events(db)) == 1


def test_soft_bounces_reach_the_threshold_over_days(db, inbound) -> None:  # type: ignore[no-untyped-def]
    sent = add_sent(db, "sam@slow.example")
    raw = report_for("postfix_delayed_4.4.1.eml", sent)
    for day in range(9):
        # a new report each day (its own Message-ID), as the MTA would send
        daily = raw.replace(b"@mail.digest.test>", f".{day}@mail.digest.test>".encode(), 1)
        outcome = process_report(inbound, daily, now=NOW + timedelta(days=day))
        assert outcome.action == f"score {0.5 * (day + 1):g}/5"
        # a second report the same day does not count again
        again = daily.replace(b"Message-Id: <", b"Message-Id: <again.", 1)
        same_day = process_report(inbound, again, now=NOW + timedelta(days=day, hours=2))
        assert same_day.action.endswith("(already counted today)")
    assert status_of(db, sent.subscriber_id) == ("active", 4.5)
    last = raw.replace(b"Message-Id: <", b"Message-Id: <last.", 1)
    outcome = process_report(inbound, last, now=NOW + timedelta(days=9))
    assert outcome.action == "score 5/5: reader bounced"
    assert status_of(db, sent.subscriber_id) == ("bounced", 5.0)


def test_record_soft_bounce_from_the_sending_path(db, inbound) -> None:  # type: ignore[no-untyped-def]
    sent = add_sent(db, "sam@slow.example")
    settings = inbound.settings
    with db.session() as session:
        first = store.record_soft_bounce(
            session,
            store.BounceEvent(
                "soft",
                NOW,
                subscriber_id=sent.subscriber_id,
                delivery_id=sent.delivery_id,
                status="4.2.2",
                detail="452 4.2.2 mailbox full",
                source="smtp",
            ),
            settings,
        )
    assert (first.score, first.counted, first.bounced) == (0.5, True, False)

    def soft(now: datetime) -> store.BounceEvent:
        return store.BounceEvent("soft", now, subscriber_id=sent.subscriber_id, source="smtp")

    with db.session() as session:  # older than the window: starts again
        later = store.record_soft_bounce(session, soft(NOW + timedelta(days=20)), settings)
    assert later.score == 0.5
    with db.session() as session:
        strict = store.BounceRules(threshold=1.0)
        last = store.record_soft_bounce(session, soft(NOW + timedelta(days=21)), strict)
    assert last.bounced and status_of(db, sent.subscriber_id)[0] == "bounced"
    assert [e.source for e in events(db)] == ["smtp", "smtp", "smtp"]


def test_a_complaint_unsubscribes(db, inbound) -> None:  # type: ignore[no-untyped-def]
    sent = add_sent(db, "dana@yahoo.com")
    outcome = process_report(inbound, report_for("yahoo_arf_abuse.eml", sent))
    assert (outcome.kind, outcome.action) == ("complaint", "reader unsubscribed (complaint)")
    assert status_of(db, sent.subscriber_id)[0] == "unsubscribed"
    (event,) = events(db)
    assert event.kind == "complaint" and "abuse" in event.detail


def test_a_complaint_without_verp_is_matched_by_its_signed_unsubscribe_link(db, inbound) -> None:  # type: ignore[no-untyped-def]
    sent = add_sent(db, "dana@yahoo.com")
    token_url = inbound.signer.unsubscribe_url(sent.link_id)
    raw = report_for("yahoo_arf_abuse.eml", sent)
    raw = raw.replace(b"Return-Path: <bounces+", b"X-Was-Return-Path: <bounces+")
    raw = raw.replace(b"Original-Mail-From: <bounces+", b"Original-Mail-From: <x+")
    raw = raw.replace(b"https://digest.test/u/ImFiYyI.AAAAAAAAAAAAAAAAAAAAAA", token_url.encode())
    outcome = process_report(inbound, raw)
    assert (outcome.matched_by, outcome.delivery_id) == ("unsubscribe link", sent.delivery_id)
    assert status_of(db, sent.subscriber_id)[0] == "unsubscribed"


def test_a_policy_refusal_suppresses_nobody(db, inbound) -> None:  # type: ignore[no-untyped-def]
    readers = [add_sent(db, f"reader{n}@outlook.com") for n in range(3)]
    for sent in readers:
        outcome = process_report(inbound, report_for("m365_policy_5.7.509.eml", sent))
        assert outcome.action == "recorded (policy refusal: nobody suppressed)"
        assert status_of(db, sent.subscriber_id) == ("active", 0.0)
    with db.session() as session:
        from digest.db.models import DeliveryRow

        edition_id = session.get(DeliveryRow, readers[0].delivery_id).edition_id
        assert store.policy_refusals(session, edition_id) == 3


def test_message_id_fallback_needs_the_readers_own_address(db, inbound) -> None:  # type: ignore[no-untyped-def]
    sent = add_sent(db, "jane@gone.example")
    stranger = add_sent(db, "victim@example.org")
    # no VERP (the bare mailbox): the Message-ID finds the delivery, the recipient agrees
    raw = report_for("postfix_hard_5.1.1.eml", sent, verp=False)
    raw = raw.replace(b"Return-Path: <bounces+", b"X-Return-Path: <bounces+")
    outcome = process_report(inbound, raw)
    assert (outcome.matched_by, outcome.action) == ("message-id", "reader bounced")
    # a forged report: the stranger's Message-ID but another recipient -> nobody suppressed
    forged = raw.replace(sent.message_id.encode(), stranger.message_id.encode())
    forged = forged.replace(b"Message-Id: <", b"Message-Id: <forged.", 1)
    outcome = process_report(inbound, forged)
    assert outcome.action == "recorded; no delivery of ours matched"
    assert status_of(db, stranger.subscriber_id)[0] == "active"


def test_a_tampered_verp_does_not_match(db, inbound) -> None:  # type: ignore[no-untyped-def]
    sent = add_sent(db, "jane@gone.example")
    victim = add_sent(db, "victim@example.org")
    raw = report_for("gmail_hard_5.1.1.eml", sent)
    forged_verp = sent.verp.replace(f"d{sent.delivery_id}-", f"d{victim.delivery_id}-")
    raw = raw.replace(sent.verp.encode(), forged_verp.encode())
    raw = raw.replace(sent.message_id.encode(), b"<unknown@elsewhere>")
    outcome = process_report(inbound, raw)
    assert outcome.email is None
    assert status_of(db, victim.subscriber_id)[0] == "active"
    assert status_of(db, sent.subscriber_id)[0] == "active"


def test_auto_replies_and_garbage_change_nothing(db, inbound) -> None:  # type: ignore[no-untyped-def]
    sent = add_sent(db, "jane@example.org")
    for raw in [report_for("vacation_autoreply.eml", sent), b"\x00\xffgarbage", b""]:
        assert process_report(inbound, raw).action == "ignored"
    assert status_of(db, sent.subscriber_id) == ("active", 0.0)
    assert events(db) == []


def test_an_unsubscribed_reader_stays_unsubscribed(db, inbound) -> None:  # type: ignore[no-untyped-def]
    sent = add_sent(db, "dana@yahoo.com")
    process_report(inbound, report_for("yahoo_arf_abuse.eml", sent))
    outcome = process_report(inbound, report_for("postfix_hard_5.1.1.eml", sent))
    assert outcome.action == "recorded (reader is already unsubscribed)"
    assert status_of(db, sent.subscriber_id)[0] == "unsubscribed"


def test_recent_events_lists_newest_first(db, inbound) -> None:  # type: ignore[no-untyped-def]
    sent = add_sent(db, "sam@slow.example")
    process_report(inbound, report_for("postfix_delayed_4.4.1.eml", sent), now=NOW)
    process_report(
        inbound, report_for("postfix_hard_5.1.1.eml", sent), now=NOW + timedelta(hours=1)
    )
    with db.session() as session:
        listed = store.recent_events(session, since=NOW - timedelta(days=1))
        hard_only = store.recent_events(session, since=NOW - timedelta(days=1), kind="hard")
    assert [(e.kind, e.email, e.subscriber_status) for e in listed] == [
        ("hard", sent.email, "bounced"),
        ("soft", sent.email, "bounced"),
    ]
    assert len(hard_only) == 1
