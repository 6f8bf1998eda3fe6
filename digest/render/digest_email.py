"""The digest email: picks and papers in, a finished message out.

``digest_view`` is pure: it shapes the data the templates show (sections, numbered cards,
excerpts, badges, links). ``DigestRenderer`` renders the templates and builds the message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from digest.domain import Paper, Pick, SubscriberInfo
from digest.links import RecipientLinks
from digest.render.excerpt import authors_line, excerpt
from digest.render.message import Envelope, build_message, serialize, single_line
from digest.render.templates import EmailTemplates

BRAND = "digest"


@dataclass(frozen=True, slots=True)
class EditionInfo:
    key: str
    day: date

    @property
    def label(self) -> str:
        if self.key.startswith("weekly:"):
            return f"Week of {self.day:%A, %d %B %Y}"
        return f"{self.day:%A, %d %B %Y}"


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    message_id: str
    data: bytes  # the whole message, CRLF line endings


FeedbackUrl = Callable[[str, str], str]  # (paper_id, "up"|"down") -> URL


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
) -> dict[str, object]:
    sections: dict[str, list[dict[str, object]]] = {}
    number = 0
    for pick in picks:
        paper = papers.get(pick.paper_id)
        if paper is None:
            continue
        number += 1
        sections.setdefault(pick.section or "Picked for you", []).append(
            {
                "number": number,
                "title": single_line(paper.title),
                "authors": authors_line(paper.authors),
                "categories": ", ".join(paper.categories[:4]),
                "badge": _badge(paper),
                "excerpt": excerpt(paper.abstract),
                "why": single_line(pick.why),
                "abs_url": paper.abs_url,
                "pdf_url": paper.pdf_url,
                "feedback_up": feedback_url(paper.id, "up"),
                "feedback_down": feedback_url(paper.id, "down"),
            }
        )
    name = single_line(subscriber.name or "")
    greeting = f"Hi {name}, " if name else ""
    if cold_start:
        intro = f"{greeting}here are today's {number} most talked-about papers."
    else:
        count = "is 1 new paper" if number == 1 else f"are {number} new papers"
        intro = f"{greeting}here {count} picked for your interests."
    first = next((items[0]["title"] for items in sections.values()), "")
    return {
        "brand": BRAND,
        "edition": edition,
        "intro": intro,
        "preheader": f"{intro} {first}".strip(),
        "sections": [{"title": title, "papers": items} for title, items in sections.items()],
        "paper_count": number,
        "cold_start": cold_start,
        "links": links,
        "recipient": {"email": subscriber.email, "name": name},
        "frequency": subscriber.frequency,
        "contact_line": contact_line,
    }


def _badge(paper: Paper) -> str:
    parts = []
    if paper.upvotes:
        parts.append(f"▲ {paper.upvotes} upvotes")
    if paper.github_stars:
        parts.append(f"★ {paper.github_stars} stars")
    return " · ".join(parts)


class DigestRenderer:
    """Renders digest emails; create one per process and reuse it (templates are cached)."""

    def __init__(
        self, templates: EmailTemplates, *, from_name: str, from_address: str, list_id: str
    ):
        self.templates = templates
        self.from_name = from_name
        self.from_address = from_address
        self.list_id = list_id

    def render(
        self,
        view: dict[str, object],
        *,
        to_name: str | None,
        to_address: str,
        message_id: str,
        when: datetime,
    ) -> RenderedEmail:
        subject = single_line(self.templates.subject("digest").render(view))
        view = {**view, "subject": subject}
        html = self.templates.html("digest").render(view)
        text = self.templates.text("digest").render(view)
        links = view["links"]
        assert isinstance(links, RecipientLinks)
        envelope = Envelope(
            from_name=self.from_name,
            from_address=self.from_address,
            to_name=to_name,
            to_address=to_address,
            subject=subject,
            date=when,
            message_id=message_id,
            list_id=self.list_id,
            list_unsubscribe=links.unsubscribe,
        )
        data = serialize(build_message(envelope, text, html))
        return RenderedEmail(subject, text, html, message_id, data)
