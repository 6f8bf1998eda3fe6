"""The subscription site as one ASGI app (Starlette), served by ``digest web`` (uvicorn).

Every link in our emails lands here. One module per route group, each calling the same
service functions as the CLI (``digest.subscriptions``):

    /                         today's papers and the subscribe box (home.py)
    /subscribe, /c/TOKEN      sign up, confirm (subscribe.py)
    /u/TOKEN                  unsubscribe, RFC 8058 one-click (unsubscribe.py)
    /p/TOKEN                  preferences, pause, sign out, delete, archive (preferences.py)
    /f/TOKEN/up|down          👍/👎 (feedback.py)
    /v/EDITION/TOKEN          a digest as sent (archive.py)
    /healthz                  the database answers
    /metrics                  Prometheus metrics, only when configured (metrics.py)

GETs only render; every change is a POST.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import anyio.to_thread
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from digest.db.engine import POOL_SIZE
from digest.errors import ConfigError
from digest.pipeline.runtime import Runtime
from digest.settings import Settings
from digest.web import archive, feedback, home, metrics, preferences, subscribe, unsubscribe
from digest.web.pages import Pages
from digest.web.ratelimit import RateLimiter, limiter_for
from digest.web.security import DeclaredBodyLimit, SecurityHeaders
from digest.web.site import LinkProblem, Site

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024  # the largest honest form is a few KB


def check_settings(settings: Settings) -> None:
    """Refuse to serve a public (https) site whose links are signed with the key generated
    for the demo: it lives in a file beside the database and was never chosen by anyone."""
    if settings.links_are_https and settings.secret_key_generated:
        raise ConfigError(
            "DIGEST_SECRET_KEY: set a secret key of your own for a public (https) site; "
            "the generated demo key is only for local use "
            "(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )


def create_app(rt: Runtime, *, limiter: RateLimiter | None = None) -> Starlette:
    settings = rt.settings
    check_settings(settings)
    pages = Pages(settings.templates_dir, brand=settings.site_name, base_url=settings.base_url)
    site = Site(rt, pages, limiter or limiter_for(settings.redis_url))
    cache = home.PageCache(settings.web_cache_seconds)

    async def healthz(request: Request) -> Response:
        try:
            await site.db(_ping)
        except SQLAlchemyError as exc:
            log.warning("healthz: database unreachable: %s", exc)
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    async def link_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LinkProblem)
        return exc.response

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        titles = {
            404: ("Page not found", "There is nothing at this address."),
            405: ("Not allowed", "This address does not take that kind of request."),
            413: ("Too much data", "What you sent is larger than any form of ours."),
        }
        title, message = titles.get(
            exc.status_code, ("Something is wrong", "The request could not be read.")
        )
        return pages.message(
            title, message, status=exc.status_code, links=[("/", "Today's papers")]
        )

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return pages.message(
            "Something went wrong on our side",
            "Nothing you did caused this. Please try again in a minute.",
            status=500,
        )

    def too_large() -> Response:
        return pages.message(
            "Too much data", "What you sent is larger than any form of ours.", status=413
        )

    routes = [
        *home.routes(site, cache),
        *subscribe.routes(site),
        *unsubscribe.routes(site),
        *preferences.routes(site),
        *feedback.routes(site),
        *archive.routes(site),
        *metrics.routes(rt),
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Mount("/static", StaticFiles(directory=pages.static_dir), name="static"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # As many worker threads as pooled database connections: more would each open and
        # close a connection of their own under load.
        anyio.to_thread.current_default_thread_limiter().total_tokens = POOL_SIZE
        yield
        rt.db.dispose()

    app = Starlette(
        lifespan=lifespan,
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders, https=settings.links_are_https),
            Middleware(DeclaredBodyLimit, limit=MAX_BODY_BYTES, too_large=too_large),
            Middleware(RequestBodyLimitMiddleware, max_body_size=MAX_BODY_BYTES),
        ],
        exception_handlers={
            LinkProblem: link_problem,
            HTTPException: http_error,
            Exception: server_error,
        },
    )
    app.state.site = site
    return app


def _ping(session: Session) -> None:
    session.execute(text("SELECT 1"))
