"""What a digest shows: picks and papers in, a plain view model out (no I/O).

``digest_view`` shapes what the templates show: sections, numbered items, paper cards (a
TL;DR, counts, the links that exist for the paper). Cards are the same for every reader of
an edition and built once per edition and paper (``card_for``: the TL;DR choice and the
link finding happen there, not per reader); an item is a card plus what is the reader's
own (the number, the reason, the feedback links).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from digest.domain import Paper, Pick, SubscriberInfo
from digest.links import FeedbackUrl, RecipientLinks
from digest.render.headers import clean
from digest.render.headline import PREHEADER_LIMIT, preheader
from digest.render.layout import shorten, wrap
from digest.render.paper_links import (
    anchor,
    code_label,
    compact_count,
    project_in,
    repository_in,
)
from digest.render.tldr import tldr

TEXT_WIDTH = 72  # the text part's lines (78 columns at most, URLs alone on theirs)
# The size guard: Gmail clips an HTML part past 102 KB, hiding the footer (unsubscribe).
# Whatever DIGEST_TOP_K (up to 100), the email shows FULL_CARDS cards with their TL;DR,
# then brief ones (no TL;DR) up to MAX_CARDS, and "and N more" linking to the web page,
# which shows them all: under 90 KB at the worst (tests/render/test_size_guard.py).
FULL_CARDS = 10
MAX_CARDS = 15
INDEX_TITLE = 44  # characters of a title in the index: about one line at 375 px
BRAND = "digest"  # the site name when none is configured (``DIGEST_SITE_NAME``)
DEFAULT_SECTION = "Picked for you"
# A reader with no interests gets the pool's most upvoted papers, or, on a day without
# upvotes, the newest ones: the heading says which.
TRENDING_SECTION = "Trending on Hugging Face today"
TRENDING_WEEK_SECTION = "Trending on Hugging Face this week"
NEWEST_SECTION = "Newest papers"
# A personalised reader with fewer matches than DIGEST_TOP_K: the day's most trending papers
# fill a few places (Pick.trending, digest.rank.fill) in a section of their own, last, that
# says it is not picked for them.
ALSO_TRENDING_SECTION = "Also trending today"
ALSO_TRENDING_WEEK_SECTION = "Also trending this week"
ALSO_TRENDING_NOTE = (
    "Not picked for your interests: the most popular new papers {when}, the same for every reader."
)
# A weekly digest marks the most upvoted of the reader's papers (when any has upvotes).
WEEK_BADGE = "Most upvoted this week"
WEEK_HEADING = "This week's best papers"
# Sections that name no interest of the reader (the ranker's own, digest.rank.ranker):
# a subject says "on <topic>" only for the others.
NOT_TOPICS = frozenset(
    (
        DEFAULT_SECTION,
        TRENDING_SECTION,
        TRENDING_WEEK_SECTION,
        NEWEST_SECTION,
        ALSO_TRENDING_SECTION,
        ALSO_TRENDING_WEEK_SECTION,
        "Also trending",
        "Trending today",
        "Authors you follow",
        "Close to papers you liked",
        "Picked from your feedback",
    )
)
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
    def weekly(self) -> bool:
        """A weekly edition: the best of the reader's week (``weekly:YYYY-Www``)."""
        return self.key.startswith("weekly:")

    @property
    def heading(self) -> str:
        """What the digest's heading says under the site name: the day, or "this week"."""
        return WEEK_HEADING if self.weekly else self.label

    @property
    def campaign(self) -> str:
        """The edition as a Feedback-ID field (no colons)."""
        return self.key.replace(":", "-")


@functools.lru_cache(maxsize=64)
def _edition_label(key: str, day: date) -> str:
    when = f"{day:%A}, {day.day} {day:%B %Y}"  # "Tuesday, 1 December 2026"
    return f"Week of {when}" if key.startswith("weekly:") else when


_HONORIFICS = frozenset(
    ("dr", "dr.", "prof", "prof.", "mr", "mr.", "mrs", "mrs.", "ms", "ms.", "mx", "mx.")
)


