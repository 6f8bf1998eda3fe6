"""The digest email: picks and papers in, a finished message out.

``digest_view`` (:mod:`digest.render.view`) is pure: it shapes what the templates show.
``DigestRenderer`` (one per process) holds the templates and the sender;
``DigestRenderer.edition`` prepares one edition for a batch (:class:`PreparedEdition`):
the paper cards, the compiled template blocks and their encoded lines are made once there
and reused for every reader, so a reader costs only what is really theirs (links,
reasons, name).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from digest.domain import Paper, Pick, SubscriberInfo
from digest.errors import ConfigError
from digest.links import FeedbackUrl, RecipientLinks
from digest.render import message as reference
from digest.render.blocks import SharedPieces, TemplateBlocks, scalars
from digest.render.dkim import DkimSigner
from digest.render.headers import clean
from digest.render.headline import headline
from digest.render.mime import MimeWriter, QPEncoder, Sender
from digest.render.splice import Spliced
from digest.render.templates import EmailTemplates
from digest.render.view import (
    BRAND,
    FULL_CARDS,
    MAX_CARDS,
    Card,
    EditionInfo,
    Item,
    Section,
    card_for,
    digest_view,
    greet_as,
)

__all__ = [
    "BRAND",
    "Card",
    "DigestRenderer",
    "EditionInfo",
    "Item",
    "PreparedEdition",
    "RenderedEmail",
    "Section",
    "card_for",
    "digest_view",
]


class RenderedEmail:
    """A finished email: the message bytes, and its parts for previews and the outbox."""

    __slots__ = ("_html", "_text", "data", "message_id", "subject")

    def __init__(
        self,
        subject: str,
        text: str | Spliced,
        html: str | Spliced,
        message_id: str,
        data: bytes,
    ):
        self.subject = subject
        self._text = text
        self._html = html
        self.message_id = message_id
        self.data = data  # the whole message, CRLF line endings (DKIM-signed when configured)

    @property
    def text(self) -> str:
        """The text part (joined on first use: sending over SMTP never needs it)."""
        if not isinstance(self._text, str):
            self._text = str(self._text)
        return self._text

    @property
    def html(self) -> str:
        """The HTML part (joined on first use)."""
        if not isinstance(self._html, str):
            self._html = str(self._html)
        return self._html


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
        site_name: str = "",
    ):
        self.templates = templates
        self.sender = sender
        # The name readers see (headings, footers, subjects); default the List-Id's label.
        self.brand = clean(site_name or sender.list_name or sender.from_name) or BRAND
        self.contact_line = contact_line
        self.postal_address = postal_address
        self.dkim = dkim
        self.writer = MimeWriter(sender)
        self.shared_pieces = SharedPieces()  # item and entry pieces, for every edition

    @classmethod
    def from_settings(cls, settings: Any) -> DigestRenderer:
        sender = Sender(
            from_name=settings.from_name,
            from_address=settings.from_address,
            list_id=settings.list_id,
            list_name=settings.site_name,
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
            site_name=settings.site_name,
        )

    def edition(self, edition: EditionInfo, papers: dict[str, Paper]) -> PreparedEdition:
        return PreparedEdition(self, edition, papers)

    def confirmation(
        self,
        *,
        to_name: str | None,
        to_address: str,
        to_greeting: str | None = None,
        confirm_url: str,
        expires: str = "",
        frequency: str = "daily",
        message_id: str,
        when: datetime,
    ) -> RenderedEmail:
        """The double opt-in email: one link that confirms the subscription; ``expires``
        says how long it works ("7 days, until Tuesday, 8 December at 09:00 (UTC)").

        No List-Unsubscribe: the address is not on the list until the reader clicks.
        """
        context = {
            **self._common(to_name, to_address, to_greeting),
            "confirm_url": confirm_url,
            "expires": clean(expires),
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
        cold_start: bool = False,
        message_id: str,
        when: datetime,
    ) -> RenderedEmail:
        """Sent once the subscription is confirmed: what comes, when, and how to steer it.
        Without topics it asks for them (one button to the preferences page);
        ``cold_start``: the reader has no interest at all (their digest shows trending or
        newest papers until they name some)."""
        context = {
            **self._common(subscriber.name, subscriber.email, subscriber.greeting_name),
            "links": links,
            "frequency": subscriber.frequency,
            "first_delivery": clean(first_delivery),
            "topics": [clean(t) for t in topics if clean(t)],
            "cold_start": cold_start,
        }
        return self._render_simple("welcome", context, message_id, when, links)

    def manage(
        self,
        subscriber: SubscriberInfo,
        links: RecipientLinks,
        *,
        reason: str,
        message_id: str,
        when: datetime,
    ) -> RenderedEmail:
        """Links to manage a subscription: ``reason`` is ``already_subscribed`` (someone
        filled in the form with an active address) or ``signed_out`` (old links revoked)."""
        context = {
            **self._common(subscriber.name, subscriber.email, subscriber.greeting_name),
            "links": links,
            "reason": reason,
        }
        return self._render_simple("manage", context, message_id, when, links)

    def _common(
        self, name: str | None, address: str, greeting: str | None = None
    ) -> dict[str, Any]:
        return {
            "brand": self.brand,
            "recipient": {
                "email": address,
                "name": clean(name or "")[:100],
                "first_name": greet_as(greeting, name),  # "" for no greeting
            },
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

    def check(self) -> None:
        """Render every email once with sample values: a broken or misused template stops
        the process here, with one ConfigError line, before any ledger row is claimed."""
        when = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
        reader = SubscriberInfo(1, "check@example.org", "Check", link_id="check")
        links = RecipientLinks(
            "https://check.invalid/u/t", "https://check.invalid/p/t", "https://check.invalid/v/t"
        )
        paper = Paper("2501.00001", "A paper", "An abstract. " * 30, ("A. Author",), ("cs.LG",))
        hot = Paper("2501.00002", "Popular", "An abstract. " * 30, ("B. Author",), upvotes=9)
        picks = [Pick(paper.id, 1.0, "matches your topic 'papers'", "papers")]
        also = Pick(hot.id, 1.0, "trending: 9 upvotes", "Also trending", shown=False, trending=True)
        papers = {paper.id: paper, hot.id: hot}
        try:
            edition = self.edition(EditionInfo("daily:2026-01-05", when.date()), papers)
            for cold, chosen in ((False, picks), (True, picks), (False, [*picks, also])):
                edition.render(
                    reader,
                    chosen,
                    links,
                    lambda paper_id, vote: f"https://check.invalid/f/{vote}",
                    message_id="<check@check.invalid>",
                    when=when,
                    cold_start=cold,
                )
            self.confirmation(
                to_name="Check",
                to_address=reader.email,
                confirm_url="https://check.invalid/c/t",
                expires="7 days, until Monday, 12 January at 07:00 (UTC)",
                message_id="<check@check.invalid>",
                when=when,
            )
            for topics in ((), ("papers",)):
                self.welcome(
                    reader,
                    links,
                    first_delivery="tomorrow",
                    topics=topics,
                    cold_start=not topics,
                    message_id="<c@check.invalid>",
                    when=when,
                )
            for reason in ("already_subscribed", "signed_out"):
                self.manage(reader, links, reason=reason, message_id="<c@c.invalid>", when=when)
        except ConfigError as exc:
            raise ConfigError(f"DIGEST_TEMPLATES_DIR: {exc}") from None
        except Exception as exc:
            raise ConfigError(
                f"DIGEST_TEMPLATES_DIR: an email template fails: {type(exc).__name__}: {exc}"
            ) from None

    def finish(self, data: bytes) -> bytes:
        """The last step: DKIM-sign the finished bytes when a key is configured."""
        return self.dkim.sign(data) if self.dkim is not None else data


class PreparedEdition:
    """One edition, ready to render for many readers (one per process and edition; a batch
    adds its papers to ``papers``).

    The digest templates are compiled for the edition (:mod:`digest.render.blocks`):
    blocks once per key (an item per paper, a section per title), the text around them
    once per shape. For a reader no template is rendered: the pieces are joined with the
    reader's values (name, links, reasons) filled in, and only the lines that hold those
    are quoted-printable encoded.
    """

    def __init__(self, renderer: DigestRenderer, edition: EditionInfo, papers: dict[str, Paper]):
        self.renderer = renderer
        self.edition = edition
        self.papers = papers
        self.cards: dict[object, Card] = {}
        self.subjects: dict[tuple[object, ...], str] = {}
        templates = renderer.templates
        self._subject = templates.subject("digest")
        self._html = templates.html("digest")
        self._text = templates.text("digest")
        escaped: dict[str, str] = {}  # escaped values that recur (reasons, names)
        shared = renderer.shared_pieces
        self._blocks = (
            TemplateBlocks(self._html, escaped, shared),
            TemplateBlocks(self._text, escaped, shared),
        )
        self._checked: set[tuple[object, ...]] = set()  # shapes checked against plain Jinja
        self.qp = QPEncoder()  # lines that recur, for the whole edition

    def view(
        self,
        subscriber: SubscriberInfo,
        picks: Sequence[Pick],
        links: RecipientLinks,
        feedback_url: FeedbackUrl,
        *,
        cold_start: bool = False,
        whole: bool = False,
    ) -> dict[str, Any]:
        """The reader's view; ``whole``: every paper with its TL;DR (the web page),
        not only what fits an email."""
        return digest_view(
            subscriber,
            self.edition,
            picks,
            self.papers,
            links,
            feedback_url,
            cold_start=cold_start,
            brand=self.renderer.brand,
            contact_line=self.renderer.contact_line,
            postal_address=self.renderer.postal_address,
            cards=self.cards,
            full_cards=None if whole else FULL_CARDS,
            max_cards=None if whole else MAX_CARDS,
        )

    def subject(self, view: dict[str, Any]) -> str:
        """The reader's subject: made once per first paper, paper count and topics."""
        sections: Sequence[Section] = view["sections"]
        papers = [item.card for section in sections for item in section.items[:3]][:3]
        cold = sections[0].title if view["cold_start"] and sections else ""
        count = view["paper_count"] + view["more_count"]  # the papers on the web count too
        topics = view["topics"]  # the template names two at most, then "and more"
        trending = view["trending_count"]  # of count: not picked for the reader
        key = (
            papers[0].paper_id if papers else "",
            count,
            topics[:2],
            len(topics) > 2,
            cold,
            trending,
        )
        subject = self.subjects.get(key)
        if subject is None:
            if len(self.subjects) > 50_000:  # readers differ: keep the cache bounded
                self.subjects.clear()
            context = {
                "brand": self.renderer.brand,
                "edition": self.edition,
                "paper_count": count,
                "trending_count": trending,
                "cold_start": view["cold_start"],
                "papers": papers,
                "topics": view["topics"],
                "headline": headline,
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
        whole: bool = False,
    ) -> RenderedEmail:
        """The reader's finished email.

        ``reference_build``: the straightforward path instead (the whole templates
        rendered with Jinja, the message built with the ``email`` package), to check the
        fast one against. ``whole``: every paper, with its TL;DR, however big (the web
        page of the edition; an email stops at what keeps it under 90 KB).
        """
        view = self.view(subscriber, picks, links, feedback_url, cold_start=cold_start, whole=whole)
        subject = view["subject"] = self.subject(view)
        html: str | Spliced
        text: str | Spliced
        if reference_build:
            html = self._html.render(view)
            text = self._text.render(view)
        else:
            html, text = self.spliced(view)
        args: dict[str, Any] = {
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
            data = reference.serialize(reference.build_message(writer.sender, **args))
        else:
            data = writer.build(**args, qp=self.qp)
        return RenderedEmail(subject, text, html, message_id, self.renderer.finish(data))

    def spliced(self, view: dict[str, Any]) -> tuple[Spliced, Spliced]:
        """The HTML and text bodies of ``view`` (with its subject), from compiled pieces."""
        sections: Sequence[Section] = view["sections"]
        shape = (
            view["cold_start"],
            view["frequency"],
            view["more_count"],
            *[len(s.items) for s in sections],
        )
        values = scalars(view)
        items: list[Item] = [item for section in sections for item in section.items]
        html_blocks, text_blocks = self._blocks
        html = html_blocks.spliced(view, shape, values, items)
        text = text_blocks.spliced(view, shape, values, items)
        if shape not in self._checked:  # a new shape: checked once against plain Jinja
            for blocks, body in ((html_blocks, html), (text_blocks, text)):
                if str(body) != blocks.template.render(view):
                    raise ConfigError(
                        f"template {blocks.template.name}: the blocks do not give the same "
                        "text as the whole template; see docs/email.md"
                    )
            self._checked.add(shape)
        return html, text
