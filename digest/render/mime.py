"""Fast MIME assembly: a multipart/alternative message as bytes, built without ``email``.

Building and serializing an ``EmailMessage`` costs milliseconds, ten times the template
render, and almost all of it is the same work for every reader: folding the same headers,
quoted-printable encoding the same template markup. Here the message is joined from
pieces instead:

* headers that are the same for every message of a sender are encoded once
  (:class:`MimeWriter`), subjects once per distinct subject;
* bodies are quoted-printable encoded by :class:`digest.render.qp.QPEncoder`: what every
  reader shares (template markup, paper cards) once per edition and per reader only the
  values that differ (names, links), each on physical lines of its own; see
  :mod:`digest.render.qp` and :mod:`digest.render.splice`.

The result parses back (``email`` with the default policy) to the same headers and body
text as :func:`digest.render.message.build_message`, the straightforward ``email`` path,
which the tests and ``benchmarks/render.py`` check (the bytes differ: soft line breaks
fall elsewhere). Every line ends in CRLF and is at
most 76 octets in the bodies, 998 in the headers.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from digest.render import headers as h
from digest.render.qp import QPEncoder

__all__ = ["ONE_CLICK", "EncodableBody", "MimeWriter", "QPEncoder", "Sender"]

ONE_CLICK = "List-Unsubscribe=One-Click"


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
        self._last_date: tuple[object, bytes] = (None, b"")
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

    def _date(self, date: datetime) -> bytes:
        """The Date header; the last one is kept (a batch sends many in the same second)."""
        key = (date.replace(microsecond=0), date.utcoffset())
        if self._last_date[0] != key:
            self._last_date = (key, f"Date: {h.format_datetime(date)}\r\n".encode("ascii"))
        return self._last_date[1]

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
        text: str | EncodableBody,
        html: str | EncodableBody,
        unsubscribe_url: str | None = None,
        unsubscribe_mailto_token: str | None = None,
        campaign: str = "",
        kind: str = "digest",
        boundary: str | None = None,
        qp: QPEncoder | None = None,
    ) -> bytes:
        """The whole message, CRLF line endings, ready for SMTP (and for DKIM signing).

        ``qp``: the encoder to use (a prepared edition has its own); the writer's otherwise.
        """
        qp = qp or self.qp
        boundary = boundary or "=_" + secrets.token_hex(12)
        head = [
            self._from,
            h.address("To", to_name, to_address).encode("utf-8"),
            self._subject(subject),
            self._date(date),
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
        out = [*head, delimiter, self._plain_head]
        _encode_body(text, qp, out)
        out += [b"\r\n", delimiter, self._html_head]  # the CRLF belongs to the delimiter
        _encode_body(html, qp, out)
        out.append(b"\r\n--" + boundary.encode("ascii") + b"--\r\n")
        return b"".join(out)


def _encode_body(body: str | EncodableBody, qp: QPEncoder, out: list[bytes]) -> None:
    if isinstance(body, str):
        out.append(qp.encode(body))
    elif hasattr(body, "encode_into"):  # appends its pieces: the message is joined once
        body.encode_into(qp, out)
    else:
        out.append(body.encode(qp))


def _feedback_part(value: str) -> str:
    """One colon-separated field of Feedback-ID: letters, digits, ``.``, ``_`` and ``-`` only."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "-" for c in value)