@functools.lru_cache(maxsize=4096)
def greeting_name(name: str | None) -> str:
    """The name a greeting uses: the first word of the stored name, after a title ("Dr.")
    and, for "Lovelace, Ada", after the comma; "" when there is none (then no greeting)."""
    text = clean(name or "")
    if "," in text:
        text = text.partition(",")[2] or text.partition(",")[0]
    words = [w for w in text.split() if w.strip("\"'()<>[]")]
    while len(words) > 1 and words[0].casefold() in _HONORIFICS:
        words.pop(0)
    first = words[0].strip('",;:()<>[]') if words else ""
    return first[:40]


def greet_as(chosen: str | None, name: str | None) -> str:
    """The name a greeting uses: the reader's own ``greeting_name`` when set, else the first
    name derived from ``name`` (:func:`greeting_name`), else "" (no greeting)."""
    own = clean(chosen or "")[:60]
    return own or greeting_name(name)


@functools.lru_cache(maxsize=4096)
def _intro(first_name: str, count: int, cold: str, weekly: bool = False, trending: int = 0) -> str:
    """The digest's opening sentence; ``cold`` is "" or the cold-start section's title;
    ``count`` papers picked for the reader, then ``trending`` not picked for them."""
    verb = "is" if count == 1 else "are"
    when = "this week" if weekly else "today"
    if trending and not count:
        verb = "is" if trending == 1 else "are"
        what = "the most popular new paper"
        if trending > 1:
            what = f"the {trending} most popular new papers"
        body = f"no new paper matched your interests {when}, so here {verb} {what} instead."
    elif cold in (TRENDING_SECTION, TRENDING_WEEK_SECTION):
        what = (
            "the most upvoted new paper" if count == 1 else f"the {count} most upvoted new papers"
        )
        body = f"{_NO_INTERESTS} {verb} {what} on Hugging Face {when}."
    elif cold:
        what = "the newest paper" if count == 1 else f"the {count} newest papers"
        body = f"{_NO_INTERESTS} {verb} {what}{' of the week' if weekly else ''}."
    elif weekly:
        what = "the best new paper" if count == 1 else f"the {count} best new papers"
        body = f"here {verb} {what} of your week, picked for your interests."
    else:
        what = "1 new paper" if count == 1 else f"{count} new papers"
        body = f"here {verb} {what} picked for your interests."
    if trending and count:
        body = f"{body[:-1]}, plus {trending} trending {when}."
    text = f"Hi {first_name}, {body}" if first_name else body[0].upper() + body[1:]
    return wrap(text, TEXT_WIDTH)


_NO_INTERESTS = "you have not told us what you read yet, so here"


@dataclass(frozen=True, slots=True)
class Card:
    """One paper as every reader of an edition sees it. Links are "" when not known."""

    paper_id: str
    title: str
    authors: str
    categories: str
    upvotes: int  # 0 when unknown
    stars: str  # GitHub stars as readers know them ("1.2k"), "" when unknown
    tldr: str  # one or two whole sentences: what the paper does ("" when none fits)
    abs_url: str
    pdf_url: str
    abs_label: str = "Abstract"  # "arXiv" for an arXiv page
    index_title: str = ""  # the title in the index: one line on a phone
    url: str = ""  # where the title leads: the Hugging Face page when known, else abs_url
    hf_url: str = ""
    code_url: str = ""
    code_label: str = ""  # "GitHub", "GitLab" or "Code"
    project_url: str = ""
    anchor: str = ""  # the card's HTML id, the target of the index's link
    brief: bool = False  # past FULL_CARDS: shown without its TL;DR
    badge: str = ""  # WEEK_BADGE on the most upvoted paper of a weekly digest, else ""

    @property
    def key(self) -> object:
        """What the card's compiled blocks are cached under."""
        key: object = (self.paper_id, "brief") if self.brief else self.paper_id
        return (key, self.badge) if self.badge else key


def authors_line(authors: tuple[str, ...] | list[str], limit: int = 3) -> str:
    """'A, B and C' or 'A, B, C et al.' for long lists."""
    names = [" ".join(a.split()) for a in authors if a.strip()]
    if len(names) > limit:
        return ", ".join(names[:limit]) + " et al."
    if len(names) > 1:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return names[0] if names else ""


