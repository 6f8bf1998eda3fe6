"""An edition sent through a real SMTP server (aiosmtpd): every header, DKIM intact."""

from __future__ import annotations

import re
from pathlib import Path

import dkim
from helpers import run_cli
from mailcheck import assert_structure, assert_wire_format, body

KEYS = Path(__file__).resolve().parent.parent / "fixtures" / "dkim"


def _dns(name: bytes, timeout: int = 5) -> bytes:
    assert name == b"mail._domainkey.digest.test."
    return b"v=DKIM1; k=rsa; p=" + (KEYS / "test-rsa.pub.b64").read_bytes().strip()


def test_demo_edition_over_smtp(capsys, digest_env, monkeypatch, smtp_server) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_server.url)
    monkeypatch.setenv("DIGEST_FROM", "Paper Digest <digest@digest.test>")
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_MAILTO", "unsubscribe@digest.test")
    monkeypatch.setenv("DIGEST_FEEDBACK_ID", "paperdigest")
    monkeypatch.setenv("DIGEST_CONTACT_LINE", "Paper Digest, questions to help@digest.test")
    monkeypatch.setenv("DIGEST_POSTAL_ADDRESS", "1 Example Street, 12345 Example City")
    monkeypatch.setenv("DIGEST_DKIM_SELECTOR", "mail")
    monkeypatch.setenv("DIGEST_DKIM_KEY_FILE", str(KEYS / "test-rsa.pem"))
    result = run_cli(capsys, "demo")
    assert result.code == 0, result.err

    with smtp_server.lock:
        envelopes = list(smtp_server.envelopes)
    assert len(envelopes) == 5
    ids = set()
    for mail_from, rcpts, data in envelopes:
        # the envelope sender is the delivery's VERP address: a bounce names its row
        assert re.fullmatch(r"bounces\+d\d+-[a-z2-7]+@digest\.test", mail_from), mail_from
        assert_wire_format(data)
        assert dkim.verify(data, dnsfunc=_dns), rcpts
        msg = smtp_server.by_recipient()[rcpts[0]]
        assert_structure(msg)
        assert msg["To"].addresses[0].addr_spec == rcpts[0]
        assert str(msg["From"]) == "Paper Digest <digest@digest.test>"
        message_id = str(msg["Message-ID"])
        assert re.fullmatch(r"<digest\.\d+\.daily\.\d{4}-\d\d-\d\d@digest\.test>", message_id)
        ids.add(message_id)
        assert str(msg["List-Id"]) == "Paper Digest <digest.digest.test>"
        unsubscribe = str(msg["List-Unsubscribe"])
        assert re.fullmatch(
            r"<https://digest\.test/u/[\w.-]+>, "
            r"<mailto:unsubscribe@digest\.test\?subject=unsubscribe%20[\w.-]+>",
            unsubscribe,
        )
        assert str(msg["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
        assert re.fullmatch(r"daily-\d{4}-\d\d-\d\d:digest:paperdigest", str(msg["Feedback-ID"]))
        url = unsubscribe[1 : unsubscribe.index(">")]
        for part in (body(msg, "plain"), body(msg, "html")):
            assert url in part and "https://digest.test/p/" in part
            assert "1 Example Street, 12345 Example City" in part
    assert len(ids) == 5
