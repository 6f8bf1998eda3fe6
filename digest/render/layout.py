"""Plain-text layout: display columns, shortening at a word boundary. Pure functions.

Columns are what a terminal shows: East Asian wide and fullwidth characters take two,
combining marks and format characters (zero-width joiner, bidi isolates) none.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable

ELLIPSIS = "…"
# Never cut right before one of these: joiners, variation selectors, skin tones.
_JOINERS = frozenset("\u200d\u2060\ufe0e\ufe0f" + "".join(map(chr, range(0x1F3FB, 0x1F400))))


def columns(text: str) -> int:
    """The width of ``text`` on a terminal, in columns."""
    if text.isascii():
        return len(text)
    return sum(_width(c) for c in text)


@functools.lru_cache(maxsize=8192)
def _width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _one(char: str) -> int:
    return 1


def _cut_at(text: str, limit: int, width: Callable[[str], int] = _width) -> int:
    """The largest index ``i`` with ``text[:i]`` within ``limit`` (columns, or characters
    with ``width=_one``) that does not split a character from the marks or joiners that
    follow it."""
    if width is _one or text.isascii():  # a character is a column
        end = min(len(text), max(limit, 0))
    else:
        used = end = 0
        for i, char in enumerate(text):
            used += width(char)
            if used > limit:
                break
            end = i + 1
    while 0 < end < len(text) and (
        text[end] in _JOINERS or unicodedata.combining(text[end]) or text[end - 1] == "\u200d"
    ):
        end -= 1
    return end


def shorten(text: str, limit: int, *, by_columns: bool = True) -> str:
    """``text`` in at most ``limit`` columns (or characters): whole, or cut at the last
    word boundary that fits, with an ellipsis (between characters only when a single word
    is too long)."""
    text = " ".join(text.split())
    if (columns(text) if by_columns else len(text)) <= limit:
        return text
    end = _cut_at(text, limit - 1, _width if by_columns else _one)  # room for the ellipsis
    head = text[:end]
    space = head.rfind(" ")
    if text[end : end + 1] == " ":  # the cut falls right after a whole word
        space = end
    if space > 0:
        head = head[:space]
    return head.rstrip(" ,;:-–—·(") + ELLIPSIS
