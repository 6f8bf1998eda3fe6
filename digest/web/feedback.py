"""👍/👎 from the emails, safe against link scanners.

``GET /f/TOKEN/up`` records nothing: it shows the paper and one button whose POST records
the vote. With JavaScript on, the page submits that form itself once it is visible to a
person (``feedback.js``), so a reader's click still takes one tap; a scanner that only
fetches the URL records nothing. The vote can be undone from the page that confirms it.
Votes reach the ranker through ``feedback_events``: the next digest leans toward (or
away from) the paper's neighbours.

``TOKEN`` is either form of ``digest/links.py``: the short one of digests sent since
short links (a delivery and a position, checked against the reader's current link id once
the delivery is loaded) or the long one of older emails (link id and paper id). Both go
through the same pages: a tampered short token gets the invalid-link page, one made for
a link id the reader no longer has, or whose delivery is gone, the no-longer-works page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.db import accounts
from digest.db.models import SubscriberRow
from digest.links import VOTES, FeedbackRef, LinkError, LinkSigner
from digest.subscriptions import undo_vote, vote
from digest.web.site import LinkProblem, Site

MAX_DELIVERY_ID = 2**31 - 1  # deliveries.id is an INTEGER column
Ref = FeedbackRef | tuple[str, str]  # a short token's reference, or (link id, paper id)
INVALID = "invalid"  # what a database step returns for a short token whose tag is wrong


def routes(site: Site) -> list[Route]:
    pages = site.pages
    signer = site.rt.signer

    def parse(token: str) -> Ref:
        if "." in token:  # the long form, in emails sent before short links
            return site.link_and_value("feedback", token)
        try:
            ref = signer.feedback_ref(token)
        except LinkError:
            raise LinkProblem(site.invalid_link()) from None
        if ref.delivery_id > MAX_DELIVERY_ID:
            raise LinkProblem(site.invalid_link())
        return ref

    def vote_of(request: Request) -> str:
        kind = request.path_params["vote"]
        if kind not in VOTES:
            raise LinkProblem(site.invalid_link())
        return kind

    def answer(state: dict[str, Any] | str | None, **page: Any) -> Response:
        if state is None:
            return site.gone_link()
        if state == INVALID:
            return site.invalid_link()
        return pages.render("feedback.html.j2", paper=state, **page)

    async def ask(request: Request) -> Response:
        token, kind = request.path_params["token"], vote_of(request)
        state = await site.db(_on_target, signer, parse(token), _state)
        return answer(state, token=token, vote=kind, recorded=False)

    async def record(request: Request) -> Response:
        token, kind = request.path_params["token"], vote_of(request)
        now = site.rt.clock()

        def act(session: Session, row: SubscriberRow, paper_id: str) -> dict[str, Any]:
            vote(session, row, paper_id, kind, now)
            return _paper_state(session, row.id, paper_id)

        state = await site.db(_on_target, signer, parse(token), act)
        return answer(state, token=token, vote=kind, recorded=True)

    async def undo(request: Request) -> Response:
        token = request.path_params["token"]
        state = await site.db(_on_target, signer, parse(token), _undo)
        return answer(state, token=token, vote="", recorded=False, undone=True)

    return [
        Route("/f/{token}/undo", undo, methods=["POST"]),
        Route("/f/{token}/{vote}", ask, methods=["GET", "HEAD"]),
        Route("/f/{token}/{vote}", record, methods=["POST"]),
    ]


def feedback_target(
    session: Session, signer: LinkSigner, ref: Ref
) -> tuple[SubscriberRow, str] | str | None:
    """The reader and paper a feedback token names: None when the reader, their link id
    or the delivery is gone, ``INVALID`` when a short token is tampered."""
    if not isinstance(ref, FeedbackRef):
        link_id, paper_id = ref
        row = Site.reader(session, link_id)
        return None if row is None else (row, paper_id)
    found = accounts.delivery_reader(session, ref.delivery_id)
    if found is None:
        return None
    row, picks = found
    pick = picks[ref.position] if ref.position < len(picks) else None
    picked = pick.get("id") if isinstance(pick, dict) else None
    if not isinstance(picked, str):
        return INVALID
    verdict = signer.check_feedback(ref, row.link_id, picked)
    if verdict != "valid":
        return None if verdict == "replaced" else INVALID
    return row, picked


def _on_target(
    session: Session,
    signer: LinkSigner,
    ref: Ref,
    work: Callable[[Session, SubscriberRow, str], dict[str, Any]],
) -> dict[str, Any] | str | None:
    target = feedback_target(session, signer, ref)
    if target is None or isinstance(target, str):
        return target
    return work(session, *target)


def _paper_state(session: Session, subscriber_id: int, paper_id: str) -> dict[str, Any]:
    return {
        "id": paper_id,
        "title": accounts.paper_title(session, paper_id) or paper_id,
        "standing": accounts.latest_vote(session, subscriber_id, paper_id),
    }


def _state(session: Session, row: SubscriberRow, paper_id: str) -> dict[str, Any]:
    return _paper_state(session, row.id, paper_id)


def _undo(session: Session, row: SubscriberRow, paper_id: str) -> dict[str, Any]:
    undo_vote(session, row, paper_id)
    return _paper_state(session, row.id, paper_id)
