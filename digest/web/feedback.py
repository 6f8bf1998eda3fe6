"""👍/👎 from the emails, safe against link scanners.

``GET /f/TOKEN/up`` records nothing: it shows the paper and one button whose POST records
the vote. With JavaScript on, the page submits that form itself once it is visible to a
person (``feedback.js``), so a reader's click still takes one tap; a scanner that only
fetches the URL records nothing. The vote can be undone from the page that confirms it.
Votes reach the ranker through ``feedback_events``: the next digest leans toward (or
away from) the paper's neighbours.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.db import accounts
from digest.links import VOTES
from digest.subscriptions import undo_vote, vote
from digest.web.site import LinkProblem, Site


def routes(site: Site) -> list[Route]:
    pages = site.pages

    def parse(token: str) -> tuple[str, str]:
        return site.link_and_value("feedback", token)

    def vote_of(request: Request) -> str:
        kind = request.path_params["vote"]
        if kind not in VOTES:
            raise LinkProblem(site.invalid_link())
        return kind

    async def ask(request: Request) -> Response:
        token, kind = request.path_params["token"], vote_of(request)
        link_id, paper_id = parse(token)
        state = await site.db(_state, link_id, paper_id)
        if state is None:
            return site.gone_link()
        return pages.render("feedback.html.j2", token=token, vote=kind, paper=state, recorded=False)

    async def record(request: Request) -> Response:
        token, kind = request.path_params["token"], vote_of(request)
        link_id, paper_id = parse(token)
        state = await site.db(_vote, link_id, paper_id, kind, site.rt.clock())
        if state is None:
            return site.gone_link()
        return pages.render("feedback.html.j2", token=token, vote=kind, paper=state, recorded=True)

    async def undo(request: Request) -> Response:
        token = request.path_params["token"]
        link_id, paper_id = parse(token)
        state = await site.db(_undo, link_id, paper_id)
        if state is None:
            return site.gone_link()
        return pages.render(
            "feedback.html.j2", token=token, vote="", paper=state, recorded=False, undone=True
        )

    return [
        Route("/f/{token}/undo", undo, methods=["POST"]),
        Route("/f/{token}/{vote}", ask, methods=["GET", "HEAD"]),
        Route("/f/{token}/{vote}", record, methods=["POST"]),
    ]


def _paper_state(session: Session, subscriber_id: int, paper_id: str) -> dict[str, Any]:
    return {
        "id": paper_id,
        "title": accounts.paper_title(session, paper_id) or paper_id,
        "standing": accounts.latest_vote(session, subscriber_id, paper_id),
    }


def _state(session: Session, link_id: str, paper_id: str) -> dict[str, Any] | None:
    row = Site.reader(session, link_id)
    return None if row is None else _paper_state(session, row.id, paper_id)


def _vote(
    session: Session, link_id: str, paper_id: str, kind: str, now: datetime
) -> dict[str, Any] | None:
    row = Site.reader(session, link_id)
    if row is None:
        return None
    vote(session, row, paper_id, kind, now)
    return _paper_state(session, row.id, paper_id)


def _undo(session: Session, link_id: str, paper_id: str) -> dict[str, Any] | None:
    row = Site.reader(session, link_id)
    if row is None:
        return None
    undo_vote(session, row, paper_id)
    return _paper_state(session, row.id, paper_id)