@dataclass(slots=True)
class Item:
    """One paper in one reader's digest: the card plus what is theirs."""

    number: int
    card: Card
    why: str
    feedback_up: str
    feedback_down: str
    label: str = ""  # the number as a list marker, " 1." to "99." (aligned in plain text)
    why_text: str = ""  # "Why: <why>" wrapped for the text part (lines joined by "\n    ")


@dataclass(slots=True)
class Section:
    title: str
    items: tuple[Item, ...]
    note: str = ""  # a line under the title: what the section is when it is not the reader's


def _web_url(url: str) -> bool:
    return url.startswith(("https://", "http://")) and url.isprintable()


def card_for(paper: Paper) -> Card:
    """The card of a paper (the TL;DR is chosen and the links found here). Links that are
    not http(s) (``javascript:``...) are dropped.

    Made once per process for the same paper (links included): a worker's editions (two
    days, daily and weekly) share most papers, and the TL;DR costs about 0.3 ms."""
    return _card(paper, tuple(paper.links.items()))


@functools.lru_cache(maxsize=8192)
def _card(paper: Paper, links_key: tuple[tuple[str, str], ...]) -> Card:
    """:func:`card_for`; ``links_key`` because papers compare without their links."""
    if not all(_web_url(url) for url in paper.links.values()):
        safe = {k: v for k, v in paper.links.items() if _web_url(v)}
        paper = replace(paper, links=safe)
    links = paper.links
    code = links.get("github") or links.get("code") or ""
    if not code:  # named in the arXiv comment, else in the abstract ("code is at ...")
        code = repository_in(paper.comment) or repository_in(paper.abstract)
    project = links.get("project") or ""
    if not project:
        project = project_in(paper.comment, code) or project_in(paper.abstract, code)
    abs_url = clean(paper.abs_url)
    hf_url = clean(links.get("hf", ""))
    return Card(
        paper_id=paper.id,
        title=shorten(clean(paper.title), 300, by_columns=False),  # bounded: the size guard
        authors=authors_line(tuple(shorten(clean(a), 80) for a in paper.authors[:4])),
        categories=", ".join(shorten(clean(c), 40) for c in paper.categories[:4]),
        upvotes=paper.upvotes or 0,
        stars=compact_count(paper.github_stars) if code else "",
        tldr=clean(tldr(paper.abstract, paper.ai_summary)),  # whole sentences, at most 300
        abs_url=abs_url,
        pdf_url=clean(paper.pdf_url),
        abs_label="arXiv" if abs_url.startswith("https://arxiv.org/abs/") else "Abstract",
        index_title=shorten(clean(paper.title), INDEX_TITLE, by_columns=False),
        url=hf_url or abs_url,
        hf_url=hf_url,
        code_url=clean(code),
        code_label=code_label(code) if code else "",
        project_url=clean(project),
        anchor=anchor(paper.id),
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
    brand: str = BRAND,
    contact_line: str = "",
    postal_address: str = "",
    cards: dict[Any, Card] | None = None,
    full_cards: int | None = FULL_CARDS,
    max_cards: int | None = MAX_CARDS,
) -> dict[str, Any]:
    """What the digest templates show. ``cards`` caches paper cards across readers.

    Past ``full_cards`` papers the cards are brief, past ``max_cards`` they are counted in
    ``more_count`` only (None: no limit, as on the web page)."""
    if cards is None:
        cards = {}
    chosen: list[tuple[Card, Pick]] = []
    for pick in picks:
        card = cards.get(pick.paper_id)
        if card is None:
            paper = papers.get(pick.paper_id)
            if paper is None:
                continue
            card = cards[pick.paper_id] = card_for(paper)
        chosen.append((card, pick))
    cold = ""
    weekly = edition.weekly
    if cold_start:  # one section, named for what it truly is
        trending = TRENDING_WEEK_SECTION if weekly else TRENDING_SECTION
        cold = trending if any(card.upvotes for card, _ in chosen) else NEWEST_SECTION
    # The "Also trending" fill comes after the reader's own papers, in its own section.
    also = ALSO_TRENDING_WEEK_SECTION if weekly else ALSO_TRENDING_SECTION
    fills = [] if cold else [entry for entry in chosen if entry[1].trending]
    if fills:
        chosen = [entry for entry in chosen if not entry[1].trending] + fills
    top = _most_upvoted(chosen[: len(chosen) - len(fills)]) if weekly and not cold else ""
    grouped: dict[str, list[tuple[Card, str]]] = {}
    for card, pick in chosen:
        if pick.trending and not cold:
            section = also
        else:
            section = cold or _clean_repeated(pick.section) or DEFAULT_SECTION
        grouped.setdefault(section, []).append((card, pick.why))
    sections = []
    number = 0
    full = len(chosen) if full_cards is None else full_cards
    shown = len(chosen) if max_cards is None else max_cards
    for title, entries in grouped.items():
        items = []
        for card, why in entries:
            if number >= shown:
                break
            number += 1
            if number > full:
                brief = cards.get((card.paper_id, "brief"))
                if brief is None:
                    brief = cards[(card.paper_id, "brief")] = replace(card, tldr="", brief=True)
                card = brief
            if card.paper_id == top:
                marked = cards.get((card.key, "badge"))
                if marked is None:
                    marked = cards[(card.key, "badge")] = replace(card, badge=WEEK_BADGE)
                card = marked
            reason = _reason(why)
            items.append(
                Item(
                    number,
                    card,
                    reason,
                    feedback_url(card.paper_id, "up"),
                    feedback_url(card.paper_id, "down"),
                    _LABELS[number] if number < 100 else f"{number}.",
                    _why_text(reason),
                )
            )
        if items:
            note = _also_note(weekly) if title == also and fills else ""
            sections.append(Section(title, tuple(items), note))
    name = clean(subscriber.name or "")[:100]
    # The intro counts every paper; the ones past max_cards are on the web page.
    first_name = greet_as(subscriber.greeting_name, name)
    picked = len(chosen) - len(fills)
    intro = _intro(first_name, picked, cold, weekly, len(fills))  # line breaks: spaces in HTML
    return {
        "brand": brand,
        "edition": edition,
        "intro": intro,
        "preheader": _preheader(sections, intro),
        "topics": tuple(t for t in grouped if t not in NOT_TOPICS),  # shown or not
        "sections": sections,
        "paper_count": number,
        "more_count": len(chosen) - number,
        "trending_count": len(fills),  # of them, in the "Also trending" section (not picked)
        "cold_start": cold_start,
        "links": links,
        "recipient": {"email": subscriber.email, "name": name},
        "frequency": subscriber.frequency,
        "contact_line": _clean_repeated(contact_line),
        "postal_address": _clean_repeated(postal_address),
    }


