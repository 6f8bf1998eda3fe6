"""Fast MIME assembly: a multipart/alternative message as bytes, built without ``email``.

Building and serializing an ``EmailMessage`` costs milliseconds, ten times the template
render, and almost all of it is the same work for every reader: folding the same headers,
quoted-printable encoding the same template markup. Here the message is joined from
pieces instead:

* headers that are the same for every message of a sender are encoded once
  (:class:`MimeWriter`), subjects once per distinct subject;
* bodies are quoted-printable encoded line by line through a cache (:class:`QPEncoder`).
  Quoted-printable is line-local (a hard line break resets it), so encoding a body line
  by line gives exactly the bytes of encoding it whole, and the lines that every reader
  shares (the paper cards of the edition) are encoded once; only the lines that differ
  (names, links) cost anything per reader. The static markup of the HTML template is
  not even split into lines: it arrives as pre-encoded runs (``add_static``, see
  :mod:`digest.render.templates`).

The result parses back (``email`` with the default policy) to the same headers and body
text as :func:`digest.render.message.build_message`, the straightforward ``email`` path,
which the tests and ``benchmarks/render.py`` check. Every line ends in CRLF and is at
most 76 octets in the bodies, 998 in the headers.
"""

from __future__ import annotations

import binascii
import contextlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from digest.render import headers as h

ONE_CLICK = "List-Unsubscribe=One-Click"


class QPEncoder:
    """Quoted-printable body encoding with a cache of encoded lines (bounded, then reset)."""

    def __init__(self, max_lines: int = 20_000):
        self.max_lines = max_lines
        self._cache: dict[str, bytes] = {}
        self._static: dict[str, bytes] = {}  # lines that stay cached (template static runs)

    def add_static(self, lines: dict[str, bytes]) -> None:
        """Lines mapped to their encoding for good (survive the cache reset)."""
        self._static.update(lines)
        self._cache.update(lines)

    def encode(self, text: str, *, cache: bool = True) -> bytes:
        """``text`` (any line endings) as quoted-printable UTF-8 with CRLF line endings."""
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        if not cache:
            return b"".join(_qp_line(line) for line in lines)
        store = self._cache
        if len(store) > self.max_lines:  # start afresh (a new dict: safe for other threads)
            store = self._cache = dict(self._static)
        encoded = list(map(store.get, lines))  # one C-level pass for the usual all-hits case
        try:
            return b"".join(encoded)  # type: ignore[arg-type]
        except TypeError:  # some lines are new: find them without a Python loop over all
            static = self._static
            i = -1
            with contextlib.suppress(ValueError):
                while True:
                    i = encoded.index(None, i + 1)
                    line = lines[i]
                    encoded[i] = store[line] = static.get(line) or _qp_line(line)
            return b"".join(encoded)  # type: ignore[arg-type]


def _qp_line(line: str) -> bytes:
    """One line, quoted-printable, CRLF-terminated: exactly what b2a_qp makes of it."""
    if (
        len(line) <= 75
        and line.isascii()
        and line.isprintable()  # no control characters, no tab
        and "=" not in line
        and line[-1:] != " "
        and line != "."
    ):
        return line.encode("ascii") + b"\r\n"  # nothing to encode (most per-reader lines)
    # The CRLF terminator makes b2a_qp use CRLF for soft line breaks too.
    return binascii.b2a_qp((line + "\r\n").encode("utf-8"), False, True, False)


