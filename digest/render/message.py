"""MIME message building: multipart/alternative with every header a bulk sender needs.

Header values are checked for line breaks (no header injection); the email package encodes
non-ASCII names and subjects (RFC 2047) and folds long lines. The result is serialized with
CRLF line endings, ready for SMTP.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

SMTP_POLICY = email.policy.SMTP.clone(max_line_length=78)


@dataclass(frozen=True, slots=True)
class Envelope:
    """Everything about a message but its body."""

    from_name: str
    from_address: str
    to_name: str | None
    to_address: str
    subject: str
    date: datetime
    message_id: str
    list_id: str
    list_unsubscribe: str
    list_unsubscribe_mailto: str | None = None


def single_line(value: str) -> str:
    """Collapse all whitespace, including CR and LF, so a value can never start a header."""
    return " ".join(value.split())


def build_message(envelope: Envelope, text: str, html: str) -> EmailMessage:
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = Address(single_line(envelope.from_name), addr_spec=envelope.from_address)
    to_name = single_line(envelope.to_name or "")
    msg["To"] = Address(to_name, addr_spec=envelope.to_address)
    msg["Subject"] = single_line(envelope.subject)
    msg["Date"] = format_datetime(envelope.date)
    msg["Message-ID"] = envelope.message_id
    msg["List-Id"] = f"<{envelope.list_id}>"
    unsubscribe = f"<{envelope.list_unsubscribe}>"
    if envelope.list_unsubscribe_mailto:
        unsubscribe += f", <{envelope.list_unsubscribe_mailto}>"
    msg["List-Unsubscribe"] = unsubscribe
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def serialize(msg: EmailMessage) -> bytes:
    """The message as SMTP wants it: CRLF line endings, lines within 998 octets."""
    return msg.as_bytes(policy=SMTP_POLICY)