def _also_note(weekly: bool) -> str:
    return ALSO_TRENDING_NOTE.format(when="this week" if weekly else "today")


def _most_upvoted(chosen: Sequence[tuple[Card, Pick]]) -> str:
    """The paper of a weekly digest to mark: the reader's most upvoted (the first of
    equals), "" when none has upvotes or there is only one paper."""
    if len(chosen) < 2:
        return ""
    best = max(chosen, key=lambda entry: entry[0].upvotes)[0]  # max keeps the first of ties
    return best.paper_id if best.upvotes > 0 else ""


def _preheader(sections: Sequence[Section], intro: str) -> str:
    """The titles after the first (the subject names the first); for a single paper, the
    start of what it says."""
    titles: list[str] = []
    for section in sections:
        titles.extend(item.card.title for item in section.items[: 5 - len(titles)])
        if len(titles) >= 5:
            break
    if len(titles) > 1:
        return preheader(tuple(titles[1:]))
    if sections and sections[0].items[0].card.tldr:
        return shorten(sections[0].items[0].card.tldr, PREHEADER_LIMIT, by_columns=False)
    return intro


@functools.lru_cache(maxsize=4096)
def _why_text(reason: str) -> str:
    """The reason as the text part shows it: "Why: ...", indented by 4 after the first line."""
    return wrap(f"Why: {reason}", TEXT_WIDTH, "    ", first="", used=4)


@functools.lru_cache(maxsize=4096)  # reasons recur across readers
def _reason(why: str) -> str:
    """Why a paper was picked, as a sentence: one line, at most 300 characters, a capital."""
    text = clean(why)[:300]
    return text[:1].upper() + text[1:]
