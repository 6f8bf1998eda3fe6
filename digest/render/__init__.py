"""Rendering: (subscriber, picks, links) -> a finished email. Pure apart from reading templates."""

from digest.render.digest_email import DigestRenderer, EditionInfo, RenderedEmail, digest_view
from digest.render.templates import EmailTemplates

__all__ = ["DigestRenderer", "EditionInfo", "EmailTemplates", "RenderedEmail", "digest_view"]
