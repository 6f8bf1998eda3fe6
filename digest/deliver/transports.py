"""Transports: one small interface, three implementations picked by configuration.

* ``OutboxTransport`` writes ``.eml`` and ``.html`` files (the embedded default);
* ``SmtpTransport`` talks to a relay over one connection reused for a whole batch;
* ``MemoryTransport`` keeps messages in a list (tests, previews).
smtplib and OS errors are translated here into :class:`TransportError`, with ``permanent``
set when retrying cannot help.
"""

from __future__ import annotations

import functools
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from digest.errors import ConfigError, SessionError, TransportError
from digest.settings import Settings, SmtpConfig


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    sender: str  # envelope sender (MAIL FROM)
    recipient: str  # envelope recipient (RCPT TO)
    data: bytes  # the whole message, CRLF line endings
    message_id: str
    html: str = ""  # kept beside the .eml by the outbox, for opening in a browser
    name: str = ""  # a file-system friendly stem for the outbox
    # Or the HTML made on demand: joining a digest's HTML costs ~75 us that SMTP never needs.
    html_later: Callable[[], str] | None = None

    def html_part(self) -> str:
        """The HTML to keep beside the .eml (empty: none)."""
        return self.html or (self.html_later() if self.html_later is not None else "")


# The caller's claim: True when the row is ours, False when not, or a callable that waits for
# the answer of a claim sent to the database without waiting (see ``Transport.send``).
Claimed = bool | Callable[[], bool]
BeforeData = Callable[[], Claimed]
# Work of the caller's (rendering the next message) that a transport may do while the relay
# takes the message and answers; it never raises.
Meanwhile = Callable[[], None]


def claim_answer(answer: Claimed) -> bool:
    """A claim's answer, waited for if it is still on its way."""
    return answer if isinstance(answer, bool) else answer()


class Transport(Protocol):
    def open(self) -> None:
        """Get ready to send (connect and log in); SessionError when that fails."""

    def send(
        self,
        message: OutgoingMessage,
        before_data: BeforeData | None = None,
        meanwhile: Meanwhile | None = None,
    ) -> str | None:
        """Deliver one message; return the server's reply (or a description).

        ``before_data`` is called before the message itself is handed over (the ledger's
        claim): once the relay has accepted the envelope, or, with PIPELINING, while it is
        answering it (a refusal then still raises, after the claim). When it returns False
        the transaction is abandoned and ``None`` returned. It may instead return a
        callable (a claim sent to the database, its commit not yet awaited): the transport
        calls that before any of the message is handed over, and it answers as above.
        TransportError for this message (``permanent`` or not), SessionError when the
        session itself failed and no later message of the batch can go either.
        ``meanwhile``, when given, may be called once while an answer is awaited: the
        database's to a claim that is still committing, else the relay's to the message
        handed over (a transport that does not wait need not call it)."""

    def close(self) -> None: ...


_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")
# Replies about the session, not the recipient: 421 service closing, 454 TLS or temporary
# authentication failure, 530 authentication required, 534/535 authentication refused.
SESSION_CODES = frozenset({421, 454, 530, 534, 535})


