"""Text shaping for emails: abstract excerpts, author lists. Pure functions."""

from __future__ import annotations

import re

SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def excerpt(text: str, limit: int = 320) -> str:
    """The start of ``text`` cut at a sentence end if one is near, else at a word boundary."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[:limit]
    ends = [m.end() for m in SENTENCE_END.finditer(head)]
    if ends and ends[-1] >= limit // 2:
        return head[: ends[-1]]
    cut = head.rfind(" ")
    return (head[:cut] if cut > limit // 2 else head).rstrip(" ,;:") + "…"


def authors_line(authors: tuple[str, ...] | list[str], limit: int = 3) -> str:
    """'A, B and C' or 'A, B, C et al.' for long lists."""
    names = [" ".join(a.split()) for a in authors if a.strip()]
    if len(names) > limit:
        return ", ".join(names[:limit]) + " et al."
    if len(names) > 1:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return names[0] if names else ""
