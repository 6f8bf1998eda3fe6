"""Cleaning of text from feeds and files: whitespace, HTML entities and tags, lengths."""

from __future__ import annotations

import html
import re
from datetime import date, datetime

TAG = re.compile(r"<[^>]{0,500}>")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(value: str, limit: int) -> str:
    """Unescape entities, drop tags and control characters, collapse whitespace, cap length."""
    if not value:
        return ""
    text = html.unescape(TAG.sub(" ", value))
    text = " ".join(CONTROL.sub(" ", text).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def parse_day(value: str) -> date | None:
    """A date from 'YYYY-MM-DD' or an ISO timestamp; None when it is not one."""
    value = value.strip()
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        return None
