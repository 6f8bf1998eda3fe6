"""Text helpers shared by the ranking signals: analysis, keyword matching, name keys.

Analysis folds case and accents, drops stop words, stems (Snowball English, so 'images'
meets 'image'; snowballstemmer runs PyStemmer's C code) and adds adjacent bigrams, so a
phrase such as 'pattern recognition' scores as a phrase and not only as two loose words.
Stems are cached: a batch analyses the same words many times.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from itertools import pairwise

import snowballstemmer

from digest.rank.stop_words import ENGLISH_STOP_WORDS

TOKEN = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)
WORD = re.compile(r"\w+", re.UNICODE)
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | {"paper", "propose", "proposed", "using", "based"}
MAX_QUERY_CHARS = 2000
# An acronym's plural ("LLMs", "GPUs", "ViTs"), which the stemmer leaves apart from "LLM".
_PLURAL_ACRONYM = re.compile(r"\b([A-Z][A-Za-z0-9]*[A-Z0-9])s\b")
_STEMMER = snowballstemmer.stemmer("english")


def fold(text: str) -> str:
    """Lower-case and strip accents, so 'Schrödinger' matches 'schrodinger'."""
    if text.isascii():  # the common case, and 50x faster than decomposing
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    # Only plain ASCII words are stemmed: the English stemmer would mangle other scripts.
    return _STEMMER.stemWord(word) if word.isascii() else word


def tokens(text: str) -> list[str]:
    """Content words of ``text``: folded, stop words and one-letter tokens removed, stemmed
    (an acronym's plural as the acronym)."""
    text = _PLURAL_ACRONYM.sub(r"\1", text)
    return [stem(t) for t in TOKEN.findall(fold(text)) if len(t) > 1 and t not in STOP_WORDS]


def analyze(text: str) -> list[str]:
    """Stemmed unigrams plus adjacent bigrams (phrases)."""
    words = tokens(text)
    return words + [f"{a} {b}" for a, b in pairwise(words)]


def words(text: str) -> list[str]:
    """Raw folded word tokens (no stemming, no stop-word removal): for keyword filters."""
    return WORD.findall(fold(text))


_PLURAL_SUFFIXES = ("s", "es")  # a keyword's last word also matches with these


def plurals(word: str) -> tuple[str, ...]:
    """A folded word and the plurals a keyword pattern also matches (see keyword_pattern)."""
    return (word, *(word + suffix for suffix in _PLURAL_SUFFIXES))


def keyword_pattern(keywords: Iterable[str]) -> re.Pattern[str] | None:
    """One regex matching any keyword as whole words (phrases allowed), on folded text; a
    keyword's last word also in its plural, so excluding 'LLM' excludes "LLMs" and requiring
    'replay buffer' finds "replay buffers" (but 'buffer' never finds "buffering")."""
    parts = [re.escape(fold(k).strip()) for k in keywords if k.strip()]
    if not parts:
        return None
    # Words apart by spaces or hyphens alike: 'replay-buffer' = 'replay buffer'.
    parts = [re.sub(r"(?:\\[ -])+", r"[\\s\\-]+", p) for p in parts]
    plural = "(?:" + "|".join(_PLURAL_SUFFIXES) + ")?"
    parts = [p + (plural if p[-1].isalnum() else "") for p in parts]
    return re.compile(r"(?<!\w)(?:" + "|".join(sorted(parts, key=len, reverse=True)) + r")(?!\w)")


@lru_cache(maxsize=200_000)  # a chunk compares the same names many times
def author_key(name: str) -> str:
    """A comparable key for an author name: folded, punctuation-free, 'first last'."""
    name = fold(name)
    if "," in name:  # 'Doe, Jane' -> 'jane doe'
        last, _, first = name.partition(",")
        name = f"{first} {last}"
    return " ".join(re.findall(r"\w+", name))


@lru_cache(maxsize=100_000)
def short(text: str, limit: int = 48) -> str:
    """One line of at most ``limit`` characters, cut with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# A code repository or project page linked from an abstract or comment names its owner,
# and the papers of one group share it: github.com/OWNER/..., gitlab.com/OWNER,
# huggingface.co/OWNER (past its datasets/, spaces/ ... folders) or OWNER.github.io.
# (Other hosts, such as a lab's own site, were tried and added nothing: docs/ranking.md.)
_CODE_LINK = re.compile(
    r"(?<![\w.-])(?:www\.)?(github\.com|gitlab\.com|huggingface\.co|hf\.co|bitbucket\.org)"
    r"/([\w.-]+)(?:/([\w.-]+))?"
    r"|(?:(?<=//)|(?<![\w./-]))([a-z0-9][a-z0-9-]*)\.github\.io(?![\w-])",
    re.IGNORECASE,
)  # each alternative starts at a word boundary: linear time on any text
_HOST_HINTS = ("github", "gitlab", "huggingface", "hf.co", "bitbucket")
_HUB_FOLDERS = frozenset({"datasets", "spaces", "models", "collections", "papers", "docs"})


def code_owners(*texts: str | None) -> frozenset[str]:
    """Owners of the code repositories and project pages these texts link to."""
    found = set()
    for text in texts:
        if not text or not any(hint in text.lower() for hint in _HOST_HINTS):
            continue  # most abstracts: skip the regex
        for host, first, second, page in _CODE_LINK.findall(text):
            if page:
                found.add(f"{page.lower()}.github.io")
                continue
            owner = second if first.lower() in _HUB_FOLDERS else first
            owner = owner.lower().rstrip(".")
            if owner:
                found.add(f"{host.lower()}/{owner}")
    return frozenset(found)
