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


def _is_url(word: str) -> bool:
    return word.startswith(("https://", "http://", "mailto:")) or (
        "@" in word and "." in word.rpartition("@")[2]
    )


def wrap(
    text: str, width: int = 72, indent: str = "", first: str | None = None, used: int = 0
) -> str:
    """``text`` in lines of at most ``width`` columns, joined by ``\n``.

    The first line starts with ``first`` (default ``indent``) after ``used`` columns that
    the caller has already written; the others start with ``indent``. A word too long for
    a line is cut between characters, except a URL or an address, which gets a line of
    its own however long (a link must stay whole to work).
    """
    lines: list[str] = []
    line = indent if first is None else first
    start = len(line)  # where the words of this line start
    room = width - used
    filled = columns(line)
    for word in text.split():
        size = columns(word)
        gap = 1 if len(line) > start else 0
        if filled + gap + size <= room:
            line += " " * gap + word
            filled += gap + size
            continue
        if len(line) > start:  # the line has words: start a new one
            lines.append(line)
            line, start, room = indent, len(indent), width
            filled = columns(indent)
        if filled + size <= room:
            line += word
            filled += size
        elif _is_url(word):  # alone on its line, whole
            lines.append(line + word)
            line, start, filled = indent, len(indent), columns(indent)
        else:  # cut between characters
            while filled + columns(word) > room:
                end = max(_cut_at(word, room - filled), 1)
                lines.append(line + word[:end])
                word = word[end:]
                line, start, filled = indent, len(indent), columns(indent)
            line += word
            filled += columns(word)
    if len(line) > start or not lines:
        lines.append(line)
    return "\n".join(lines)
