"""Subject lines and preheaders: the first title quoted, the rest named. Pure functions.

The subject template (``digest.subject.j2``) chooses the words; :func:`headline` fits them
in :data:`SUBJECT_LIMIT` characters, which a phone shows whole: it keeps the most telling
ending that leaves the title room, then cuts the title at a word boundary with an ellipsis.
A right-to-left title is isolated (U+2068 … U+2069), so the words around it keep their
order.
"""

from __future__ import annotations

import functools
import unicodedata

from digest.render.layout import shorten

SUBJECT_LIMIT = 70
MIN_TITLE = 24  # an ending that leaves the title less than this gives way to a shorter one
PREHEADER_LIMIT = 140
FSI, PDI = "\u2068", "\u2069"


@functools.lru_cache(maxsize=4096)
def _has_rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(c) in ("R", "AL") for c in text)


@functools.lru_cache(maxsize=8192)
def headline(title: str, *endings: str, limit: int = SUBJECT_LIMIT) -> str:
    """``“title”`` and an ending, in at most ``limit`` characters.

    ``endings`` go from the most to the least informative: the first that leaves the
    title :data:`MIN_TITLE` characters (or all of it) is used, else the last (or none,
    when even the last leaves no room).
    """
    title = " ".join(title.split())
    isolate = _has_rtl(title)
    frame = 4 if isolate else 2  # the quotes, and the isolates
    for ending in endings:
        if limit - frame - len(ending) >= min(MIN_TITLE, len(title)):
            break
    else:
        ending = endings[-1] if endings and limit - frame - len(endings[-1]) >= 12 else ""
    shown = shorten(title, limit - frame - len(ending), by_columns=False)
    if isolate:
        shown = f"{FSI}{shown}{PDI}"
    return f"“{shown}”{ending}"


def _shorten_chars(text: str, limit: int) -> str:
    return shorten(text, limit, by_columns=False)  # a subject's limit counts characters


@functools.lru_cache(maxsize=8192)
def preheader(titles: tuple[str, ...], limit: int = PREHEADER_LIMIT) -> str:
    """The titles after the first, "Also: A · B · C", shortened to ``limit`` characters
    (titles come cleaned: one line, single spaces)."""
    if not titles:
        return ""
    text = "Also: " + titles[0]
    for title in titles[1:]:
        if len(text) > limit:
            break
        text += " · " + title
    return text if len(text) <= limit else _shorten_chars(text[: limit + 1], limit)
