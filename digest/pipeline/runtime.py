"""The runtime a pipeline step needs: settings, database, renderer, signer, transport.

Built once per process (CLI invocation or Celery worker) and passed to the service
functions explicitly; nothing reads a global configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from digest.db.engine import Database
from digest.deliver.throttle import RelayThrottle, Unlimited, throttle_from_settings
from digest.deliver.transports import OutgoingMessage, Transport, transport_from_settings
from digest.deliver.verp import Verp
from digest.domain import Paper
from digest.links import LinkSigner
from digest.rank import RankOptions
from digest.render import DigestRenderer, EditionInfo, PreparedEdition, RenderedEmail
from digest.settings import Settings

PREPARED_READERS = 20_000
# Prepared editions a process keeps: a batch often holds several (readers whose local date
# differs, daily and weekly), and all of them stay while batches keep bringing them.
PREPARED_EDITIONS = 4


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    renderer: DigestRenderer
    signer: LinkSigner
    transport_factory: Callable[[], Transport]
    clock: Callable[[], datetime] = utcnow
    rank_options: RankOptions = field(default_factory=RankOptions)
    throttle: RelayThrottle = field(default_factory=Unlimited)  # the relay's shared send rate
    verp: Verp | None = None  # per-delivery envelope senders, so bounces name their row
    # Rendering work kept across the batches of one process (compiled blocks, cards).
    prepared: dict[str, PreparedEdition] = field(default_factory=dict)
    prepared_readers: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        db: Database | None = None,
        transport_factory: Callable[[], Transport] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> Runtime:
        renderer = DigestRenderer.from_settings(settings)
        renderer.check()  # a broken template fails here, before any row is claimed
        return cls(
            settings=settings,
            db=db or Database(settings.database_url),
            renderer=renderer,
            signer=LinkSigner(settings.secret_key, settings.base_url),
            transport_factory=transport_factory or (lambda: transport_from_settings(settings)),
            clock=clock,
            rank_options=RankOptions.parse(settings.rank),
            verp=Verp.from_settings(settings),
            throttle=(
                throttle_from_settings(settings, settings.smtp.display)
                if settings.smtp is not None
                else Unlimited()
            ),
        )

    def prepare(
        self, editions: Sequence[EditionInfo], papers: dict[str, Paper], readers: int
    ) -> dict[str, PreparedEdition]:
        """The prepared editions for a batch of ``readers``: compiled once per process and
        edition (a worker gets many batches of the same editions), the batch's papers
        added. Started afresh every ``PREPARED_READERS`` readers, which bounds the caches
        of values seen (names, reasons); editions the batch does not need are dropped,
        oldest first, once ``PREPARED_EDITIONS`` are kept (the batch's own never are: a
        batch of three editions used to drop and compile them all again)."""
        keys = {edition.key for edition in editions}
        for edition in editions:
            prepared = self.prepared.get(edition.key)
            used = self.prepared_readers.get(edition.key, 0)
            if prepared is None or used >= PREPARED_READERS:
                for old in [k for k in self.prepared if k not in keys]:
                    if len(self.prepared) < PREPARED_EDITIONS:
                        break
                    del self.prepared[old]
                    self.prepared_readers.pop(old, None)
                prepared = self.prepared[edition.key] = self.renderer.edition(edition, {})
                used = 0
            prepared.papers.update(papers)
            self.prepared_readers[edition.key] = used + readers
        return self.prepared

    def outgoing(
        self, email: RenderedEmail, recipient: str, name: str, delivery_id: int | None = None
    ) -> OutgoingMessage:
        """A rendered email as the transport takes it. A digest's envelope sender is its
        VERP address (``bounces+<delivery token>@...``), so an asynchronous bounce names
        the ledger row; other emails use the sender address."""
        sender = self.settings.from_address
        if delivery_id is not None and self.verp is not None:
            sender = self.verp.address(delivery_id)
        return OutgoingMessage(
            sender=sender,
            recipient=recipient,
            data=email.data,
            message_id=email.message_id,
            html_later=lambda: email.html,  # joined only by a transport that keeps it
            name=name,
        )
