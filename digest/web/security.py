"""Security headers on every response, and what the handlers need to know of a client.

The site serves no third-party content: a strict Content Security Policy (our own styles
and scripts only, no inline script, no framing), no referrer (personal links carry tokens
that must never leak to arXiv or GitHub through a Referer header), no MIME sniffing.
A response may set its own CSP (the "view in browser" page shows the email's own HTML,
which has inline styles) and keeps it.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The digest's own HTML (inline styles, remote images allowed, nothing active).
EMAIL_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)


class SecurityHeaders:
    """Pure ASGI middleware: adds the headers a response did not set itself."""

    def __init__(self, app: ASGIApp, *, https: bool):
        self.app = app
        self.headers = {
            "content-security-policy": CSP,
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
            "x-frame-options": "DENY",
            "cross-origin-opener-policy": "same-origin",
            "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
        }
        if https:
            self.headers["strict-transport-security"] = "max-age=31536000"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class DeclaredBodyLimit:
    """Answer a request whose Content-Length is over ``limit`` with ``too_large`` (a page)
    before anything reads it. Bodies without a length (chunked) are cut by Starlette's own
    ``max_body_size`` as they stream."""

    def __init__(self, app: ASGIApp, *, limit: int, too_large: Callable[[], Response]):
        self.app = app
        self.limit = limit
        self.too_large = too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = Headers(scope=scope).get("content-length", "")
            if length.isdigit() and int(length) > self.limit:
                await self.too_large()(scope, receive, send)
                return
        await self.app(scope, receive, send)


def client_ip(request: Request) -> str:
    """The client's address as the server sees it (behind a proxy, run uvicorn with
    ``--forwarded-allow-ips`` so this is the visitor's, not the proxy's)."""
    return request.client.host if request.client else ""
