"""Delivery adapters: transports (SMTP, outbox folder, memory)."""

from digest.deliver.transports import (
    MemoryTransport,
    OutboxTransport,
    OutgoingMessage,
    SmtpTransport,
    Transport,
    transport_from_settings,
)

__all__ = [
    "MemoryTransport",
    "OutboxTransport",
    "OutgoingMessage",
    "SmtpTransport",
    "Transport",
    "transport_from_settings",
]
