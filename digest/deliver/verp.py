"""VERP return paths: each message's envelope sender names its delivery. Pure.

A digest goes out with ``MAIL FROM:<bounces+d123-k5t2abcdxq@example.org>`` (and so a
``Return-Path`` of that address at the reader's end) for the bounce mailbox
``bounces@example.org``. A bounce, sent to that address days later, says which ledger
row it is about without any guessing from its text, whatever the reporting MTA wrote.

The token is ``d<delivery id>-<tag>``: the tag is the HMAC-SHA256 of the delivery id under
a key derived for the purpose ``verp`` (the same derivation as the signed links of
``digest.links``), truncated to 50 bits and written in lower-case base32 (``a-z2-7``), so
an MTA that lower-cases local parts does not break it and it needs no quoting. Forging a
bounce for somebody else's delivery would need the secret key; a guessed or altered token
reads as "not ours" (None).
"""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass, field

PURPOSE = "verp"
TAG_CHARS = 10  # 10 base32 characters = 50 bits
_TOKEN = re.compile(rf"\+d([1-9][0-9]{{0,17}})-([a-z2-7]{{{TAG_CHARS}}})@")


def verp_key(secret_key: str) -> bytes:
    """The key of VERP tokens, derived from ``DIGEST_SECRET_KEY`` like every link key."""
    return hmac.digest(secret_key.encode("utf-8"), f"digest.links.{PURPOSE}".encode(), "sha256")


def _tag(key: bytes, delivery_id: int) -> str:
    mac = hmac.digest(key, b"d%d" % delivery_id, "sha256")
    return base64.b32encode(mac[:7]).decode("ascii").lower()[:TAG_CHARS]


def verp_token(key: bytes, delivery_id: int) -> str:
    """``d123-k5t2abcdxq``: the delivery id and its tag."""
    if delivery_id <= 0:
        raise ValueError(f"a delivery id is a positive integer, not {delivery_id!r}")
    return f"d{delivery_id}-{_tag(key, delivery_id)}"


def verp_address(key: bytes, delivery_id: int, mailbox: str) -> str:
    """The envelope sender of one delivery: ``bounces+d123-k5t2abcdxq@example.org``."""
    local, at, domain = mailbox.rpartition("@")
    if not at or not local or not domain or "+" in local:
        raise ValueError(f"expected a bounce mailbox like bounces@example.org, got {mailbox!r}")
    return f"{local}+{verp_token(key, delivery_id)}@{domain}"


def delivery_from_verp(key: bytes, address: str | None, mailbox: str | None = None) -> int | None:
    """The delivery id a VERP address names; None for an address that is not one of ours
    (no token, another mailbox when ``mailbox`` is given, or a tag that does not verify)."""
    if not address or len(address) > 512:
        return None
    text = address.strip().strip("<>").strip().lower()
    found = _TOKEN.search(text)
    if found is None:
        return None
    if mailbox is not None:
        local, _, domain = mailbox.lower().rpartition("@")
        if text[: found.start()] != local or text[found.end() :] != domain:
            return None
    delivery_id = int(found.group(1))
    if not hmac.compare_digest(_tag(key, delivery_id), found.group(2)):
        return None
    return delivery_id


def is_bounce_address(address: str, mailbox: str) -> bool:
    """True for the bounce mailbox itself or any ``local+...@domain`` of it (any case)."""
    text = address.strip().strip("<>").strip().lower()
    local, _, domain = mailbox.lower().rpartition("@")
    got_local, at, got_domain = text.rpartition("@")
    if not at or got_domain != domain:
        return False
    return got_local == local or got_local.startswith(local + "+")


@dataclass(frozen=True, slots=True)
class Verp:
    """The VERP key and the bounce mailbox together: what the sending path holds once."""

    mailbox: str
    key: bytes = field(repr=False)

    @classmethod
    def from_settings(cls, settings: object) -> Verp:
        """From a ``Settings`` (``secret_key`` and ``bounce_mailbox``)."""
        return cls(
            mailbox=settings.bounce_mailbox,  # type: ignore[attr-defined]
            key=verp_key(settings.secret_key),  # type: ignore[attr-defined]
        )

    def address(self, delivery_id: int) -> str:
        """The envelope sender (MAIL FROM) for this delivery's message."""
        return verp_address(self.key, delivery_id, self.mailbox)

    def delivery(self, address: str | None) -> int | None:
        """The delivery id of a VERP address of this mailbox, or None."""
        return delivery_from_verp(self.key, address, self.mailbox)
