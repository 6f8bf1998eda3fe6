"""End to end: the LMTP (and SMTP) listener on a real socket, fed with smtplib."""

from __future__ import annotations

import smtplib

import pytest

from digest.deliver.inbound import Inbound, start_listener
from digest.settings import Settings
from tests.bounces.conftest import NOW, SECRET, add_sent, report_for, status_of
from tests.conftest import free_port


@pytest.fixture
def inbound(db, tmp_path):  # type: ignore[no-untyped-def]
    settings = Settings.from_env(
        {
            "DIGEST_SECRET_KEY": SECRET,
            "DIGEST_FROM": "Digest <digest@digest.test>",
            "DIGEST_VAR_DIR": str(tmp_path / "var"),
            "DIGEST_DATABASE_URL": db.url,
        }
    )
    return Inbound(settings, db, clock=lambda: NOW)


def test_lmtp_dsn_bounces_the_reader(db, inbound) -> None:  # type: ignore[no-untyped-def]
    sent = add_sent(db, "jane@gone.example")
    port = free_port()
    controller = start_listener(inbound, "127.0.0.1", port, lmtp=True)
    try:
        with smtplib.LMTP("127.0.0.1", port, timeout=10) as client:
            refused = client.sendmail("", [sent.verp], report_for("postfix_hard_5.1.1.eml", sent))
            assert refused == {}
            # not the bounce mailbox, or a forged token: refused at RCPT
            code, _ = client.docmd("MAIL FROM:<>")
            assert code == 250
            assert client.rcpt("jane@digest.test")[0] == 550
            forged = sent.verp.replace(f"d{sent.delivery_id}-", f"d{sent.delivery_id + 1}-")
            assert client.rcpt(forged)[0] == 550
            client.rset()
    finally:
        controller.stop()
    assert status_of(db, sent.subscriber_id)[0] == "bounced"


def test_lmtp_answers_once_per_recipient(db, inbound) -> None:  # type: ignore[no-untyped-def]
    first = add_sent(db, "sam@slow.example")
    second = add_sent(db, "sue@slow.example")
    raw = report_for("postfix_delayed_4.4.1.eml", first)
    port = free_port()
    controller = start_listener(inbound, "127.0.0.1", port, lmtp=True)
    try:
        with smtplib.LMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo_or_helo_if_needed()
            assert client.mail("")[0] == 250
            assert client.rcpt(first.verp)[0] == 250
            assert client.rcpt(second.verp)[0] == 250
            code, reply = client.data(raw)
            assert code == 250, reply
            # RFC 2033: a second reply line, for the second recipient
            code2, reply2 = client.getreply()
            assert code2 == 250, reply2
    finally:
        controller.stop()
    assert status_of(db, first.subscriber_id) == ("active", 0.5)
    assert status_of(db, second.subscriber_id) == ("active", 0.5)


def test_smtp_listener_takes_a_complaint_for_the_bare_mailbox(db, inbound) -> None:  # type: ignore[no-untyped-def]
    sent = add_sent(db, "dana@yahoo.com")
    port = free_port()
    controller = start_listener(inbound, "127.0.0.1", port, lmtp=False)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            raw = report_for("yahoo_arf_abuse.eml", sent)
            assert (
                client.sendmail("feedback@arf.mail.yahoo.com", ["bounces@digest.test"], raw) == {}
            )
    finally:
        controller.stop()
    assert status_of(db, sent.subscriber_id)[0] == "unsubscribed"
