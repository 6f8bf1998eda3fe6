"""The runtime a pipeline step needs: settings, database, renderer, signer, transport.

Built once per process (CLI invocation or Celery worker) and passed to the service
functions explicitly; nothing reads a global configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from digest.db import Database
from digest.deliver.transports import OutgoingMessage, Transport, transport_from_settings
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
        )

    def outgoing(self, email: RenderedEmail, recipient: str, name: str) -> OutgoingMessage:
        """A rendered email as the transport takes it, from our sender address."""
        return OutgoingMessage(
            sender=self.settings.from_address,
            recipient=recipient,
            data=email.data,
            message_id=email.message_id,
            html=email.html,
            name=name,
        )
