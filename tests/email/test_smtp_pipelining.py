"""SmtpTransport against a relay that offers PIPELINING: MAIL, RCPT and DATA in one write,
the claim while the relay answers them and before the message, dot-stuffing byte for byte
as smtplib's; whatever happens, no message is ever handed over unclaimed and the next one
never starts inside an abandoned transaction."""

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
        with pytest.raises(TransportError) as refused:  # claimed, then refused: recorded
            transport.send(_message("gone@example.org", DATA), lambda: claims.append("x") or True)
        assert refused.value.permanent and refused.value.code == 550 and claims == ["x"]
        # a lost claim: nothing handed over (the relay had said 354: the connection closes)
        assert transport.send(_message("a@example.org", DATA), lambda: False) is None
        reply = transport.send(_message("b@example.org", DATA), lambda: claims.append("b") or True)
        assert reply is not None and reply.startswith("250") and claims == ["x", "b"]
        assert transport.send(_message("c@example.org", b"no final newline")) is not None
        with pytest.raises(RuntimeError):  # the claim itself failed: nothing handed over
            transport.send(_message("d@example.org", DATA), _raises)
        assert transport.send(_message("e@example.org", DATA), lambda: True) is not None
    finally:
        transport.close()
    assert [(m[0], m[1]) for m in handler.received] == [
        ("bounces+d1@digest.test", ["b@example.org"]),
        ("bounces+d1@digest.test", ["c@example.org"]),
        ("bounces+d1@digest.test", ["e@example.org"]),
    ]
    assert handler.received[0][2] == DATA  # un-stuffed by the server: the same bytes
    assert handler.received[1][2].rstrip(b"\r\n") == b"no final newline"
    assert handler.received[2][2] == DATA  # not a byte of the abandoned one before it


def _raises() -> bool:
    raise RuntimeError("the database went away")


def test_a_claim_answered_later_lets_meanwhile_run_before_the_message(relay) -> None:  # type: ignore[no-untyped-def]
    """A claim sent to the database without waiting (``before_data`` returns a callable):
    ``meanwhile`` runs while it commits, once, and the answer is read before anything of
    the message is written; a late "not ours" or a late error hands nothing over."""
    handler, config = relay
    events: list[str] = []

    def later(answer: bool | Exception):  # type: ignore[no-untyped-def]
        def before_data():  # type: ignore[no-untyped-def]
            events.append("claim sent")

            def committed() -> bool:
                events.append(f"answer read ({len(handler.received)} received)")
                if isinstance(answer, Exception):
                    raise answer
                return answer

            return committed

        return before_data

    transport = SmtpTransport(config)
    try:
        reply = transport.send(
            _message("a@example.org", DATA), later(True), lambda: events.append("meanwhile")
        )
        assert reply is not None and reply.startswith("250")
        assert events == ["claim sent", "meanwhile", "answer read (0 received)"]
        events.clear()
        assert transport.send(_message("b@example.org", DATA), later(False)) is None
        with pytest.raises(RuntimeError):
            transport.send(_message("c@example.org", DATA), later(RuntimeError("lost")))
        assert transport.send(_message("d@example.org", DATA), later(True)) is not None
    finally:
        transport.close()
    assert [m[1] for m in handler.received] == [["a@example.org"], ["d@example.org"]]
    assert handler.received[1][2] == DATA  # not a byte of the abandoned ones before it


class _ScriptedRelay:
    """A relay on a socket of its own that logs each command line as it arrives and
    answers from a script (aiosmtpd has no hook at the DATA command itself)."""

    def __init__(self, replies: dict[str, bytes]):
        import socket
        import threading

        self.replies = replies
        self.lines: list[bytes] = []
        self.closed_in_data = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 scripted ESMTP\r\n")
            in_data = False
            for line in lines:
                if in_data:
                    if line == b".\r\n":
                        in_data = False
                        conn.sendall(b"250 2.0.0 queued\r\n")
                    continue
                self.lines.append(line.rstrip())
                verb = line.split(b" ", 1)[0].split(b":", 1)[0].strip().upper().decode()
                if verb == "EHLO":
                    conn.sendall(b"250-scripted\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                    continue
                reply = self.replies.get(verb, b"250 OK")
                conn.sendall(reply + b"\r\n")
                in_data = verb == "DATA" and reply.startswith(b"354")
                if verb == "QUIT":
                    return
            if in_data:
                self.closed_in_data.set()  # the connection closed before the message ended

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=5)


def _commands(relay: _ScriptedRelay) -> list[str]:
    return [line.split(b" ", 1)[0].split(b":", 1)[0].decode().upper() for line in relay.lines]


def test_the_claim_runs_while_the_relay_answers_mail_rcpt_and_data() -> None:
    """MAIL, RCPT and DATA are written before the claim runs: the relay has all three by
    the time the claim is made, so the database's round trip and the relay's overlap."""
    import time

    relay = _ScriptedRelay({"DATA": b"354 go ahead"})
    seen: list[list[str]] = []

    def claim() -> bool:
        deadline = time.monotonic() + 5
        while "DATA" not in _commands(relay) and time.monotonic() < deadline:
            time.sleep(0.01)
        seen.append(_commands(relay))
        return True

    transport = SmtpTransport(SmtpConfig(host="127.0.0.1", port=relay.port))
    try:
        reply = transport.send(_message("a@example.org", DATA), claim)
    finally:
        transport.close()
        relay.close()
    assert reply is not None and reply.startswith("250")
    assert seen == [["EHLO", "MAIL", "RCPT", "DATA"]]


@pytest.mark.parametrize("claimed", [False, True])
def test_a_data_the_relay_began_but_that_must_not_go_on_is_abandoned(claimed: bool) -> None:
    """The relay said 354 although the recipient was refused (or the row was not ours):
    closing the connection is the only way to end that transaction without a message."""
    refused = {"RCPT": b"550 5.1.1 no such user", "DATA": b"354 go ahead anyway"}
    relay = _ScriptedRelay(refused if claimed else {"DATA": b"354 go ahead"})
    transport = SmtpTransport(SmtpConfig(host="127.0.0.1", port=relay.port))
    try:
        if claimed:
            with pytest.raises(TransportError) as error:
                transport.send(_message("gone@example.org", DATA), lambda: True)
            assert error.value.code == 550 and error.value.permanent
        else:
            assert transport.send(_message("a@example.org", DATA), lambda: False) is None
        assert relay.closed_in_data.wait(5)
    finally:
        transport.close()
        relay.close()


def test_a_session_error_in_the_pipelined_replies_is_raised_after_the_claim() -> None:
    """421 to MAIL: the session is over; the caller, whose claim ran, releases the row."""
    from digest.errors import SessionError

    relay = _ScriptedRelay({"MAIL": b"421 4.3.2 shutting down", "RCPT": b"503 5.5.1 no MAIL"})
    claims: list[bool] = []
    transport = SmtpTransport(SmtpConfig(host="127.0.0.1", port=relay.port))
    try:
        with pytest.raises(SessionError) as error:
            transport.send(_message("a@example.org", DATA), lambda: claims.append(True) or True)
        assert error.value.code == 421 and claims == [True]
    finally:
        transport.close()
        relay.close()


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
