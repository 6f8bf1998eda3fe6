"""The bounce parser on real-world-shaped reports (tests/fixtures/bounces/): every
classification, the fields it reads, and garbage that must never raise."""

from __future__ import annotations

import random

import pytest

from digest.deliver.bounces import classify, parse_report
from tests.conftest import FIXTURES

BOUNCES = FIXTURES / "bounces"
ORIGINAL_ID = "<digest.42.daily.2025-05-30@digest.test>"
VERP = "bounces+d42-k5t2abcdxq@digest.test"


def fixture(name: str) -> bytes:
    return (BOUNCES / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "kind", "status", "recipient"),
    [
        ("postfix_hard_5.1.1.eml", "hard", "5.1.1", "jane@gone.example"),
        ("exim_hard_5.0.0.eml", "hard", "5.1.1", "bob@example.net"),
        ("gmail_hard_5.1.1.eml", "hard", "5.1.1", "nobody.here.at.all@gmail.com"),
        ("m365_hard_5.1.10.eml", "hard", "5.1.10", "user@contoso.com"),
        ("m365_policy_5.7.509.eml", "policy", "5.7.509", "reader@outlook.com"),
        ("postfix_delayed_4.4.1.eml", "soft", "4.4.1", "sam@slow.example"),
        ("exim_plain_mailbox_full.eml", "soft", "5.2.2", "carol@full.example"),
        ("yahoo_arf_abuse.eml", "complaint", None, "dana@yahoo.com"),
        ("vacation_autoreply.eml", "unrecognized", None, None),
        ("postfix_relayed_success.eml", "unrecognized", "2.0.0", "eve@example.com"),
    ],
)
def test_every_fixture_is_classified(name, kind, status, recipient) -> None:  # type: ignore[no-untyped-def]
    report = parse_report(fixture(name))
    assert (report.kind, report.status, report.recipient) == (kind, status, recipient)


@pytest.mark.parametrize("name", sorted(p.name for p in BOUNCES.glob("*.eml")))
def test_every_fixture_gives_the_envelope_address_and_a_one_line_detail(name: str) -> None:
    report = parse_report(fixture(name))
    assert VERP in report.addresses or "bounces@digest.test" in report.addresses
    assert report.detail and "\n" not in report.detail and len(report.detail) <= 300


@pytest.mark.parametrize(
    "name",
    [
        "postfix_hard_5.1.1.eml",  # message/rfc822
        "postfix_delayed_4.4.1.eml",  # text/rfc822-headers
        "exim_hard_5.0.0.eml",
        "gmail_hard_5.1.1.eml",
        "m365_hard_5.1.10.eml",
        "m365_policy_5.7.509.eml",
        "exim_plain_mailbox_full.eml",  # headers quoted in the text
        "yahoo_arf_abuse.eml",  # the ARF's message/rfc822
    ],
)
def test_the_original_message_id_is_found(name: str) -> None:
    assert parse_report(fixture(name)).original_message_id == ORIGINAL_ID


def test_dsn_fields_per_recipient() -> None:
    report = parse_report(fixture("postfix_hard_5.1.1.eml"))
    (entry,) = report.recipients
    assert entry.final_recipient == entry.original_recipient == "jane@gone.example"
    assert entry.action == "failed"
    assert entry.diagnostic_code.startswith("550 5.1.1 <jane@gone.example>: Recipient address")
    assert report.reporting_mta == "mail.digest.test"
    assert report.original_return_path == VERP
    assert report.report_id == "<20250530070211.4bXk2M1qZ9z9tW@mail.digest.test>"
    assert report.original_list_unsubscribe.startswith("<https://digest.test/u/")


def test_a_5_0_0_status_is_read_from_the_diagnostic_code() -> None:
    (entry,) = parse_report(fixture("exim_hard_5.0.0.eml")).recipients
    assert entry.status == "5.1.1"


def test_gmail_multiline_codes_are_folded_into_one_line() -> None:
    detail = parse_report(fixture("gmail_hard_5.1.1.eml")).detail
    assert detail.startswith("failed: 550 5.1.1 The email account that you tried to reach")
    assert detail.count("5.1.1") == 1


def test_the_given_envelope_recipient_comes_first() -> None:
    report = parse_report(fixture("yahoo_arf_abuse.eml"), "Bounces@Digest.test")
    assert report.envelope_to == "Bounces@Digest.test"
    assert report.feedback_type == "abuse"


