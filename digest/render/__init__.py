"""Rendering: (subscriber, picks, links) -> a finished email. Pure apart from reading templates."""

from digest.render.digest_email import DigestRenderer, PreparedEdition, RenderedEmail
from digest.render.mime import MimeWriter, Sender
from digest.render.templates import EmailTemplates
from digest.render.view import Card, EditionInfo, digest_view

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
