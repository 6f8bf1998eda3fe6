"""Header encoding for outgoing mail: exact, injection-proof, and fast enough to run per email.

Values from feeds and subscribers reach headers (names in ``To``, titles in ``Subject``), so
every value is cleaned first: control characters dropped, all whitespace (CR and LF
included) collapsed to single spaces. A cleaned value cannot start a new header line.

Non-ASCII text, words that look like RFC 2047 encoded words (``=?...?=``: a reader would
otherwise decode an attacker's text into something else) and very long words are written
as encoded words (RFC 2047, UTF-8, split on character boundaries); everything else stays
readable. Lines are folded at spaces to at most 78 characters where possible (an address
or URL is never split), always within the 998-octet limit.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from email.utils import format_datetime

from digest.errors import InputError

__all__ = [
    "address",
    "check_token",
    "clean",
    "fold",
    "format_datetime",
    "header",
    "phrase_tokens",
    "unstructured",
]

FOLD_AT = 78
HARD_LIMIT = 998
_LONG_WORD = 70
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
_UTF8_LOCAL = re.compile(r"[^\s\"(),.:;<>@\[\\\]]+(?:\.[^\s\"(),.:;<>@\[\\\]]+)*")
_Q_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!*+-/")
# Encoded words of at most 66 characters fit after "Subject: " within 78 columns.
_WORD_ROOM = 66 - len("=?utf-8?b??=")  # characters of payload per encoded word


def clean(value: str) -> str:
    """One line of text: control characters dropped, whitespace (CR/LF too) collapsed."""
    value = " ".join(value.split())
    if _CONTROL.search(value):
        value = " ".join(_CONTROL.sub("", value).split())
    return value


def _needs_encoding(word: str) -> bool:
    return not word.isascii() or "=?" in word or "?=" in word or len(word) > _LONG_WORD


def _chunks(text: str, limit: int, size: Callable[[str], int]) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` (by ``size``), preferably after a space.

    Decoders disagree on the space between two encoded words of a display name (RFC 2047
    drops it, Python's parser shows one), so a cut after a space keeps the words apart for
    every reader; only a single over-long word is cut between characters.
    """
    pieces: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if size(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current + " ")
            current = ""
        for char in word:
            if current and size(current + char) > limit:
                pieces.append(current)
                current = ""
            current += char
    if current:
        pieces.append(current)
    return pieces


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _q_len(text: str) -> int:
    return sum(1 if b in _Q_SAFE or b == 32 else 3 for b in text.encode("utf-8"))


def _b_words(text: str) -> list[str]:
    """``text`` as base64 encoded words, each at most 66 characters, split between characters."""
    limit = _WORD_ROOM // 4 * 3  # bytes that fill whole base64 groups
    return [
        "=?utf-8?b?" + base64.b64encode(piece.encode("utf-8")).decode("ascii") + "?="
        for piece in _chunks(text, limit, _utf8_len)
    ]


def _q_words(text: str) -> list[str]:
    """``text`` as Q encoded words (unstructured headers only), split between characters."""
    words = []
    for piece in _chunks(text, _WORD_ROOM, _q_len):
        data = piece.encode("utf-8")
        encoded = "".join("_" if b == 32 else chr(b) if b in _Q_SAFE else f"={b:02X}" for b in data)
        words.append(f"=?utf-8?q?{encoded}?=")
    return words


def _encoded_words(text: str, *, phrase: bool) -> list[str]:
    b_words = _b_words(text)
    if phrase:
        return b_words
    q_words = _q_words(text)
    return q_words if sum(map(len, q_words)) <= sum(map(len, b_words)) else b_words


def _tokens(value: str, *, phrase: bool) -> list[str]:
    """Space-separated tokens: plain words, and runs of words that must be encoded."""
    tokens: list[str] = []
    run: list[str] = []
    for word in value.split(" "):
        if _needs_encoding(word) or (phrase and not _ATOM_PHRASE.fullmatch(word)):
            run.append(word)
            continue
        if run:
            tokens.extend(_encoded_words(" ".join(run), phrase=phrase))
            run = []
        tokens.append(word)
    if run:
        tokens.extend(_encoded_words(" ".join(run), phrase=phrase))
    return tokens


def fold(name: str, tokens: list[str]) -> str:
    """``Name: tok tok ...`` folded before a token where a line would pass 78 characters."""
    line = name + ":"
    lines: list[str] = []
    for token in tokens:
        if len(line) + 1 + len(token) > FOLD_AT and line != name + ":":
            lines.append(line)
            line = " " + token
        else:
            line += " " + token
    lines.append(line)
    if any(len(part) > HARD_LIMIT for part in lines):
        raise InputError(f"{name} header: a single item is longer than {HARD_LIMIT} characters")
    return "\r\n".join(lines) + "\r\n"


def unstructured(name: str, value: str) -> str:
    """An unstructured header such as ``Subject`` (cleaned, encoded where needed, folded)."""
    value = clean(value)
    return fold(name, _tokens(value, phrase=False) if value else [])


def phrase_tokens(display_name: str) -> list[str]:
    """A display name as header tokens: atoms, one quoted string, or encoded words."""
    name = clean(display_name)
    if not name:
        return []
    if name.isascii() and "=?" not in name and "?=" not in name:
        if _ATOM_PHRASE.fullmatch(name) and max(map(len, name.split(" "))) <= _LONG_WORD:
            return name.split(" ")
        if len(name) <= HARD_LIMIT - 100:
            return ['"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"']
    return _tokens(name, phrase=True)


def check_address(addr: str) -> str:
    """``addr`` if it is a plain addr-spec (ASCII, or UTF-8 local part per RFC 6532)."""
    local, at, domain = addr.rpartition("@")
    if at and _DOMAIN.fullmatch(domain) is None and not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            domain = ""
    ok = bool(at) and _DOMAIN.fullmatch(domain) is not None and len(local) <= 64
    if ok and not (_DOT_ATOM.fullmatch(local) or _UTF8_LOCAL.fullmatch(local)):
        ok = False
    if not ok:
        raise InputError(f"cannot write a header for the address {addr!r}")
    return f"{local}@{domain}"


def address(name: str, display_name: str | None, addr: str) -> str:
    """``Name: display name <addr>`` (the display name encoded as needed)."""
    tokens = phrase_tokens(display_name or "")
    spec = check_address(addr)
    return fold(name, [*tokens, f"<{spec}>"] if tokens else [spec])


def check_token(name: str, value: str) -> str:
    """A structured value we build ourselves (ids, URLs): printable ASCII, no line breaks."""
    if not value.isascii() or not value.isprintable() or len(value) > HARD_LIMIT - 80:
        raise InputError(f"{name} header: invalid value {value!r}")
    return value


def header(name: str, value: str) -> str:
    """A header whose value is already a valid single token (dates, ids, fixed values)."""
    return f"{name}: {check_token(name, value)}\r\n"
