"""Rendering: (subscriber, picks, links) -> a finished email. Pure apart from reading templates."""

from digest.render.digest_email import (
    Card,
    DigestRenderer,
    EditionInfo,
    PreparedEdition,
    RenderedEmail,
    digest_view,
)
from digest.render.mime import MimeWriter, Sender
from digest.render.templates import EmailTemplates

__all__ = [
    "Card",
    "DigestRenderer",
    "EditionInfo",
    "EmailTemplates",
    "MimeWriter",
    "PreparedEdition",
    "RenderedEmail",
    "Sender",
    "digest_view",
]
