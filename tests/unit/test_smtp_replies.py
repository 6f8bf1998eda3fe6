"""Which SMTP refusals are hard bounces (RFC 3463 enhanced codes, else the basic code)."""

from __future__ import annotations

import pytest

from digest.deliver.replies import enhanced_status, is_hard_bounce


@pytest.mark.parametrize(
    ("code", "text", "hard"),
    [
        (550, "5.1.1 <gone@example.org>: Recipient address rejected: User unknown", True),
        (550, "5.1.10 RESOLVER.ADR.RecipientNotFound; not found", True),  # Exchange
        (553, "5.1.3 bad destination mailbox address syntax", True),
        (550, "5.2.1 The email account that you tried to reach is disabled", True),
        (552, "5.2.2 mailbox full", False),  # the mailbox exists
        (550, "5.7.1 Message rejected as spam", False),  # policy: says nothing of the address
        (554, "5.7.26 unauthenticated email is not accepted", False),
        (450, "4.1.1 mailbox temporarily unavailable", False),
        (550, "Requested action not taken: mailbox unavailable", True),  # no enhanced code
        (554, "Transaction failed", False),
        (None, "connection lost", False),
    ],
)
def test_hard_bounces(code: int | None, text: str, hard: bool) -> None:
    assert is_hard_bounce(code, text) is hard


def test_enhanced_status_is_read_from_the_text() -> None:
    assert enhanced_status("recipient refused: 550 5.1.1 no such user") == "5.1.1"
    assert enhanced_status("250 2.0.0 Ok: queued") == "2.0.0"
    assert enhanced_status("550 no code here 1.2") is None
