from __future__ import annotations

from pathlib import Path

import pytest

from digest.deliver.transports import OutboxTransport, OutgoingMessage, SmtpTransport
from digest.errors import InputError, TransportError
from digest.links import LinkSigner
from digest.settings import parse_smtp_url
from tests.conftest import SmtpSink, free_port


def test_tokens_verify_and_tampering_fails() -> None:
    signer = LinkSigner("s" * 32, "https://digest.test")
    links = signer.for_recipient(42, "daily:2026-11-27")
    token = links.unsubscribe.rsplit("/", 1)[1]
    assert signer.verify("unsubscribe", token) == 42
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(InputError, match="tampered"):
        signer.verify("unsubscribe", tampered)
    # a token of one purpose is useless for another
    with pytest.raises(InputError):
        signer.verify("preferences", token)
    # and a token signed with another key fails
    other = LinkSigner("t" * 32, "https://digest.test")
    with pytest.raises(InputError):
        other.verify("unsubscribe", token)


def test_outbox_writes_eml_and_html(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path / "out")
    msg = OutgoingMessage(
        "a@x.org",
        "b@y.org",
        b"Subject: hi\r\n\r\nbody\r\n",
        "<1@x.org>",
        html="<p>hi</p>",
        name="../../etc/passwd daily:1",
    )
    outbox.send(msg)
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == [".._.._etc_passwd_daily_1.eml", ".._.._etc_passwd_daily_1.html"]
    assert not list(tmp_path.glob("*.tmp"))


def test_smtp_transport_sends_with_crlf(smtp_server: SmtpSink) -> None:
    transport = SmtpTransport(parse_smtp_url(smtp_server.url))
    data = b"From: a@x.org\r\nTo: b@y.org\r\nSubject: t\r\n\r\nline\r\n"
    for _ in range(3):
        transport.send(OutgoingMessage("a@x.org", "b@y.org", data, "<1@x.org>"))
    transport.close()
    assert len(smtp_server.envelopes) == 3
    assert smtp_server.envelopes[0][2].endswith(b"line\r\n")


def test_smtp_errors_are_classified() -> None:
    from aiosmtpd.controller import Controller

    class Refuse:
        async def handle_RCPT(self, server, session, envelope, address, options):
            if address.startswith("gone"):
                return "550 5.1.1 no such user"
            if address.startswith("full"):
                return "452 4.2.2 mailbox full"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    port = free_port()
    controller = Controller(Refuse(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        transport = SmtpTransport(parse_smtp_url(f"smtp://127.0.0.1:{port}"))
        data = b"Subject: t\r\n\r\nx\r\n"
        with pytest.raises(TransportError) as permanent:
            transport.send(OutgoingMessage("a@x.org", "gone@y.org", data, "<1@x>"))
        assert permanent.value.permanent and permanent.value.code == 550
        with pytest.raises(TransportError) as temporary:
            transport.send(OutgoingMessage("a@x.org", "full@y.org", data, "<2@x>"))
        assert not temporary.value.permanent and temporary.value.code == 452
        assert transport.send(OutgoingMessage("a@x.org", "ok@y.org", data, "<3@x>"))
        transport.close()
    finally:
        controller.stop()


def test_unreachable_server_is_temporary() -> None:
    transport = SmtpTransport(parse_smtp_url(f"smtp://127.0.0.1:{free_port()}?timeout=2"))
    with pytest.raises(TransportError) as info:
        transport.send(OutgoingMessage("a@x.org", "b@y.org", b"x\r\n", "<1@x>"))
    assert not info.value.permanent
    assert "cannot connect" in str(info.value)
