"""One error hierarchy for the whole project.

Adapters translate library exceptions (SQLAlchemy, smtplib, httpx, ...) into these at the
boundary, so the CLI can print one clear line and exit non-zero instead of a traceback.
"""

from __future__ import annotations


class DigestError(Exception):
    """Base class: an expected failure with a message meant for a human."""

    exit_code = 1


class ConfigError(DigestError):
    """A setting has a wrong value or names a server that does not answer."""

    exit_code = 2


class InputError(DigestError):
    """User-supplied data (an address, a file row, an option) is invalid."""

    exit_code = 2


class NotFoundError(DigestError):
    """A named object (subscriber, paper, source) does not exist."""

    exit_code = 3


class FetchError(DigestError):
    """A source could not be fetched (HTTP, a file); ``permanent`` when retrying later
    cannot help (404, too large, ...), ``status`` the HTTP status when there was one.

    Exit code 1: a failed source is a partial failure, the other sources are stored.
    """

    exit_code = 1

    def __init__(self, message: str, *, permanent: bool = False, status: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.status = status


class ParseError(InputError):
    """A document as a whole cannot be parsed (not JSON, not XML, wrong shape); one bad
    item of a readable document is reported with its number instead."""


class TransportError(DigestError):
    """Sending a message failed.

    ``permanent`` is True when retrying cannot help (a 5xx reply for that recipient),
    False for temporary failures (connection lost, 4xx reply, timeout).
    """

    def __init__(self, message: str, *, permanent: bool = False, code: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.code = code


class SessionError(TransportError):
    """The relay session failed (cannot connect, login refused, TLS, 421 or 530 for the
    whole session): no recipient's fault. The batch stops and leaves its unsent rows open,
    so they go out once the relay works again; nothing is marked failed."""


class EditionPaused(SessionError):
    """Many providers refused this edition by policy (5.7.x: spam filters, SPF/DKIM/DMARC):
    the fault is ours, not the readers', so nothing more is sent and nobody is suppressed
    until an operator resumes the edition."""


class ThrottleUnavailable(SessionError):
    """The shared SMTP rate limit cannot be consulted (its Redis does not answer). Sending
    without it could exceed the relay's limit many times over (every worker at the full
    rate), so the batch stops like a failed relay session and its rows stay open."""


class RateLimited(SessionError):
    """The next free slot of the shared SMTP rate limit is further away than the caller may
    wait (``acquire(max_wait=...)``); nothing was reserved. ``retry_after`` is in seconds."""

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after
