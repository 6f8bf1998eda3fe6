"""SmtpTransport against a relay that offers PIPELINING: MAIL and RCPT in one write, the
claim still between the envelope and DATA, dot-stuffing byte for byte as smtplib's."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator
from dataclasses import replace

import pytest
from conftest import free_port

from digest.deliver.transports import OutboxTransport, OutgoingMessage, SmtpTransport, dot_stuffed
from digest.errors import TransportError
from digest.settings import SmtpConfig


class _Pipelining:
    """aiosmtpd handler: announces PIPELINING, refuses one recipient, keeps messages."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address.startswith("gone@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 2.0.0 queued"


@pytest.fixture
def relay() -> Iterator[tuple[_Pipelining, SmtpConfig]]:
    from aiosmtpd.controller import Controller

    handler = _Pipelining()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, SmtpConfig(host="127.0.0.1", port=port)
    finally:
        controller.stop()


def _message(recipient: str, data: bytes) -> OutgoingMessage:
    return OutgoingMessage("bounces+d1@digest.test", recipient, data, "<m@digest.test>")


DATA = b"Subject: dots\r\n\r\n.starts with a dot\r\nmiddle . dot\r\n..two\r\n.\r\nend\r\n"


def test_pipelined_transactions(relay) -> None:  # type: ignore[no-untyped-def]
    handler, config = relay
    transport = SmtpTransport(config)
    transport.open()
    assert transport._conn is not None
    transport._conn.ehlo_or_helo_if_needed()
    assert transport._conn.has_extn("pipelining")
    claims: list[str] = []
    try:
        with pytest.raises(TransportError) as refused:  # refused before any claim
            transport.send(_message("gone@example.org", DATA), lambda: claims.append("x") or True)
        assert refused.value.permanent and refused.value.code == 550 and not claims
        # a lost claim: nothing handed over, the session goes on
        assert transport.send(_message("a@example.org", DATA), lambda: False) is None
        reply = transport.send(_message("b@example.org", DATA), lambda: claims.append("b") or True)
        assert reply is not None and reply.startswith("250") and claims == ["b"]
        assert transport.send(_message("c@example.org", b"no final newline")) is not None
    finally:
        transport.close()
    assert [(m[0], m[1]) for m in handler.received] == [
        ("bounces+d1@digest.test", ["b@example.org"]),
        ("bounces+d1@digest.test", ["c@example.org"]),
    ]
    assert handler.received[0][2] == DATA  # un-stuffed by the server: the same bytes
    assert handler.received[1][2].rstrip(b"\r\n") == b"no final newline"


@pytest.mark.parametrize(
    "data",
    [DATA, b".", b"", b"x", b"a\r\n.", b"\n.\n..\r\n.\r\n", b"..\r\n", b"a\n.b\r\n.c", b"\r\n"],
)
def test_dot_stuffing_as_smtplib(data: bytes) -> None:
    expected = re.sub(rb"(?m)^\.", b"..", data)  # smtplib.SMTP.data's quoting
    if expected[-2:] != b"\r\n":
        expected += b"\r\n"
    assert dot_stuffed(data) == expected + b".\r\n"
    assert smtplib._quote_periods(data) == re.sub(rb"(?m)^\.", b"..", data)  # type: ignore[attr-defined]


def test_the_html_is_made_only_for_a_transport_that_keeps_it(relay, tmp_path) -> None:  # type: ignore[no-untyped-def]
    made: list[str] = []

    def html() -> str:
        made.append("html")
        return "<p>hi</p>"

    message = replace(_message("b@example.org", DATA), name="m", html_later=html)
    transport = SmtpTransport(relay[1])
    try:
        assert transport.send(message) is not None
    finally:
        transport.close()
    assert made == []  # SMTP sends the bytes only
    OutboxTransport(tmp_path).send(message)
    assert (tmp_path / "m.html").read_text() == "<p>hi</p>" and made == ["html"]


def test_envelope_addresses_are_quoted_as_smtplib_quotes_them() -> None:
    """The fast path for plain addresses gives what smtplib.quoteaddr gives, for plain
    addresses and for everything else (random strings of address characters)."""
    import random
    import smtplib

    from digest.deliver.transports import quoted_address

    plain = ["reader000001@bench.example.org", "bounces+d12-Ab_3@example.org", "o'neil@x.org"]
    odd = ["jörg@example.org", "A <a@b.c>", '"q x"@b.c', "", "<a@b.c>", "a@[1.2.3.4]", "x(y)@z"]
    rng = random.Random(7)
    alphabet = "ab.@+-_'!#$%&*/=?^`{|}~\"<>() [],;:\\"
    fuzz = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10))) for _ in range(5000)]
    for address in [*plain, *odd, *fuzz]:
        assert quoted_address(address) == smtplib.quoteaddr(address), address
