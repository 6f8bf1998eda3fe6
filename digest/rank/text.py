"""Text helpers shared by the ranking signals: analysis, keyword matching, name keys."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from itertools import pairwise

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

TOKEN = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | {"paper", "propose", "proposed", "using", "based"}
MAX_QUERY_CHARS = 2000


def fold(text: str) -> str:
    """Lower-case and strip accents, so 'Schrödinger' matches 'schrodinger'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens(text: str) -> list[str]:
    """Content words of ``text``: folded, stop words and one-letter tokens removed."""
    return [t for t in TOKEN.findall(fold(text)) if len(t) > 1 and t not in STOP_WORDS]


def analyze(text: str) -> list[str]:
    """Unigrams plus adjacent bigrams, so a phrase like 'graph neural' scores as a phrase."""
    words = tokens(text)
    return words + [f"{a} {b}" for a, b in pairwise(words)]


def keyword_pattern(keywords: Iterable[str]) -> re.Pattern[str] | None:
    """One regex matching any keyword as whole words (phrases allowed), on folded text."""
    parts = [re.escape(fold(k).strip()) for k in keywords if k.strip()]
    if not parts:
        return None
    parts = [p.replace(r"\ ", r"[\s\-]+") for p in parts]
    return re.compile(r"(?<!\w)(?:" + "|".join(sorted(parts, key=len, reverse=True)) + r")(?!\w)")


def author_key(name: str) -> str:
    """A comparable key for an author name: folded, punctuation-free, 'first last'."""
    name = fold(name)
    if "," in name:  # 'Doe, Jane' -> 'jane doe'
        last, _, first = name.partition(",")
        name = f"{first} {last}"
    return " ".join(re.findall(r"\w+", name))
