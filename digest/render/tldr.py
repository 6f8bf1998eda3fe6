"""A paper's TL;DR: one or two whole sentences that say what the paper does. Pure.

The Hugging Face AI summary when the paper has one; otherwise an extractive choice from
the abstract: the sentence that states the contribution ("we propose...", "this paper
introduces...", "... is proposed"), not the opening background ("Large language models
have shown..."). A sentence is never cut: when no sentence fits ``limit`` the TL;DR is
empty (the card then shows none; the abstract is one tap away).
"""

from __future__ import annotations

import re

LIMIT = 300  # characters: the card's size bound (the size guard)
SHORT = 110  # a chosen sentence shorter than this may take the next one along

# A sentence ends at . ! ? (and closing quotes/brackets after it) followed by space and
# something that can open a sentence. Not after the abbreviations below, one letter
# ("J. Smith", "U.S."), or inside a number ("3.5") or a URL (no space follows).
_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    {
        *("e.g", "i.e", "et", "al", "etc", "vs", "cf", "fig", "figs", "eq", "eqs", "sec"),
        *("no", "resp", "approx", "ca", "ref", "refs", "dr", "prof", "mr", "ms", "st", "jr"),
        *("inc", "ltd", "co", "corp", "tab"),
    }
)
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*$")

_WE = r"(?:we|our\s+(?:work|paper|study|method|approach|framework|model|system))"
_DOC = r"(?:this|the\s+present|our)\s+(?:paper|work|study|article|letter|report|thesis|note)"
_STRONG_VERBS = (
    r"propos\w*|introduc\w*|present\w*|develop\w*|design\w*|devis\w*|describ\w*|buil[dt]\w*|"
    r"construct\w*|formulat\w*|releas\w*|contribut\w*|offer\w*|creat\w*|establish\w*|"
    r"deriv\w*|extend\w*|put\s+forward|bring|launch\w*|unveil\w*|curat\w*|collect\w*"
)
_WEAK_VERBS = (
    r"show\w*|demonstrat\w*|find|found|prove\w*|stud(?:y|ies|ied)|investigat\w*|explor\w*|"
    r"analy[sz]\w*|examin\w*|evaluat\w*|address\w*|tackl\w*|revisit\w*|argu\w*|report\w*|"
    r"benchmark\w*|characteri[sz]\w*|identif\w*|observ\w*|aim\w*|seek\w*|focus\w*|achiev\w*"
)
# How strongly a sentence states the contribution (the first of the best is chosen).
_CUES = (
    (4, re.compile(rf"\b(?:{_WE}|{_DOC})\b[^.;]{{0,60}}?\b(?:{_STRONG_VERBS})\b", re.I)),
    (4, re.compile(rf"\b(?:is|are|was|were|has\s+been|have\s+been)\s+(?:{_STRONG_VERBS})\b", re.I)),
    (3, re.compile(r"\b(?:here|in\s+this\s+(?:paper|work|study|article)),?\s+we\b", re.I)),
    (2, re.compile(rf"\b(?:{_WE}|{_DOC})\b[^.;]{{0,60}}?\b(?:{_WEAK_VERBS})\b", re.I)),
    (1, re.compile(r"\b(?:we|this\s+(?:paper|work|study))\b", re.I)),
)
# Sentences that report results or point at material rather than say what the paper is.
_NOT_CONTRIBUTION = re.compile(
    r"^(?:(?:extensive|comprehensive|our|the)\s+)?(?:experiment|evaluation|result|code|data)"
    r"\w*\b|\b(?:code|data(?:set)?s?|models?|weights)\s+(?:is|are|will\s+be)\s+"
    r"(?:publicly\s+|freely\s+|openly\s+)?(?:available|released)|https?://",
    re.I,
)


def sentences(text: str) -> list[str]:
    """``text`` split into sentences (white space normalized), abbreviations kept whole."""
    text = " ".join(text.split())
    out: list[str] = []
    start = 0
    for match in _END.finditer(text):
        end = match.end()
        if text[match.start()] == ".":
            word = _WORD_BEFORE.search(text, 0, match.start())
            if word is not None:
                before = word.group(1).rstrip(".").lower()
                if before in _ABBREVIATIONS or len(before) == 1:
                    continue
        sentence = text[start:end].strip()
        if sentence:
            out.append(sentence)
        start = end
    rest = text[start:].strip()
    if rest:
        out.append(rest)
    return out


def is_whole_sentence(text: str) -> bool:
    """Ends as a sentence does (. ! ? and closing quotes or brackets) and starts with one."""
    return bool(text) and bool(_SENTENCE_END.search(text)) and not text[0].islower()


def contribution_score(sentence: str) -> int:
    """How plainly ``sentence`` states what the paper does (0: not at all)."""
    if _NOT_CONTRIBUTION.search(sentence):
        return 0
    return next((score for score, cue in _CUES if cue.search(sentence)), 0)


def _whole(parts: list[str], limit: int) -> list[str]:
    return [s for s in parts if len(s) <= limit and is_whole_sentence(s)]


def from_summary(summary: str, limit: int = LIMIT) -> str:
    """The AI summary's first one or two sentences within ``limit`` ("" if none fits)."""
    parts = sentences(summary)
    if not parts or not is_whole_sentence(parts[0]) or len(parts[0]) > limit:
        return ""
    chosen = parts[0]
    if len(parts) > 1 and is_whole_sentence(parts[1]) and len(chosen) + 1 + len(parts[1]) <= limit:
        chosen = f"{chosen} {parts[1]}"
    return chosen


def from_abstract(abstract: str, limit: int = LIMIT) -> tuple[str, bool]:
    """The sentence of ``abstract`` that states the contribution, and whether one did.

    Among whole sentences within ``limit``: the first with the strongest cue; with none,
    the first sentence. A short one takes the next along when that one elaborates (is no
    result or link) and both fit. ("", False) when no sentence fits.
    """
    parts = sentences(abstract)
    if not parts:
        return "", False
    best, best_score = -1, 0
    for index, sentence in enumerate(parts):
        if len(sentence) > limit or not is_whole_sentence(sentence):
            continue
        score = contribution_score(sentence)
        if score > best_score:
            best, best_score = index, score
        if best < 0:
            best = index  # the first that fits, if no sentence has a cue
    if best < 0:
        return "", False
    chosen = parts[best]
    if len(chosen) < SHORT and best + 1 < len(parts):
        following = parts[best + 1]
        if (
            is_whole_sentence(following)
            and len(chosen) + 1 + len(following) <= limit
            and not _NOT_CONTRIBUTION.search(following)
        ):
            chosen = f"{chosen} {following}"
    return chosen, best_score >= 2


def tldr(abstract: str, ai_summary: str | None = None, limit: int = LIMIT) -> str:
    """One or two whole sentences that say what the paper does ("" when none fits)."""
    if ai_summary:
        chosen = from_summary(ai_summary, limit)
        if chosen:
            return chosen
    return from_abstract(abstract, limit)[0]
