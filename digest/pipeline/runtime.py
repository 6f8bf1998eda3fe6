"""The runtime a pipeline step needs: settings, database, renderer, signer, transport.

Built once per process (CLI invocation or Celery worker) and passed to the service
functions explicitly; nothing reads a global configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from digest.db import Database
from digest.deliver.throttle import RelayThrottle, Unlimited, throttle_from_settings
from digest.deliver.transports import OutgoingMessage, Transport, transport_from_settings
from digest.deliver.verp import Verp
from digest.links import LinkSigner
from digest.rank import RankOptions
from digest.render import DigestRenderer, RenderedEmail
from digest.settings import Settings


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
            html=email.html,
            name=name,
        )
