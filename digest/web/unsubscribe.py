"""Unsubscribing: one page, one button, and RFC 8058 one-click.

``GET /u/TOKEN`` only shows the page (link scanners fetch every link in a message).
``POST /u/TOKEN`` unsubscribes at once: it is also the ``List-Unsubscribe`` URL that
Gmail and Yahoo POST ``List-Unsubscribe=One-Click`` to, with no cookie, no CSRF token and
no login; it answers 200 (never a redirect) and is idempotent. The token itself (signed,
for this purpose only) is the credential. The page offers a pause or a weekly digest
instead, and after leaving, a way back.
"""

from __future__ import annotations

import asyncio
import html
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest.db import accounts
from digest.db.models import SubscriberRow
from digest.subscriptions import (
    Consent,
    Notice,
    hash_ip,
    pause,
    resubscribe,
    set_frequency,
)
from digest.web.pages import NO_STORE
from digest.web.security import client_ip
from digest.web.site import Site, form_of

RESUBSCRIBE_VERSION = "unsubscribe-page-2026-12"
PAUSE_CHOICES = (1, 2, 4, 8)


class GroupedUnsubscribes:
    """One-click POSTs committed in groups: while one group's transaction runs, the POSTs
    that arrive wait and then go together in the next one (one thread hop, one UPDATE and
    one commit for all of them). Alone, a POST is its own group, as fast as before; after a
    big edition, when mailbox providers send thousands at once, the cost per POST falls.
    Each POST is still answered only after its own change has committed."""

    MAX_GROUP = 500

    def __init__(self, site: Site):
        self.site = site
        self.waiting: list[tuple[str, asyncio.Future[bool | None]]] = []
        self.draining: asyncio.Task[None] | None = None

    async def unsubscribe(self, link_id: str) -> bool | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool | None] = loop.create_future()
        self.waiting.append((link_id, future))
        if self.draining is None or self.draining.get_loop() is not loop:
            # (a task of another, closed event loop, as test clients may leave, never runs)
            self.draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.waiting:
                group = [(i, f) for i, f in self.waiting[: self.MAX_GROUP] if f.get_loop() is loop]
                del self.waiting[: self.MAX_GROUP]
                if not group:
                    continue
                ids = [link_id for link_id, _ in group]
                try:
                    done = await self.site.db_core(
                        accounts.unsubscribe_many, ids, self.site.rt.clock()
                    )
                except Exception as exc:  # every POST of the group gets the error page
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for link_id, future in group:
                    if not future.done():
                        future.set_result(done[link_id])
        finally:
            self.draining = None


def routes(site: Site) -> list[Route]:
    pages = site.pages
    grouped = GroupedUnsubscribes(site)

    def page(token: str, state: dict[str, Any], **extra: Any) -> Response:
        return pages.render(
            "unsubscribe.html.j2",
            token=token,
            reader=state,
            pause_choices=PAUSE_CHOICES,
            done=extra.pop("done", ""),
            **extra,
        )

    async def show(request: Request) -> Response:
        token = request.path_params["token"]
        link_id = site.link_id("unsubscribe", token)
        state = await site.db(_state, link_id)
        if state is None:
            return site.gone_link()
        return page(token, state)

    # The page after an unsubscribe is the same for everyone but for the token in its
    # "subscribe me again" form: rendered once, the token put in per request (the hot path
    # of a one-click storm after a big edition).
    placeholder = "TOKEN-PLACEHOLDER"
    unsubscribed = pages.render_text(
        "unsubscribe.html.j2",
        token=placeholder,
        reader={"status": "unsubscribed", "frequency": ""},
        pause_choices=PAUSE_CHOICES,
        done="unsubscribed",
    )

    async def one_click(request: Request) -> Response:
        """The unsubscribe POST: the page's button and RFC 8058 one-click alike."""
        token = request.path_params["token"]
        link_id = site.link_id("unsubscribe", token)
        changed = await grouped.unsubscribe(link_id)
        if changed is None:
            return site.gone_link()
        page_html = unsubscribed.replace(placeholder, html.escape(token))
        return HTMLResponse(page_html, headers=NO_STORE)

    async def act(request: Request) -> Response:
        token = request.path_params["token"]
        action = request.path_params["action"]
        link_id = site.link_id("unsubscribe", token)
        form = await form_of(request)
        weeks = (form.get("weeks") or ["4"])[0]
        consent = Consent(
            "resubscribe",
            hash_ip(site.rt.settings.secret_key, client_ip(request)),
            RESUBSCRIBE_VERSION,
        )
        outcome = await site.db(_act, link_id, action, weeks, consent, site.rt.clock())
        if outcome is None:
            return site.gone_link()
        state, notice, done = outcome
        if done == "resubscribed":  # the old links (this one too) were replaced
            return pages.message(
                "Welcome back",
                "You are subscribed again. We have emailed you a welcome message with your "
                "new links: the links in earlier emails no longer work.",
                background=site.notify(notice),
            )
        return page(token, state, done=done)

    return [
        Route("/u/{token}", show, methods=["GET", "HEAD"]),
        Route("/u/{token}", one_click, methods=["POST"]),
        Route("/u/{token}/{action:str}", act, methods=["POST"]),
    ]


def _state_of(row: SubscriberRow) -> dict[str, Any]:
    return {
        "status": row.status,
        "frequency": row.frequency,
        "paused_until": row.paused_until,
        "timezone": row.timezone,
    }


def _state(session: Session, link_id: object) -> dict[str, Any] | None:
    row = Site.reader(session, link_id)
    return None if row is None else _state_of(row)


def _act(
    session: Session,
    link_id: object,
    action: str,
    weeks: str,
    consent: Consent,
    now: datetime,
) -> tuple[dict[str, Any], Notice | None, str] | None:
    row = Site.reader(session, link_id)
    if row is None:
        return None
    notice: Notice | None = None
    done = ""
    if action == "pause" and row.status in ("active", "paused"):
        count = int(weeks) if weeks.isdigit() and int(weeks) in PAUSE_CHOICES else 4
        pause(session, row, count, now)
        done = "paused"
    elif action == "weekly" and row.status in ("active", "paused"):
        set_frequency(session, row, "weekly", now)
        done = "weekly"
    elif action == "resubscribe" and row.status in ("unsubscribed", "bounced"):
        notice = resubscribe(session, row, consent, now)
        done = "resubscribed"
    return _state_of(row), notice, done
