"""What a digest shows: picks and papers in, a plain view model out (no I/O).

``digest_view`` shapes what the templates show: sections, numbered items, paper cards with
excerpts and badges, links. Cards are the same for every reader of an edition; an item is
a card plus what is the reader's own (the number, the reason, the feedback links).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from digest.domain import Paper, Pick, SubscriberInfo
from digest.links import FeedbackUrl, RecipientLinks
from digest.render.excerpt import authors_line, excerpt
from digest.render.headers import clean

BRAND = "digest"
DEFAULT_SECTION = "Picked for you"
_clean_repeated = functools.lru_cache(maxsize=4096)(clean)  # reasons and sections recur
_LABELS = [f"{n:2d}." for n in range(100)]


@dataclass(frozen=True, slots=True)
class EditionInfo:
    key: str
    day: date

    @property
    def label(self) -> str:
        return _edition_label(self.key, self.day)

    @property
    def campaign(self) -> str:
        """The edition as a Feedback-ID field (no colons)."""
        return self.key.replace(":", "-")


@functools.lru_cache(maxsize=64)
def _edition_label(key: str, day: date) -> str:
    if key.startswith("weekly:"):
        return f"Week of {day:%A, %d %B %Y}"
    return f"{day:%A, %d %B %Y}"


@dataclass(frozen=True, slots=True)
class Card:
    """One paper as every reader of an edition sees it."""

    paper_id: str
    title: str
    authors: str
    categories: str
    upvotes: int  # 0 when unknown: the trending badge shows the ones that are not
    stars: int
    excerpt: str
    abs_url: str
    pdf_url: str


@dataclass(slots=True)
class Item:
    """One paper in one reader's digest: the card plus what is theirs."""

    number: int
    card: Card
    why: str
    feedback_up: str
    feedback_down: str
    label: str = ""  # the number as a list marker, " 1." to "99." (aligned in plain text)


@dataclass(slots=True)
class Section:
    title: str
    items: tuple[Item, ...]


def _web_url(url: str) -> bool:
    return url.startswith(("https://", "http://")) and url.isprintable()


def card_for(paper: Paper) -> Card:
    """The card of a paper; links that are not http(s) (``javascript:``...) are dropped."""
    if not all(_web_url(url) for url in paper.links.values()):
        safe = {k: v for k, v in paper.links.items() if _web_url(v)}
        paper = replace(paper, links=safe)
    return Card(
        paper_id=paper.id,
        title=clean(paper.title),
        authors=authors_line(tuple(clean(a) for a in paper.authors)),
        categories=", ".join(clean(c) for c in paper.categories[:4]),
        upvotes=paper.upvotes or 0,
        stars=paper.github_stars or 0,
        excerpt=clean(excerpt(paper.abstract)),
        abs_url=clean(paper.abs_url),
        pdf_url=clean(paper.pdf_url),
    )


def digest_view(
    subscriber: SubscriberInfo,
    edition: EditionInfo,
    picks: Sequence[Pick],
    papers: Mapping[str, Paper],
    links: RecipientLinks,
    feedback_url: FeedbackUrl,
    *,
    cold_start: bool = False,
    contact_line: str = "",
    postal_address: str = "",
    cards: dict[str, Card] | None = None,
) -> dict[str, Any]:
    """What the digest templates show. ``cards`` caches paper cards across readers."""
    if cards is None:
        cards = {}
    grouped: dict[str, list[tuple[Card, str]]] = {}
    for pick in picks:
        card = cards.get(pick.paper_id)
        if card is None:
            paper = papers.get(pick.paper_id)
            if paper is None:
                continue
            card = cards[pick.paper_id] = card_for(paper)
        section = _clean_repeated(pick.section) or DEFAULT_SECTION
        grouped.setdefault(section, []).append((card, pick.why))
    sections = []
    number = 0
    for title, entries in grouped.items():
        items = []
        for card, why in entries:
            number += 1
            items.append(
                Item(
                    number,
                    card,
                    _clean_repeated(why)[:300],
                    feedback_url(card.paper_id, "up"),
                    feedback_url(card.paper_id, "down"),
                    _LABELS[number] if number < 100 else f"{number}.",
                )
            )
        sections.append(Section(title, tuple(items)))
    name = clean(subscriber.name or "")[:100]
    greeting = f"Hi {name}, " if name else ""
    if cold_start:
        count = (
            "is the most talked-about new paper"
            if number == 1
            else (f"are the {number} most talked-about new papers")
        )
        intro = f"{greeting}here {count}."
    else:
        count = "is 1 new paper" if number == 1 else f"are {number} new papers"
        intro = f"{greeting}here {count} picked for your interests."
    first = sections[0].items[0].card.title if sections else ""
    return {
        "brand": BRAND,
        "edition": edition,
        "intro": intro,
        "preheader": f"{intro} {first}".strip(),
        "sections": sections,
        "paper_count": number,
        "cold_start": cold_start,
        "links": links,
        "recipient": {"email": subscriber.email, "name": name},
        "frequency": subscriber.frequency,
        "contact_line": _clean_repeated(contact_line),
        "postal_address": _clean_repeated(postal_address),
    }