def test_x_original_to_is_preferred_to_a_rewritten_delivered_to() -> None:
    report = parse_report(fixture("postfix_delayed_4.4.1.eml"))
    assert report.envelope_to == VERP


def test_the_plain_text_bounce_ignores_codes_in_the_quoted_message() -> None:
    report = parse_report(fixture("exim_plain_mailbox_full.eml"))
    assert report.status == "5.2.2"  # not the "550 5.1.1" in the returned body


ARF_NOT_SPAM = b"""From: fbl@isp.example
To: bounces@digest.test
Subject: report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="x"

--x
Content-Type: text/plain

not spam
--x
Content-Type: message/feedback-report

Feedback-Type: not-spam
User-Agent: ISP-FBL/1.0
Version: 1

--x--
"""


def test_arf_not_spam_is_no_complaint() -> None:
    report = parse_report(ARF_NOT_SPAM)
    assert report.kind == "unrecognized"
    assert report.feedback_type == "not-spam"


def test_arf_fraud_is_a_complaint() -> None:
    assert parse_report(ARF_NOT_SPAM.replace(b"not-spam", b"fraud")).kind == "complaint"


def test_a_read_receipt_is_ignored() -> None:
    mdn = ARF_NOT_SPAM.replace(b"feedback-report;", b"disposition-notification;")
    assert parse_report(mdn).kind == "unrecognized"


def test_a_delivery_status_written_by_hand_without_blank_line_rules() -> None:
    broken = fixture("postfix_hard_5.1.1.eml").replace(
        b"Content-Type: message/delivery-status\n",
        b"Content-Type: message/delivery-status\nContent-Transfer-Encoding: 7bit\n",
    )
    assert parse_report(broken).kind == "hard"


@pytest.mark.parametrize(
    ("action", "status", "diagnostic", "kind"),
    [
        ("failed", "5.1.1", None, "hard"),
        ("failed", "5.1.10", None, "hard"),
        ("failed", "5.2.1", None, "hard"),
        ("failed", "5.2.2", None, "soft"),
        ("failed", "5.7.1", None, "policy"),
        ("failed", "5.7.26", None, "policy"),
        ("failed", "4.2.2", None, "soft"),
        ("delayed", "4.4.7", None, "soft"),
        ("delayed", None, None, "soft"),
        ("failed", "5.4.4", None, "soft"),
        ("failed", None, "smtp; 550 Requested action not taken: mailbox unavailable", "hard"),
        ("failed", None, "smtp; 554 Transaction failed", "soft"),
        ("failed", None, "smtp; 451 Try later", "soft"),
        ("relayed", "2.0.0", None, "unrecognized"),
        ("delivered", "2.0.0", None, "unrecognized"),
        (None, None, None, "unrecognized"),
    ],
)
def test_classify(action, status, diagnostic, kind) -> None:  # type: ignore[no-untyped-def]
    assert classify(action, status, diagnostic) == kind


GARBAGE = [
    b"",
    b"\x00\xff\xfe garbage",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=\n\n--",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\n"
    b"Content-Type: message/delivery-status\n\n\x00\xff: \xfe\n\n--b--",
    b"From: \xff\xfe <<<@@@>>>\nTo: ,,,;;;\nSubject: =?utf-8?q?=ZZ?=\n\nbody",
    b"Content-Type: multipart/mixed; boundary=a\n\n"
    + b"--a\nContent-Type: multipart/mixed; boundary=a\n\n" * 200,
    b"Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n" * 50,
]


@pytest.mark.parametrize("raw", GARBAGE)
def test_garbage_never_raises(raw: bytes) -> None:
    report = parse_report(raw, "bounces+d1-aaaaaaaaaa@digest.test")
    assert report.kind == "unrecognized"


def test_random_mutations_of_fixtures_never_raise() -> None:
    rng = random.Random(20250530)
    sources = [p.read_bytes() for p in sorted(BOUNCES.glob("*.eml"))]
    for _ in range(300):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 20)):
            if not data:
                break
            position = rng.randrange(len(data))
            if rng.random() < 0.5:
                data[position] = rng.randrange(256)
            else:
                del data[position : position + rng.randint(1, 200)]
        report = parse_report(bytes(data))
        assert report.kind in ("hard", "soft", "complaint", "policy", "unrecognized")
