"""Plain data shared by the pure core: papers, interest profiles, ranked picks.

No database, no network: the core (ingest parsers, ranking, rendering, scheduling) takes
and returns these, and the adapters convert to and from rows, files and messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal
from urllib.parse import quote_plus

Frequency = Literal["daily", "weekly"]
SubscriberStatus = Literal["pending", "active", "paused", "unsubscribed", "bounced"]
SUBSCRIBER_STATUSES: tuple[str, ...] = ("pending", "active", "paused", "unsubscribed", "bounced")
FREQUENCIES: tuple[str, ...] = ("daily", "weekly")
FeedbackKind = Literal["up", "down", "click"]
FEEDBACK_KINDS: tuple[str, ...] = ("up", "down", "click")
CATEGORY_MODES: tuple[str, ...] = ("boost", "filter")


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper, identified by its canonical id (arXiv id without version, else DOI, ...)."""

    id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    links: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    published: date | None = None
    announced: date | None = None
    comment: str | None = None
    upvotes: int | None = None
    github_stars: int | None = None
    num_comments: int | None = None
    source: str | None = None
    # Added by ingestion (all optional, so other code can ignore them):
    doi: str | None = None
    journal_ref: str | None = None
    primary_category: str | None = None
    version: int | None = None
    featured_on: date | None = None
    ai_summary: str | None = None
    keywords: tuple[str, ...] = ()
    affiliations: tuple[str, ...] = ()

    @property
    def abs_url(self) -> str:
        """The paper's landing page: given link, DOI resolver, arXiv page or an arXiv search."""
        if self.links.get("abs") or self.links.get("url"):
            return self.links.get("abs") or self.links["url"]
        if self.id.startswith("doi:"):
            return f"https://doi.org/{self.id[4:]}"
        if self.id.startswith("title:"):
            return "https://arxiv.org/search/?searchtype=title&query=" + quote_plus(self.title)
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def pdf_url(self) -> str:
        """The PDF link, or '' when none is known."""
        if self.links.get("pdf"):
            return self.links["pdf"]
        if self.id.startswith(("doi:", "title:")):
            return ""
        return f"https://arxiv.org/pdf/{self.id}"


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    """A reader's reaction to a paper they were sent: 👍 (up), 👎 (down) or a click."""

    paper_id: str
    kind: str  # one of FEEDBACK_KINDS
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """What one reader wants: the input of ranking. Every field but ``id`` may be empty."""

    id: str
    topics: tuple[str, ...] = ()
    require: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    liked: tuple[str, ...] = ()
    disliked: tuple[str, ...] = ()
    category_mode: str = "boost"  # "boost": categories add to the score; "filter": only them
    feedback: tuple[FeedbackEvent, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when nothing in the profile can steer ranking (a cold start)."""
        return not (
            any(t.strip() for t in self.topics)
            or any(a.strip() for a in self.authors)
            or any(c.strip() for c in self.categories)
            or self.liked
            or any(e.kind in ("up", "click") for e in self.feedback)
        )


@dataclass(frozen=True, slots=True)
class Pick:
    """One paper chosen for one reader, with the true reason it was chosen."""

    paper_id: str
    score: float
    why: str
    section: str = ""
    # Whether the digest shows it as a match: its match is strong enough (see
    # RankOptions.show_*); the rest stays in the ranking (``digest rank``) but is not mailed.
    shown: bool = True
    # How strong the match that explains it is, on its signal's own absolute scale (the
    # share of a topic's words the paper says, the cosine to the closest liked paper; 1.0
    # for exact matches such as a followed author): what ``shown`` is decided on.
    match: float = 1.0
    # Not personalised: one of the pool's most trending papers, filling the digest's
    # separate "Also trending" section when fewer than ``top_k`` papers match (never a
    # match: ``shown`` is False; see digest.rank.fill).
    trending: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.paper_id,
            "score": round(self.score, 6),
            "why": self.why,
            "section": self.section,
            "shown": self.shown,
            "match": round(self.match, 4),
        } | ({"trending": True} if self.trending else {})

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Pick:
        return cls(
            str(data["id"]),
            float(data.get("score", 0.0)),  # type: ignore[arg-type]
            str(data.get("why", "")),
            str(data.get("section", "")),
            shown=bool(data.get("shown", True)),
            match=float(data.get("match", 1.0)),  # type: ignore[arg-type]
            trending=bool(data.get("trending", False)),
        )


@dataclass(frozen=True, slots=True)
class SubscriberInfo:
    """What rendering and scheduling need to know about a subscriber."""

    id: int
    email: str
    name: str | None
    timezone: str = "UTC"
    frequency: str = "daily"
    delivery_hour: int = 7
    created_at: datetime | None = None
    link_id: str = ""  # the opaque id signed links carry (``subscribers.link_id``)
    weekday: int = 0
    greeting_name: str | None = None  # what the greeting calls them; None: from ``name``
