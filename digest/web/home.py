"""The home page: a day's trending papers under the subscribe box, like the page we are
modelled on, with a switcher for earlier days.

Every visitor of a day sees the same page, so it is rendered once per day and page, kept
for ``DIGEST_WEB_CACHE_SECONDS`` (gzip-compressed too), and answered with an ETag: a
cached request costs a dict lookup, not a query.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.db.papers import listing_days, papers_listed_on
from digest.domain import Paper
from digest.render.view import authors_line
from digest.subscriber_spec import SubscriberSpec
from digest.web.forms import form_values
from digest.web.site import Site

PER_PAGE = 30
MAX_PAGES = 20


@dataclass(frozen=True, slots=True)
class CachedPage:
    body: bytes
    gzipped: bytes
    etag: str
    expires: float


class PageCache:
    """Rendered pages by key, each kept ``ttl`` seconds."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._pages: dict[object, CachedPage] = {}
        self._lock = threading.Lock()

    def get(self, key: object) -> CachedPage | None:
        page = self._pages.get(key)
        if page is None or page.expires < self.clock():
            return None
        return page

    def put(self, key: object, body: bytes) -> CachedPage:
        page = CachedPage(
            body=body,
            gzipped=gzip.compress(body, compresslevel=6, mtime=0),
            etag='"' + hashlib.sha256(body).hexdigest()[:20] + '"',
            expires=self.clock() + self.ttl,
        )
        with self._lock:
            if len(self._pages) > 500:
                self._pages.clear()
            self._pages[key] = page
        return page


def paper_card(paper: Paper) -> dict[str, Any]:
    """What the home page shows of a paper (every link http(s) only)."""
    links = {k: v for k, v in paper.links.items() if v.startswith(("https://", "http://"))}
    code = links.get("github") or links.get("code") or ""
    return {
        "id": paper.id,
        "title": paper.title,
        "authors": authors_line(paper.authors, limit=8),
        "upvotes": paper.upvotes,
        "stars": paper.github_stars,
        "comments": paper.num_comments,
        "categories": list(paper.categories[:5]),
        "abstract": paper.abstract,
        "summary": paper.ai_summary or "",
        "abs_url": paper.abs_url if paper.abs_url.startswith("http") else "",
        "pdf_url": paper.pdf_url,
        "hf_url": links.get("hf", ""),
        "code_url": code,
        "project_url": links.get("project", ""),
    }


def _parse_day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _parse_page(text: str | None) -> int | None:
    if not text:
        return 1
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGES:
        return None
    return int(text)


def home_context(session: Session, day: date | None, page: int) -> dict[str, Any] | None:
    """The page's values, or None when the asked day has no papers."""
    days = listing_days(session)
    if day is None:
        day = days[0] if days else None
    elif day not in days and not papers_listed_on(session, day, limit=1):
        return None
    papers = papers_listed_on(session, day, limit=PER_PAGE * MAX_PAGES) if day else []
    start = (page - 1) * PER_PAGE
    shown = papers[start : start + PER_PAGE]
    if day is not None and page > 1 and not shown:
        return None
    newer = [d for d in days if day is not None and d > day]
    older = [d for d in days if day is not None and d < day]
    return {
        "day": day,
        "days": days[:30],
        "newer": newer[-1] if newer else None,
        "older": older[0] if older else None,
        "papers": [paper_card(p) for p in shown],
        "first_number": start + 1,
        "total": len(papers),
        "page": page,
        "pages": max(1, -(-len(papers) // PER_PAGE)),
    }


def routes(site: Site, cache: PageCache) -> list[Route]:
    defaults = form_values(SubscriberSpec(email=""))

    async def home(request: Request) -> Response:
        raw_day = request.query_params.get("day")
        day = _parse_day(raw_day)
        page = _parse_page(request.query_params.get("page"))
        if (raw_day and day is None) or page is None:
            return site.pages.message(
                "No such page",
                "That day or page does not exist.",
                status=404,
                links=[("/", "Today's papers")],
            )
        key = (day, page)
        cached = cache.get(key)
        if cached is None:
            context = await site.db(home_context, day, page)
            if context is None:
                return site.pages.message(
                    "No papers that day",
                    "We have no papers listed for that day.",
                    status=404,
                    links=[("/", "Today's papers")],
                )
            body = site.pages.render_text(
                "home.html.j2", values=defaults, errors={}, **context
            ).encode("utf-8")
            cached = cache.put(key, body)
        return cached_response(request, cached, max_age=int(cache.ttl))

    return [Route("/", home, methods=["GET", "HEAD"])]


def cached_response(request: Request, page: CachedPage, *, max_age: int) -> Response:
    headers = {
        "ETag": page.etag,
        "Cache-Control": f"public, max-age={max_age}",
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == page.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(page.gzipped, media_type="text/html; charset=utf-8", headers=headers)
    return Response(page.body, media_type="text/html; charset=utf-8", headers=headers)