class EncodableBody(Protocol):
    """A body that knows how to quoted-printable encode itself (pre-encoded static parts)."""

    def encode(self, qp: QPEncoder) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sends, and how the list is identified: the same for every message."""

    from_name: str
    from_address: str
    list_id: str  # e.g. digest.example.org (RFC 2919 list label + domain)
    list_name: str = ""  # a description shown before <list_id>
    unsubscribe_mailto: str | None = None  # address for mailto: unsubscribe, if any
    feedback_id_sender: str = ""  # the last part of Feedback-ID (the sender's stable id)


_PART_HEAD = (
    'Content-Type: text/{subtype}; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
)


class MimeWriter:
    """Assembles digest messages for one sender; reuse it for every message of a process."""

    def __init__(self, sender: Sender, *, qp_cache_lines: int = 20_000):
        self.sender = sender
        self.qp = QPEncoder(qp_cache_lines)
        self._from = h.address("From", sender.from_name, sender.from_address).encode("utf-8")
        list_tokens = [*h.phrase_tokens(sender.list_name), f"<{sender.list_id}>"]
        h.check_token("List-Id", sender.list_id)
        self._list_id = h.fold("List-Id", list_tokens).encode("ascii")
        self._one_click = h.header("List-Unsubscribe-Post", ONE_CLICK).encode("ascii")
        self._subjects: dict[str, bytes] = {}
        self._feedback_ids: dict[str, bytes] = {}
        self._plain_head = _PART_HEAD.format(subtype="plain").encode("ascii")
        self._html_head = _PART_HEAD.format(subtype="html").encode("ascii")
        if sender.unsubscribe_mailto:
            h.check_address(sender.unsubscribe_mailto)

    def _subject(self, subject: str) -> bytes:
        encoded = self._subjects.get(subject)
        if encoded is None:
            if len(self._subjects) > 1000:
                self._subjects.clear()
            encoded = self._subjects[subject] = h.unstructured("Subject", subject).encode("ascii")
        return encoded

    def _feedback_id(self, campaign: str, kind: str) -> bytes:
        key = f"{campaign}:{kind}"
        encoded = self._feedback_ids.get(key)
        if encoded is None:
            parts = [_feedback_part(campaign), _feedback_part(kind)]
            parts.append(_feedback_part(self.sender.feedback_id_sender or self.sender.list_id))
            encoded = h.header("Feedback-ID", ":".join(parts)).encode("ascii")
            self._feedback_ids[key] = encoded
        return encoded

    def list_unsubscribe(self, url: str, mailto_token: str | None = None) -> str:
        """The List-Unsubscribe value: the one-click https URL, then a mailto: if configured."""
        value = f"<{h.check_token('List-Unsubscribe', url)}>"
        if self.sender.unsubscribe_mailto and mailto_token:
            subject = h.check_token("List-Unsubscribe", mailto_token)
            value += f", <mailto:{self.sender.unsubscribe_mailto}?subject=unsubscribe%20{subject}>"
        return value

    def build(
        self,
        *,
        to_name: str | None,
        to_address: str,
        subject: str,
        date: datetime,
        message_id: str,
        text: str,
        html: str | EncodableBody,
        unsubscribe_url: str | None = None,
        unsubscribe_mailto_token: str | None = None,
        campaign: str = "",
        kind: str = "digest",
        boundary: str | None = None,
    ) -> bytes:
        """The whole message, CRLF line endings, ready for SMTP (and for DKIM signing)."""
        boundary = boundary or "=_" + secrets.token_hex(12)
        head = [
            self._from,
            h.address("To", to_name, to_address).encode("utf-8"),
            self._subject(subject),
            f"Date: {h.format_datetime(date)}\r\n".encode("ascii"),
            h.header("Message-ID", message_id).encode("ascii"),
        ]
        if unsubscribe_url:
            value = self.list_unsubscribe(unsubscribe_url, unsubscribe_mailto_token)
            head += [
                self._list_id,
                h.fold("List-Unsubscribe", value.split(" ")).encode("ascii"),
                self._one_click,
            ]
        if campaign:
            head.append(self._feedback_id(campaign, kind))
        head.append(
            b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary="'
            + boundary.encode("ascii")
            + b'"\r\n\r\n'
        )
        delimiter = b"--" + boundary.encode("ascii") + b"\r\n"
        return b"".join(
            [
                *head,
                delimiter,
                self._plain_head,
                self.qp.encode(text),
                b"\r\n",  # the CRLF before a delimiter belongs to the delimiter
                delimiter,
                self._html_head,
                html.encode(self.qp) if not isinstance(html, str) else self.qp.encode(html),
                b"\r\n--" + boundary.encode("ascii") + b"--\r\n",
            ]
        )


def _feedback_part(value: str) -> str:
    """One colon-separated field of Feedback-ID: letters, digits, ``.``, ``_`` and ``-`` only."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "-" for c in value)
