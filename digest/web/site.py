"""What every route group shares: the runtime, the pages, the rate limiter, and the one
way a signed link becomes a reader (or a page saying why it cannot)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse

from digest.db import accounts
from digest.db.models import SubscriberRow
from digest.links import LinkError
from digest.pipeline.runtime import Runtime
from digest.subscriptions import Notice, send_notice
from digest.web.pages import Pages
from digest.web.ratelimit import RateLimiter

T = TypeVar("T")

MAX_FORM_FIELDS = 400  # the category checkboxes are the most a form has


class LinkProblem(Exception):
    """A link that cannot be followed; ``response`` is the page that says why."""

    def __init__(self, response: HTMLResponse):
        super().__init__(response.status_code)
        self.response = response


@dataclass
class Site:
    rt: Runtime
    pages: Pages
    limiter: RateLimiter

    async def db(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work(session, *args)`` in one transaction on a worker thread."""

        def call() -> T:
            with self.rt.db.session() as session:
                return work(session, *args)

        return await run_in_threadpool(call)

    async def db_core(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work(connection, *args)`` in one transaction on a worker thread, with a
        plain Core connection (no ORM session): for the hot one-statement paths."""

        def call() -> T:
            with self.rt.db.engine.begin() as connection:
                return work(connection, *args)

        return await run_in_threadpool(call)

    async def allowed(self, key: str, limit: tuple[int, int]) -> bool:
        """Count a hit against a rate limit ``(hits, seconds)``, off the event loop (a Redis
        round trip, or its timeout when Redis is down, must not stall other requests)."""
        return await run_in_threadpool(self.limiter.hit, key, *limit)

    def notify(self, notice: Notice | None) -> BackgroundTask | None:
        """Send ``notice``'s email after the response has gone out: the page never waits
        for (or reveals anything through the timing of) the mail server."""
        return None if notice is None else BackgroundTask(send_notice, self.rt, notice)

    # -- links ------------------------------------------------------------------------
    def link_payload(self, purpose: str, token: str) -> object:
        try:
            return self.rt.signer.verify(purpose, token)
        except LinkError:
            raise LinkProblem(self.invalid_link()) from None

    def link_id(self, purpose: str, token: str) -> str:
        """The reader's link id in a token whose payload is just that (unsubscribe,
        preferences); LinkProblem otherwise."""
        payload = self.link_payload(purpose, token)
        if not isinstance(payload, str):
            raise LinkProblem(self.invalid_link())
        return payload

    def link_and_value(self, purpose: str, token: str) -> tuple[str, str]:
        """The (link id, value) of a token whose payload is that pair (feedback: the
        paper; view: the edition); LinkProblem otherwise."""
        payload = self.link_payload(purpose, token)
        if not (
            isinstance(payload, list)
            and len(payload) == 2
            and all(isinstance(part, str) for part in payload)
        ):
            raise LinkProblem(self.invalid_link())
        return payload[0], payload[1]

    def invalid_link(self) -> HTMLResponse:
        return self.pages.message(
            "This link is not valid",
            "It may have been cut short when it was copied. Open it again from the email, "
            "or copy the whole address.",
            status=400,
        )

    def gone_link(self) -> HTMLResponse:
        return self.pages.message(
            "This link no longer works",
            "It belonged to a subscription that was deleted, or its links were replaced by "
            "newer ones. Use a link from a more recent email, or subscribe again.",
            status=410,
            links=[("/", "Subscribe again")],
        )

    @staticmethod
    def reader(session: Any, link_id: object) -> SubscriberRow | None:
        return accounts.subscriber_by_link(session, link_id) if isinstance(link_id, str) else None


async def form_of(request: Request) -> dict[str, list[str]]:
    """The submitted form as field -> values (strings only; uploads are ignored)."""
    async with request.form(max_files=0, max_fields=MAX_FORM_FIELDS) as form:
        values: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            if isinstance(value, str):
                values.setdefault(key, []).append(value)
        return values
