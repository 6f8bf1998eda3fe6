"""Signed links that go into every email: unsubscribe, preferences, feedback, web view, confirm.

A token is ``base64url(json payload) "." base64url(HMAC-SHA256(purpose key, payload))[:16 bytes]``.
The web site can trust it without looking the token up, and a tampered token fails
verification. Each purpose has its own key (derived from the secret key and the purpose),
so an unsubscribe token cannot be replayed as a preferences token.

Signing is on the hot path of sending (about a dozen tokens per email), so the purpose
keys are derived once, with the HMAC pads already hashed (:class:`_Mac`: HMAC-SHA256 from
two copied SHA-256 states, a third of the cost of ``hmac.digest`` for short messages),
and a token costs that and two base64 calls. Feedback links
carry one token per (reader, paper); the vote (``up``/``down``) is a path segment outside
the signature: either vote is the reader's own choice, so signing it adds nothing.
Confirmation tokens carry their issue time and expire.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from digest.errors import InputError

PURPOSES = ("unsubscribe", "preferences", "feedback", "view", "confirm")
VOTES = ("up", "down")
_MAC_BYTES = 16  # 128-bit tag

FeedbackUrl = Callable[[str, str], str]  # (paper_id, "up"|"down") -> URL


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> bytes:
    """base64url without padding (``base64.urlsafe_b64encode``, minus its Python layers)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Mac:
    """HMAC-SHA256 with one key: the inner and outer pads hashed once (RFC 2104)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes):
        if len(key) > 64:  # SHA-256's block size
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(key.translate(hmac.trans_36))
        self._outer = hashlib.sha256(key.translate(hmac.trans_5C))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


class LinkSigner:
    def __init__(self, secret_key: str, base_url: str):
        self.base_url = base_url.rstrip("/")
        secret = secret_key.encode("utf-8")
        self._keys = {
            purpose: hmac.digest(secret, f"digest.links.{purpose}".encode(), "sha256")
            for purpose in PURPOSES
        }
        self._macs = {purpose: _Mac(key) for purpose, key in self._keys.items()}
        self._paper_json: dict[str, bytes] = {}

    # -- tokens -------------------------------------------------------------------------
    @staticmethod
    def _sign(mac: _Mac, payload: bytes) -> str:
        body = _b64(payload)
        tag = _b64(mac.digest(body)[:_MAC_BYTES])
        return (body + b"." + tag).decode("ascii")

    def token(self, purpose: str, payload: object) -> str:
        if type(payload) is int:  # the common case, without json
            data = b"%d" % payload
        else:
            data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return self._sign(self._macs[purpose], data)

    def verify(self, purpose: str, token: str, *, max_age: float | None = None) -> object:
        """The payload of a valid token; InputError for a tampered, malformed or expired one."""
        key = self._keys.get(purpose)
        if key is None:
            raise InputError(f"unknown link purpose {purpose!r}")
        body, _, tag = token.partition(".")
        try:
            expected = hmac.digest(key, body.encode("ascii"), "sha256")[:_MAC_BYTES]
            if not hmac.compare_digest(expected, _unb64(tag)):
                raise ValueError
            payload = json.loads(_unb64(body))
        except (ValueError, UnicodeError, binascii.Error):
            raise InputError(f"invalid or tampered {purpose} link") from None
        if purpose == "confirm":
            if not (isinstance(payload, list) and len(payload) == 2):
                raise InputError("invalid or tampered confirm link")
            if max_age is not None and time.time() - float(payload[1]) > max_age:
                raise InputError("this confirmation link has expired; please subscribe again")
            return payload[0]
        return payload

    # -- links --------------------------------------------------------------------------
    def for_recipient(self, subscriber_id: int, edition_key: str) -> RecipientLinks:
        sid = int(subscriber_id)
        number = b"%d" % sid
        macs = self._macs
        unsubscribe = self._sign(macs["unsubscribe"], number)
        path, key_json = _edition_parts(edition_key)
        view = self._sign(macs["view"], b"[" + number + b"," + key_json + b"]")
        base = self.base_url
        return RecipientLinks(
            unsubscribe=f"{base}/u/{unsubscribe}",
            preferences=f"{base}/p/{self._sign(macs['preferences'], number)}",
            view_online=f"{base}/v/{path}/{view}",
            unsubscribe_token=unsubscribe,
        )

    def feedback(self, subscriber_id: int, paper_id: str, vote: str) -> str:
        return self.feedback_links(subscriber_id)(paper_id, vote)

    def feedback_links(self, subscriber_id: int) -> FeedbackUrl:
        """A fast ``(paper_id, vote) -> URL`` for one reader (the hot path of rendering)."""
        key = self._macs["feedback"]
        prefix = b"[%d," % int(subscriber_id)
        base = self.base_url + "/f/"
        cache = self._paper_json
        sign = self._sign
        tokens: dict[str, str] = {}

        def url(paper_id: str, vote: str) -> str:
            if vote not in VOTES:
                raise ValueError(f"vote must be 'up' or 'down', not {vote!r}")
            token = tokens.get(paper_id)
            if token is None:
                encoded = cache.get(paper_id)
                if encoded is None:
                    if len(cache) > 100_000:
                        cache.clear()
                    encoded = json.dumps(paper_id, ensure_ascii=False).encode("utf-8")
                    cache[paper_id] = encoded
                token = tokens[paper_id] = sign(key, prefix + encoded + b"]")
            return f"{base}{token}/{vote}"

        return url

    def confirm_url(self, subscriber_id: int, *, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        return f"{self.base_url}/c/{self.token('confirm', [int(subscriber_id), issued])}"


@functools.lru_cache(maxsize=64)
def _edition_parts(edition_key: str) -> tuple[str, bytes]:
    """The edition key as a URL path segment, and as JSON (as ``token`` would write it)."""
    return quote(edition_key, safe=""), json.dumps(edition_key, ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class RecipientLinks:
    unsubscribe: str
    preferences: str
    view_online: str
    unsubscribe_token: str = ""  # for the mailto: unsubscribe (in the subject line)
