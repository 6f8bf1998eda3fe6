"""Signed links that go into every email and page: unsubscribe, preferences, feedback, view,
confirm, and the CSRF tokens of the site's forms.

A token is ``base64url(json payload) "." base64url(HMAC-SHA256(purpose key, payload))[:16 bytes]``.
The payload names the reader by their *link id* (``subscribers.link_id``: 128 random bits),
never by the row id or the address, so a token says nothing readable about who it belongs
to, and replacing the link id revokes every link the reader was ever sent. Each purpose
has its own key (derived from the secret key and the purpose), so an unsubscribe token
cannot be replayed as a preferences, confirm or delete token. Confirmation and form tokens
carry their issue time and expire.

Signing is on the hot path of sending (about a dozen tokens per email), so each purpose
key's HMAC state is made once and copied per token (``hmac.new(...).copy()``, public API),
and a token costs that and two base64 calls. Feedback links carry one token per (reader,
paper); the vote (``up``/``down``) is a path segment outside the signature: either vote is
the reader's own choice, so signing it adds nothing.

**Short feedback links.** A digest has two feedback links per paper, and in the text part
each must fit a line of 78 columns. The long form above (link id and paper id in JSON, a
16-byte tag) makes them about 105 characters, so an email that comes from a ledger row
(every digest sent, and its web page) carries short ones instead::

    https://digest.example.org/f/ANAS1oeMtULBVvrxeA/up        (50 characters; 52 with /down)

The token is 15 to 24 base64url characters (no ``.``: that is how the site tells the two
forms apart) of ``position (1 byte) | hint (1 byte) | delivery id (big-endian, 1-8 bytes,
no leading zero) | tag (8 bytes)``. It *refers* to the paper as its position in the picks
of the delivery (the ledger row that mailed it) instead of carrying the link id (16
bytes) and the paper id. The tag is HMAC-SHA256 under the feedback key over ``"s1:"
delivery id ":" link id ":" position ":" paper id`` (link id and paper id in JSON, as in
the long form; the part before the position is absorbed once per reader and its HMAC
state copied per paper), so it still binds the reader's *current* link id and the paper:
the site loads the delivery, its reader and ``picks[position]``, recomputes the tag and
compares it in constant time. Replacing the link id therefore revokes short links as it revokes
long ones, and deleting the reader deletes their deliveries (the page says the link no
longer works). The hint is the first byte of HMAC(feedback key, ``"s1-link:" link id``):
it only lets the site tell a link whose tag fails because the reader's links were
replaced (hint of another link id: "this link no longer works", as for long links) from
a tampered one (hint of the current link id: "this link is not valid"); a valid token
needs both to match. (One replaced link id in 256 shares the old one's hint: that
reader's old links then say "not valid" instead; both refuse.) The ``s1`` prefixes keep
these MAC inputs apart from the long form's (base64url text, which has no ``:``).

Why a delivery reference rather than a compact binary link id: the link id is 16 bytes
(22 base64 characters) by itself; with a paper id (5 bytes for a packed arXiv id, any
length for a DOI) and a 64-bit tag the URL would be over 70 characters, and DOIs would
still need the long form.
The delivery id names no person (it is already in every digest's envelope sender, the
VERP bounce address) and it costs one primary-key lookup, which the long form spends
finding the reader by link id anyway. What it costs: a short link lives as long as its
ledger row, so links in digests older than ``DIGEST_LEDGER_RETENTION_DAYS`` (400 days)
say that they no longer work. An email rendered without a ledger row (``digest preview``)
keeps the long form, and so does a paper past position 255 (never, with at most 100).

Why a 64-bit tag is enough: it is checked online only, one HTTP request and one database
read per guess, and a forged vote gains the forger nothing but a nudge to someone else's
ranking, which that reader can see and undo. Guessing a tag for a given (delivery,
position) takes 2^63 requests on average: at a million requests per second, some 290,000
years. The other tokens (unsubscribe, delete, preferences) keep their 128-bit tags. Old
long feedback links, already in readers' mailboxes, verify as before.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from digest.errors import InputError

PURPOSES = ("unsubscribe", "preferences", "feedback", "view", "confirm", "csrf")
VOTES = ("up", "down")
CONFIRM_MAX_AGE = 7 * 24 * 3600  # the default lifetime; the site uses settings.confirm_max_age
_MAC_BYTES = 16  # 128-bit tag
_SHORT_MAC_BYTES = 8  # 64-bit tag of a short feedback token (see the module docstring)
_SHORT_MAX_POSITION = 255  # one byte

FeedbackUrl = Callable[[str, str], str]  # (paper_id, "up"|"down") -> URL
LinkKey = str | int  # a reader's link id (ints only in tests and benchmarks)


class LinkError(InputError):
    """A link that is tampered, malformed, of another purpose, or expired."""


class ExpiredLink(LinkError):
    """A well-signed link past its age: ``payload`` still says whose it was."""

    def __init__(self, message: str, payload: object):
        super().__init__(message)
        self.payload = payload


_URLSAFE = bytes.maketrans(b"+/", b"-_")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,4096}\.[A-Za-z0-9_-]{22}")
_SHORT_TOKEN = re.compile(r"[A-Za-z0-9_-]{15,24}")  # 11 to 18 bytes


@dataclass(frozen=True, slots=True)
class FeedbackRef:
    """What a short feedback token says: a delivery (ledger row), the position of the
    paper in its picks, and the tag to check once the database names reader and paper."""

    delivery_id: int
    position: int
    hint: int
    tag: bytes


def _b64(data: bytes) -> bytes:
    """base64url without padding (``base64.urlsafe_b64encode``, minus its Python layers)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json(value: object) -> bytes:
    if type(value) is int:  # the common case of tests, without json
        return b"%d" % value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class _Mac:
    """HMAC-SHA256 with one key, its keyed state made once and copied per message."""

    __slots__ = ("_state",)

    def __init__(self, key: bytes):
        self._state = hmac.new(key, digestmod=hashlib.sha256)

    def digest(self, message: bytes) -> bytes:
        mac = self._state.copy()
        mac.update(message)
        return mac.digest()

    def after(self, prefix: bytes) -> _Mac:
        """The same key with ``prefix`` already absorbed: ``after(a).digest(b)`` is
        ``digest(a + b)``, for messages that share a beginning (one reader's links)."""
        mac = _Mac.__new__(_Mac)
        mac._state = self._state.copy()
        mac._state.update(prefix)
        return mac


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
        return self._sign(self._macs[purpose], _json(payload))

    def verify(self, purpose: str, token: str) -> object:
        """The payload of a valid token; LinkError for a tampered or malformed one."""
        mac = self._macs.get(purpose)
        if mac is None:
            raise LinkError(f"unknown link purpose {purpose!r}")
        if not _TOKEN.fullmatch(token):  # base64 decoding would skip stray characters
            raise LinkError(f"invalid or tampered {purpose} link")
        body, _, tag = token.partition(".")
        try:
            expected = mac.digest(body.encode("ascii"))[:_MAC_BYTES]
            if not hmac.compare_digest(expected, _unb64(tag)):
                raise ValueError
            return json.loads(_unb64(body))
        except (ValueError, UnicodeError, binascii.Error):
            raise LinkError(f"invalid or tampered {purpose} link") from None

    def verify_timed(
        self, purpose: str, token: str, *, max_age: float, now: float | None = None
    ) -> list[object]:
        """A token whose payload ends with its issue time: the payload without that time.

        ExpiredLink (carrying the payload) when it is older than ``max_age`` seconds.
        """
        payload = self.verify(purpose, token)
        if not (isinstance(payload, list) and payload and isinstance(payload[-1], int)):
            raise LinkError(f"invalid or tampered {purpose} link")
        age = (time.time() if now is None else now) - payload[-1]
        if age > max_age or age < -300:  # five minutes of clock skew between servers
            raise ExpiredLink(f"this {purpose} link has expired", payload[:-1])
        return payload[:-1]

    # -- links --------------------------------------------------------------------------
    def for_recipient(self, link_id: LinkKey, edition_key: str) -> RecipientLinks:
        ident = _json(link_id)
        macs = self._macs
        unsubscribe = self._sign(macs["unsubscribe"], ident)
        path, key_json = _edition_parts(edition_key)
        view = self._sign(macs["view"], b"[" + ident + b"," + key_json + b"]")
        base = self.base_url
        return RecipientLinks(
            unsubscribe=f"{base}/u/{unsubscribe}",
            preferences=f"{base}/p/{self._sign(macs['preferences'], ident)}",
            view_online=f"{base}/v/{path}/{view}",
            unsubscribe_token=unsubscribe,
        )

    def preferences_url(self, link_id: LinkKey) -> str:
        return f"{self.base_url}/p/{self.token('preferences', link_id)}"

    def unsubscribe_url(self, link_id: LinkKey) -> str:
        return f"{self.base_url}/u/{self.token('unsubscribe', link_id)}"

    def view_url(self, link_id: LinkKey, edition_key: str) -> str:
        path, _ = _edition_parts(edition_key)
        return f"{self.base_url}/v/{path}/{self.token('view', [link_id, edition_key])}"

    def feedback(
        self,
        link_id: LinkKey,
        paper_id: str,
        vote: str,
        *,
        delivery_id: int | None = None,
        papers: Sequence[str] = (),
    ) -> str:
        return self.feedback_links(link_id, delivery_id=delivery_id, papers=papers)(paper_id, vote)

    def feedback_links(
        self, link_id: LinkKey, *, delivery_id: int | None = None, papers: Sequence[str] = ()
    ) -> FeedbackUrl:
        """A fast ``(paper_id, vote) -> URL`` for one reader (the hot path of rendering).

        With ``delivery_id`` (the ledger row of the email) and ``papers`` (the paper ids of
        its picks, in their order), the links of those papers are short; any other paper,
        or no delivery, gets the long form.
        """
        key = self._macs["feedback"]
        ident = _json(link_id)
        prefix = b"[" + ident + b","
        base = self.base_url + "/f/"
        cache = self._paper_json
        sign = self._sign
        tokens: dict[str, str] = {}
        if delivery_id is not None and 0 < delivery_id < 1 << 64:
            ref_id = self._feedback_hint(ident) + delivery_id.to_bytes(
                (delivery_id.bit_length() + 7) // 8, "big"
            )
            reader_mac = key.after(b"s1:%d:%s:" % (delivery_id, ident))
            positions = {paper: n for n, paper in enumerate(papers) if n <= _SHORT_MAX_POSITION}
        else:
            ref_id = b""
            reader_mac = key
            positions = {}

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
                position = positions.get(paper_id)
                if position is None:
                    token = sign(key, prefix + encoded + b"]")
                else:
                    tag = reader_mac.digest(b"%d:%s" % (position, encoded))
                    raw = bytes((position,)) + ref_id + tag[:_SHORT_MAC_BYTES]
                    token = _b64(raw).decode("ascii")
                tokens[paper_id] = token
            return f"{base}{token}/{vote}"

        return url

    def _feedback_hint(self, ident: bytes) -> bytes:
        return self._macs["feedback"].digest(b"s1-link:" + ident)[:1]

    @staticmethod
    def feedback_ref(token: str) -> FeedbackRef:
        """The delivery and position a short feedback token names (its tag not checked
        yet: that needs the reader's link id and the paper, see ``check_feedback``);
        LinkError for anything that is not a well-formed short token."""
        invalid = LinkError("invalid or tampered feedback link")
        if not _SHORT_TOKEN.fullmatch(token):
            raise invalid
        try:
            raw = _unb64(token)
        except (ValueError, binascii.Error):
            raise invalid from None
        # one spelling per token: no stray low bits in the last character, no leading
        # zero byte in the delivery id (nor delivery 0)
        if len(raw) < 3 + _SHORT_MAC_BYTES or _b64(raw) != token.encode("ascii") or not raw[2]:
            raise invalid
        return FeedbackRef(
            int.from_bytes(raw[2:-_SHORT_MAC_BYTES], "big"),
            raw[0],
            raw[1],
            raw[-_SHORT_MAC_BYTES:],
        )

    def check_feedback(self, ref: FeedbackRef, link_id: LinkKey, paper_id: str) -> str:
        """``"valid"`` when ``ref`` is the link this reader (by their current link id) was
        sent for this paper at that position of that delivery; ``"replaced"`` when it was
        made for another link id (their links were replaced since); ``"invalid"``
        otherwise (tampered)."""
        ident = _json(link_id)
        message = b"s1:%d:%s:%d:%s" % (
            ref.delivery_id,
            ident,
            ref.position,
            json.dumps(paper_id, ensure_ascii=False).encode("utf-8"),
        )
        expected = self._macs["feedback"].digest(message)[:_SHORT_MAC_BYTES]
        tag_ok = hmac.compare_digest(expected, ref.tag)
        hint_ok = self._feedback_hint(ident)[0] == ref.hint
        if tag_ok and hint_ok:
            return "valid"
        return "invalid" if hint_ok or tag_ok else "replaced"

    def confirm_url(self, link_id: LinkKey, *, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        return f"{self.base_url}/c/{self.token('confirm', [link_id, issued])}"

    def csrf_token(self, link_id: LinkKey, form: str, *, now: float | None = None) -> str:
        """A form's hidden token: bound to one reader and one form, valid for a day."""
        issued = int(time.time() if now is None else now)
        return self.token("csrf", [link_id, form, issued])

    def check_csrf(
        self, token: str, link_id: LinkKey, form: str, *, now: float | None = None
    ) -> bool:
        try:
            payload = self.verify_timed("csrf", token, max_age=24 * 3600, now=now)
        except LinkError:
            return False
        return payload == [link_id, form]


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