class OutboxTransport:
    """Writes each message as ``<name>.eml`` (and ``<name>.html``), atomically."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"DIGEST_OUTBOX_DIR: cannot create {self.directory}: {exc.strerror}"
            ) from None

    def send(
        self,
        message: OutgoingMessage,
        before_data: BeforeData | None = None,
        meanwhile: Meanwhile | None = None,
    ) -> str | None:
        if before_data is not None and not claim_answer(before_data()):
            return None
        stem = _UNSAFE.sub("_", message.name or message.message_id.strip("<>"))[:150]
        try:
            _write_atomic(self.directory / f"{stem}.eml", message.data)
            if html := message.html_part():
                _write_atomic(self.directory / f"{stem}.html", html.encode("utf-8"))
        except OSError as exc:
            raise TransportError(
                f"cannot write to outbox {self.directory}: {exc.strerror}"
            ) from None
        return f"written to {self.directory / stem}.eml"

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


@dataclass
class MemoryTransport:
    """Keeps sent messages in memory; ``fail_for`` makes chosen recipients fail."""

    sent: list[OutgoingMessage] = field(default_factory=list)
    fail_for: dict[str, TransportError] = field(default_factory=dict)

    def send(
        self,
        message: OutgoingMessage,
        before_data: BeforeData | None = None,
        meanwhile: Meanwhile | None = None,
    ) -> str | None:
        error = self.fail_for.get(message.recipient)
        if error is not None:
            raise error
        if before_data is not None and not claim_answer(before_data()):
            return None
        self.sent.append(message)
        return "250 OK (memory)"

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass


class SmtpTransport:
    """One SMTP connection, opened on first use and reused until ``close``."""

    def __init__(self, config: SmtpConfig, local_hostname: str | None = None):
        self.config = config
        self.local_hostname = local_hostname
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        try:
            if cfg.ssl:
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    cfg.host,
                    cfg.port,
                    local_hostname=self.local_hostname,
                    timeout=cfg.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                conn = smtplib.SMTP(
                    cfg.host, cfg.port, local_hostname=self.local_hostname, timeout=cfg.timeout
                )
            if cfg.starttls:
                conn.starttls(context=ssl.create_default_context())
            if cfg.username:
                conn.login(cfg.username, cfg.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise SessionError(
                f"DIGEST_SMTP_URL: {cfg.display} refused the login: {_reply(exc)}",
                permanent=True,
                code=exc.smtp_code,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SessionError(
                f"DIGEST_SMTP_URL: cannot connect to {cfg.display}: {_why(exc)}"
            ) from None
        return conn

    def open(self) -> None:
        if self._conn is None:
            self._conn = self._connect()

    def send(
        self,
        message: OutgoingMessage,
        before_data: BeforeData | None = None,
        meanwhile: Meanwhile | None = None,
    ) -> str | None:
        self.open()
        assert self._conn is not None
        conn = self._conn
        try:
            conn.ehlo_or_helo_if_needed()
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise SessionError(f"{self.config.display} does not greet: {_why(exc)}") from None
        options: list[str] = []
        if not (message.recipient.isascii() and message.sender.isascii()):
            if not conn.has_extn("smtputf8"):
                raise TransportError(
                    f"{self.config.display} does not offer SMTPUTF8, which the address "
                    f"{message.recipient!r} needs",
                    permanent=True,
                )
            options = ["SMTPUTF8"]
        if conn.does_esmtp and conn.has_extn("size"):
            options.append(f"SIZE={len(message.data)}")
        try:
            if conn.does_esmtp and conn.has_extn("pipelining"):
                sent = self._pipelined(conn, message, options, before_data, meanwhile)
                if sent is None:
                    return None
                code, text = sent
            else:
                # The envelope first (MAIL, RCPT): nothing is handed over yet, so a refusal
                # or a lost connection here leaves nothing in doubt. Then the caller's
                # claim, then DATA: a row is in doubt only once DATA has begun.
                code, text = conn.mail(message.sender, options)
                if code != 250:
                    self._envelope_refused(code, text, f"refused the sender {message.sender}")
                code, text = conn.rcpt(message.recipient)
                if code not in (250, 251):
                    self._envelope_refused(code, text, "recipient refused:")
                if before_data is not None and not self._before_data(before_data):
                    conn.rset()
                    return None
                code, text = _data(conn, message.data, meanwhile)
        except smtplib.SMTPResponseException as exc:
            self._drop()
            if exc.smtp_code in SESSION_CODES:
                raise SessionError(
                    f"{self.config.display}: {_reply(exc)}", code=exc.smtp_code
                ) from None
            raise TransportError(
                f"server replied {exc.smtp_code} {_text(exc.smtp_error)}",
                permanent=500 <= exc.smtp_code < 600,
                code=exc.smtp_code,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise TransportError(f"connection to {self.config.display} lost: {_why(exc)}") from None
        if code != 250:
            self._reset()
            raise TransportError(
                f"server replied {code} {_text(text)}", permanent=500 <= code < 600, code=code
            )
        return f"{code} {_text(text)}"[:200]

    def _pipelined(
        self,
        conn: smtplib.SMTP,
        message: OutgoingMessage,
        options: list[str],
        before_data: BeforeData | None,
        meanwhile: Meanwhile | None = None,
    ) -> tuple[int, bytes] | None:
        """MAIL, RCPT and DATA in one write (RFC 2920 PIPELINING), the caller's claim while
        the relay answers them, then the message: two round trips to the relay instead of
        four, and the database's (the claim's commit) overlapping the first. A claim sent
        without waiting (``before_data`` returned a callable) overlaps ``meanwhile`` too:
        it runs while the database commits and the relay answers the envelope, and the
        claim's answer is read before anything of the message is written.

        The claim may run for an envelope the relay then refuses: the refusal is raised as
        before and the caller records it on the claimed row (or releases the row, for a
        session error). A DATA the relay accepted (354) but that must not go on (the row
        was not ours, or the envelope was refused after all) can only be abandoned by
        closing the connection: the relay discards a message whose end never came."""
        if any(option.lower() == "smtputf8" for option in options):
            conn.command_encoding = "utf-8"  # as SMTP.mail does
        extra = " " + " ".join(options) if options else ""
        conn.send(
            f"MAIL FROM:{quoted_address(message.sender)}{extra}\r\n"
            f"RCPT TO:{quoted_address(message.recipient)}\r\n"
            "DATA\r\n"
        )
        ours = True
        if before_data is not None:
            answer = self._claim(before_data)
            if not isinstance(answer, bool) and meanwhile is not None:
                meanwhile()  # while the database commits the claim and the relay answers
                meanwhile = None
            ours = self._claimed(answer)
        mail, rcpt, data = conn.getreply(), conn.getreply(), conn.getreply()
        accepted = mail[0] == 250 and rcpt[0] in (250, 251)
        if data[0] == 354 and not (accepted and ours):
            self._drop()  # a message begun: only closing the connection abandons it
        if mail[0] != 250:
            self._envelope_refused(*mail, f"refused the sender {message.sender}")
        if rcpt[0] not in (250, 251):
            self._envelope_refused(*rcpt, "recipient refused:")
        if not ours:
            if data[0] != 354:
                self._reset()
            return None
        if data[0] != 354:
            raise smtplib.SMTPDataError(*data)
        conn.send(dot_stuffed(message.data))
        if meanwhile is not None:
            meanwhile()
        return conn.getreply()

    def _before_data(self, before_data: BeforeData) -> bool:
        """The caller's claim, and its answer; when either fails the connection is closed
        first, so the next message never starts inside this one's open transaction."""
        return self._claimed(self._claim(before_data))

    def _claim(self, before_data: BeforeData) -> Claimed:
        try:
            return before_data()
        except BaseException:
            self._drop()
            raise

    def _claimed(self, answer: Claimed) -> bool:
        try:
            return claim_answer(answer)
        except BaseException:
            self._drop()
            raise

    def _envelope_refused(self, code: int, text: bytes, what: str) -> None:
        """MAIL or RCPT refused: a session code ends the session (SessionError), a refused
        sender is the relay's policy for every message (SessionError), a refused recipient
        concerns this message only (TransportError)."""
        reply = f"{code} {_text(text)}"
        if code in SESSION_CODES or code < 200 or what.startswith("refused the sender"):
            self._drop()
            raise SessionError(f"{self.config.display} {what} {reply}".strip(), code=code)
        self._reset()
        raise TransportError(f"{what} {reply}", permanent=500 <= code < 600, code=code)

    def _reset(self) -> None:
        """RSET after a refused transaction, so the connection can carry the next one."""
        try:
            assert self._conn is not None
            self._conn.rset()
        except (OSError, smtplib.SMTPException, AssertionError):
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            finally:
                self._drop()


