"""The straightforward message build with the ``email`` package: the reference path.

:class:`digest.render.mime.MimeWriter` builds the same message much faster; this module
is what it is checked against (tests, ``benchmarks/render.py``) and what a reader of the
code can trust at a glance. Both take the same arguments.
"""

from __future__ import annotations

import email.policy
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from digest.render.headers import clean
from digest.render.mime import ONE_CLICK, Sender, _feedback_part

SMTP_POLICY = email.policy.SMTP.clone(max_line_length=78)


def build_message(
    sender: Sender,
    *,
    to_name: str | None,
    to_address: str,
    subject: str,
    date: datetime,
    message_id: str,
    text: str,
    html: str,
    unsubscribe_url: str | None = None,
    unsubscribe_mailto_token: str | None = None,
    campaign: str = "",
    kind: str = "digest",
) -> EmailMessage:
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = Address(clean(sender.from_name), addr_spec=sender.from_address)
    msg["To"] = Address(clean(to_name or ""), addr_spec=to_address)
    msg["Subject"] = clean(subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    if unsubscribe_url:
        msg["List-Id"] = f"{clean(sender.list_name)} <{sender.list_id}>".lstrip()
        value = f"<{unsubscribe_url}>"
        if sender.unsubscribe_mailto and unsubscribe_mailto_token:
            value += (
                f", <mailto:{sender.unsubscribe_mailto}"
                f"?subject=unsubscribe%20{unsubscribe_mailto_token}>"
            )
        msg["List-Unsubscribe"] = value
        msg["List-Unsubscribe-Post"] = ONE_CLICK
    if campaign:
        msg["Feedback-ID"] = ":".join(
            _feedback_part(p) for p in (campaign, kind, sender.feedback_id_sender or sender.list_id)
        )
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def serialize(msg: EmailMessage) -> bytes:
    """The message as SMTP wants it: CRLF line endings, lines within 998 octets."""
    return msg.as_bytes(policy=SMTP_POLICY)
