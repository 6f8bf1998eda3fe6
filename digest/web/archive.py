""" "View in browser": a digest as it was sent.

The ledger keeps each sent digest's picks (ids, reasons, sections), so the page is the same
email rendered again from them with the same Message-ID and links, whole: where the email
stopped ("and N more on the web", to stay under 90 KB) the page shows every paper; it is
served with the email's own HTML (inline styles) under a CSP that allows no script and no
form.
"""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest.db import accounts
from digest.db.papers import papers_by_ids
from digest.db.subscribers import recipient_from_row
from digest.pipeline.runtime import Runtime
from digest.pipeline.service import render_delivery
from digest.web.security import EMAIL_CSP
from digest.web.site import Site


def routes(site: Site) -> list[Route]:
    async def view(request: Request) -> Response:
        token = request.path_params["token"]
        link_id, edition_key = site.link_and_value("view", token)
        if request.path_params["edition"] != edition_key:
            return site.invalid_link()
        html = await site.db(_render, site.rt, link_id, edition_key)
        if html is GONE:
            return site.gone_link()
        if html is None:
            return site.pages.message(
                "This digest is not here",
                "It was never sent, or its subscription was deleted.",
                status=404,
            )
        return HTMLResponse(
            html, headers={"Content-Security-Policy": EMAIL_CSP, "Cache-Control": "no-store"}
        )

    return [Route("/v/{edition}/{token}", view, methods=["GET", "HEAD"])]


GONE = "gone"  # the link's reader no longer exists (deleted, or their links replaced)


def _render(session: Session, rt: Runtime, link_id: str, edition_key: str) -> str | None:
    row = Site.reader(session, link_id)
    if row is None:
        return GONE
    found = accounts.sent_delivery(session, row.id, edition_key)
    if found is None:
        return None
    delivery, edition = found
    picks = [str(p["id"]) for p in delivery.picks or []]
    papers = papers_by_ids(session, picks)
    recipient = recipient_from_row(row)
    return render_delivery(rt, delivery, recipient, edition, papers, whole=True).html