# A plain addr-spec (what digest's addresses and VERP senders are): quoted as "<addr>",
# which is what smtplib.quoteaddr gives it, without parsing it with the email package's
# address parser (about 0.1 ms for the two addresses of a message).
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")


def quoted_address(address: str) -> str:
    """``smtplib.quoteaddr(address)``, at once for a plain ASCII address."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


def _data(conn: smtplib.SMTP, data: bytes, meanwhile: Meanwhile | None = None) -> tuple[int, bytes]:
    """``SMTP.data`` for a message that already has CRLF line endings, with the same
    dot-stuffing (a line that starts with "." gets another) done by ``bytes.replace``
    instead of smtplib's multi-line regular expression (about 0.2 ms of CPU for a 55 kB
    digest, most of what sending one cost the client)."""
    code, reply = conn.docmd("data")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    conn.send(dot_stuffed(data))
    if meanwhile is not None:
        meanwhile()
    return conn.getreply()


_LINE_DOT = re.compile(rb"\n\.")


def dot_stuffed(data: bytes) -> bytes:
    """The DATA payload: every line starting with "." doubled (RFC 5321 4.5.2, what
    smtplib's ``re.sub(br'(?m)^\\.', b'..', data)`` does), CRLF-terminated, then ".\\r\\n".
    A digest rarely has such a line: looking for one first (a regular expression's search,
    half the time of ``bytes.replace``'s scan of 55 kB) spares the replace's own scan."""
    stuffed = data.replace(b"\n.", b"\n..") if _LINE_DOT.search(data) else data
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


def _why(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def transport_from_settings(settings: Settings) -> Transport:
    if settings.smtp is not None:
        return SmtpTransport(settings.smtp, local_hostname=settings.from_domain)
    return OutboxTransport(settings.outbox_dir)


@functools.lru_cache(maxsize=8)
def relay_offers_smtputf8(config: SmtpConfig) -> bool:
    """Whether the relay announces SMTPUTF8 (asked once per process)."""
    transport = SmtpTransport(config)
    try:
        transport.open()
        assert transport._conn is not None
        transport._conn.ehlo_or_helo_if_needed()
        return bool(transport._conn.has_extn("smtputf8"))
    except (SessionError, OSError, smtplib.SMTPException) as exc:
        raise ConfigError(
            f"DIGEST_SMTP_URL: cannot ask {config.display} whether it takes non-ASCII "
            f"addresses: {exc}"
        ) from None
    finally:
        transport.close()


def undeliverable_address(settings: Settings, email: str) -> str | None:
    """Why the configured relay could never take this address, or None: a non-ASCII
    local part (``jörg@``) needs SMTPUTF8 (RFC 6531), and a domain can be sent as IDNA
    but a local part cannot. Refused at ``subscribers add``/``import`` rather than
    failing at every edition."""
    local = email.rpartition("@")[0]
    if local.isascii() or settings.smtp is None or relay_offers_smtputf8(settings.smtp):
        return None
    return (
        f"{email}: its non-ASCII local part needs SMTPUTF8, which {settings.smtp.display} "
        "does not offer, so no digest could reach it"
    )


def check_smtp(config: SmtpConfig) -> None:
    """Connect and say hello, so a wrong DIGEST_SMTP_URL fails before any row is claimed."""
    transport = SmtpTransport(config)
    try:
        transport.open()
        assert transport._conn is not None
        transport._conn.noop()
    except TransportError as exc:
        raise ConfigError(str(exc)) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise ConfigError(
            f"DIGEST_SMTP_URL: {config.display} does not answer: {_why(exc)}"
        ) from None
    finally:
        transport.close()
