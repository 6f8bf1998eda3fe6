"""The digest email: picks and papers in, a finished message out.

``digest_view`` is pure: it shapes what the templates show (sections, numbered items,
paper cards with excerpts and badges, links). ``DigestRenderer`` (one per process) holds
the templates and the sender; ``DigestRenderer.edition`` prepares one edition for a batch
(:class:`PreparedEdition`): the paper cards, their rendered fragments and the encoded
template lines are made once there and reused for every reader, so a reader costs only
what is really theirs (links, reasons, name).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from digest.domain import Paper, Pick, SubscriberInfo
from digest.links import FeedbackUrl, RecipientLinks
from digest.render import message as reference
from digest.render.dkim import DkimSigner
from digest.render.excerpt import authors_line, excerpt
from digest.render.headers import clean
from digest.render.mime import MimeWriter, Sender
from digest.render.templates import EmailTemplates, RenderedHtml

BRAND = "digest"
DEFAULT_SECTION = "Picked for you"
_clean_repeated = functools.lru_cache(maxsize=4096)(clean)  # reasons and sections recur


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


class RenderedEmail:
    """A finished email: the message bytes, and its parts for previews and the outbox."""

    __slots__ = ("_html", "data", "message_id", "subject", "text")

    def __init__(
        self, subject: str, text: str, html: str | RenderedHtml, message_id: str, data: bytes
    ):
        self.subject = subject
        self.text = text
        self._html = html
        self.message_id = message_id
        self.data = data  # the whole message, CRLF line endings (DKIM-signed when configured)

    @property
    def html(self) -> str:
        """The HTML part (joined on first use: sending over SMTP never needs it)."""
        if not isinstance(self._html, str):
            self._html = str(self._html)
        return self._html


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


class DigestRenderer:
    """Renders every email digest sends; create one per process and reuse it."""

    def __init__(
        self,
        templates: EmailTemplates,
        sender: Sender,
        *,
        contact_line: str = "",
        postal_address: str = "",
        dkim: DkimSigner | None = None,
    ):
        self.templates = templates
        self.sender = sender
        self.contact_line = contact_line
        self.postal_address = postal_address
        self.dkim = dkim
        self.writer = MimeWriter(sender)

    @classmethod
    def from_settings(cls, settings: Any) -> DigestRenderer:
        sender = Sender(
            from_name=settings.from_name,
            from_address=settings.from_address,
            list_id=settings.list_id,
            list_name=settings.from_name,
            unsubscribe_mailto=settings.unsubscribe_mailto or None,
            feedback_id_sender=settings.feedback_id,
        )
        dkim = None
        if settings.dkim is not None:
            dkim = DkimSigner(settings.dkim.selector, settings.dkim.domain, settings.dkim.key)
        return cls(
            EmailTemplates(settings.templates_dir),
            sender,
            contact_line=settings.contact_line,
            postal_address=settings.postal_address,
            dkim=dkim,
        )

    def edition(self, edition: EditionInfo, papers: Mapping[str, Paper]) -> PreparedEdition:
        return PreparedEdition(self, edition, papers)

    def confirmation(
        self,
        *,
        to_name: str | None,
        to_address: str,
        confirm_url: str,
        frequency: str = "daily",
        message_id: str,
        when: datetime,
    ) -> RenderedEmail:
        """The double opt-in email: one link that confirms the subscription.

        No List-Unsubscribe: the address is not on the list until the reader clicks.
        """
        context = {
            **self._common(to_name, to_address),
            "confirm_url": confirm_url,
            "frequency": frequency,
        }
        return self._render_simple("confirmation", context, message_id, when, None)

    def welcome(
        self,
        subscriber: SubscriberInfo,
        links: RecipientLinks,
        *,
        first_delivery: str,
        topics: Sequence[str] = (),
        message_id: str,
        when: datetime,
    ) -> RenderedEmail:
        """Sent once the subscription is confirmed: what comes, when, and how to steer it."""
        context = {
            **self._common(subscriber.name, subscriber.email),
            "links": links,
            "frequency": subscriber.frequency,
            "first_delivery": clean(first_delivery),
            "topics": [clean(t) for t in topics if clean(t)],
        }
        return self._render_simple("welcome", context, message_id, when, links)

    def _common(self, name: str | None, address: str) -> dict[str, Any]:
        return {
            "brand": BRAND,
            "recipient": {"email": address, "name": clean(name or "")[:100]},
            "contact_line": clean(self.contact_line),
            "postal_address": clean(self.postal_address),
        }

    def _render_simple(
        self,
        name: str,
        context: dict[str, Any],
        message_id: str,
        when: datetime,
        links: RecipientLinks | None,
    ) -> RenderedEmail:
        subject = clean(self.templates.subject(name).render(context))
        context["subject"] = subject
        html = self.templates.html(name).render(context)
        text = self.templates.text(name).render(context)
        data = self.writer.build(
            to_name=context["recipient"]["name"],
            to_address=context["recipient"]["email"],
            subject=subject,
            date=when,
            message_id=message_id,
            text=text,
            html=html,
            unsubscribe_url=links.unsubscribe if links else None,
            unsubscribe_mailto_token=links.unsubscribe_token if links else None,
            campaign=name,
            kind=name,
        )
        return RenderedEmail(subject, text, html, message_id, self.finish(data))

    def finish(self, data: bytes) -> bytes:
        """The last step: DKIM-sign the finished bytes when a key is configured."""
        return self.dkim.sign(data) if self.dkim is not None else data


class PreparedEdition:
    """One edition, ready to render for many readers (create one per batch and edition)."""

    def __init__(self, renderer: DigestRenderer, edition: EditionInfo, papers: Mapping[str, Paper]):
        self.renderer = renderer
        self.edition = edition
        self.papers = papers
        self.cards: dict[str, Card] = {}
        self.fragments: dict[object, str] = {}
        self.subjects: dict[tuple[int, bool], str] = {}
        templates = renderer.templates
        self._subject = templates.subject("digest")
        self._text = templates.text("digest")
        self._html = templates.html("digest")

    def view(
        self,
        subscriber: SubscriberInfo,
        picks: Sequence[Pick],
        links: RecipientLinks,
        feedback_url: FeedbackUrl,
        *,
        cold_start: bool = False,
    ) -> dict[str, Any]:
        return digest_view(
            subscriber,
            self.edition,
            picks,
            self.papers,
            links,
            feedback_url,
            cold_start=cold_start,
            contact_line=self.renderer.contact_line,
            postal_address=self.renderer.postal_address,
            cards=self.cards,
        )

    def subject(self, paper_count: int, cold_start: bool) -> str:
        """The subject: it depends on the edition, the number of papers and cold start only."""
        key = (paper_count, cold_start)
        subject = self.subjects.get(key)
        if subject is None:
            context = {
                "brand": BRAND,
                "edition": self.edition,
                "paper_count": paper_count,
                "cold_start": cold_start,
            }
            subject = self.subjects[key] = clean(self._subject.render(context))
        return subject

    def render(
        self,
        subscriber: SubscriberInfo,
        picks: Sequence[Pick],
        links: RecipientLinks,
        feedback_url: FeedbackUrl,
        *,
        message_id: str,
        when: datetime,
        cold_start: bool = False,
        reference_build: bool = False,
    ) -> RenderedEmail:
        """The reader's finished email. ``reference_build`` uses the ``email`` package path."""
        view = self.view(subscriber, picks, links, feedback_url, cold_start=cold_start)
        subject = self.subject(view["paper_count"], cold_start)
        view["subject"] = subject
        view["_fragments"] = self.fragments
        html = self._html.render_parts(view)
        text = self._text.render(view)
        args = {
            "to_name": view["recipient"]["name"],
            "to_address": subscriber.email,
            "subject": subject,
            "date": when,
            "message_id": message_id,
            "text": text,
            "html": html,
            "unsubscribe_url": links.unsubscribe,
            "unsubscribe_mailto_token": links.unsubscribe_token,
            "campaign": self.edition.campaign,
            "kind": "digest",
        }
        writer = self.renderer.writer
        if reference_build:
            args["html"] = str(html)
            data = reference.serialize(reference.build_message(writer.sender, **args))
        else:
            data = writer.build(**args)
        return RenderedEmail(subject, text, html, message_id, self.renderer.finish(data))
