"""The preference centre: every interest the CLI can set, frequency, hour, time zone, a
pause, "sign me out of all links", "delete my data", and the reader's past digests.

Reached through the signed preferences link of an email. Every form carries a CSRF token
bound to the reader and the form (a day's validity), so another site cannot submit it
even with a copied link in hand; a POST without it changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from digest.db import accounts, subscribers
from digest.db.models import SubscriberRow
from digest.render.view import greeting_name
from digest.subscriber_spec import SubscriberSpec
from digest.subscriptions import (
    Notice,
    forget,
    pause,
    resume,
    sign_out_everywhere,
    update_preferences,
)
from digest.web.forms import form_values, parse_interest_form
from digest.web.site import LinkProblem, Site, form_of

PAUSE_CHOICES = (1, 2, 4, 8, 12)


def routes(site: Site) -> list[Route]:
    pages, signer = site.pages, site.rt.signer

    def csrf_ok(form: dict[str, list[str]], link_id: str, name: str) -> bool:
        token = (form.get("csrf") or [""])[0]
        return signer.check_csrf(token, link_id, name, now=site.rt.clock().timestamp())

    def stale_form() -> HTMLResponse:
        return pages.message(
            "This form has expired",
            "For your safety, forms work for a day. Go back, reload the page and try again.",
            status=403,
        )

    async def page(token: str, link_id: str, *, status: int = 200, **kw: Any) -> Response:
        """The preferences page of the reader as stored now (gone when they are not)."""
        state = await site.db(_state, link_id)
        if state is None:
            return site.gone_link()
        return render(token, link_id, state, status=status, **kw)

    def render(
        token: str, link_id: str, row_state: dict[str, Any], *, status: int = 200, **kw: Any
    ) -> Response:
        kw.setdefault("values", row_state["values"])
        kw.setdefault("errors", {})
        kw.setdefault("saved", False)
        # The greeting the reader gets when they leave "What should we call you?" empty.
        kw.setdefault("derived_greeting", greeting_name(str(kw["values"].get("name") or "")))
        return pages.render(
            "preferences.html.j2",
            status=status,
            token=token,
            reader=row_state,
            csrf={
                name: signer.csrf_token(link_id, name, now=site.rt.clock().timestamp())
                for name in ("preferences", "pause", "signout", "delete")
            },
            pause_choices=PAUSE_CHOICES,
            unsubscribe_url=signer.unsubscribe_url(link_id),
            **kw,
        )

    def link_of(token: str) -> str:
        return site.link_id("preferences", token)

    async def show(request: Request) -> Response:
        token = request.path_params["token"]
        saved = request.query_params.get("saved") == "1"
        return await page(token, link_of(token), saved=saved)

    async def save(request: Request) -> Response:
        token, link_id, form = await checked(request, "preferences")
        result = parse_interest_form(form, email_field=False)
        if not result.ok:
            return await page(
                token, link_id, status=400, values=result.values, errors=result.errors
            )
        assert result.spec is not None
        done = await site.db(_save, link_id, result.spec, site.rt.clock())
        if not done:
            return site.gone_link()
        return RedirectResponse(f"/p/{token}?saved=1", status_code=303)

    async def checked(request: Request, name: str) -> tuple[str, str, dict[str, list[str]]]:
        """The token, link id and fields of a form POST (the "form expired" page, raised,
        when its CSRF token is missing or wrong)."""
        token = request.path_params["token"]
        link_id = link_of(token)
        form = await form_of(request)
        if not csrf_ok(form, link_id, name):
            raise LinkProblem(stale_form())
        return token, link_id, form

    async def pause_or_resume(request: Request) -> Response:
        token, link_id, form = await checked(request, "pause")
        weeks = (form.get("weeks") or [""])[0]
        done = await site.db(_pause, link_id, weeks, site.rt.clock())
        if not done:
            return site.gone_link()
        return RedirectResponse(f"/p/{token}?saved=1", status_code=303)

    async def sign_out(request: Request) -> Response:
        _, link_id, _ = await checked(request, "signout")
        notice = await site.db(_sign_out, link_id, site.rt.clock())
        if notice is None:
            return site.gone_link()
        return pages.message(
            "All your links were replaced",
            "The links in every email we have sent you no longer work, this page's too. "
            "We have emailed you new ones.",
            background=site.notify(notice),
        )

    async def delete(request: Request) -> Response:
        token, link_id, form = await checked(request, "delete")
        if (form.get("confirm") or [""])[0] != "yes":
            return await page(
                token,
                link_id,
                status=400,
                delete_error="Tick the box to confirm that everything should be deleted.",
            )
        if not await site.db(_forget, link_id):
            return site.gone_link()
        return pages.message(
            "Your data is deleted",
            "Your address, interests, votes and the record of every digest we sent you are "
            "gone. You will get no more emails from us.",
            links=[("/", "Back to today's papers")],
        )

    async def archive(request: Request) -> Response:
        token = request.path_params["token"]
        link_id = link_of(token)
        past = await site.db(_archive, link_id)
        if past is None:
            return site.gone_link()
        digests = [
            {
                "label": d.edition_key,
                "day": d.period_start,
                "sent_at": d.sent_at,
                "papers": d.papers,
                "url": signer.view_url(link_id, d.edition_key),
            }
            for d in past
        ]
        return pages.render("archive.html.j2", token=token, digests=digests)

    return [
        Route("/p/{token}", show, methods=["GET", "HEAD"]),
        Route("/p/{token}", save, methods=["POST"]),
        Route("/p/{token}/pause", pause_or_resume, methods=["POST"]),
        Route("/p/{token}/signout", sign_out, methods=["POST"]),
        Route("/p/{token}/delete", delete, methods=["POST"]),
        Route("/p/{token}/archive", archive, methods=["GET", "HEAD"]),
    ]


def _state_of(row: SubscriberRow) -> dict[str, Any]:
    spec = subscribers.spec_from_row(row)
    return {
        "email": row.email,
        "status": row.status,
        "paused_until": row.paused_until,
        "values": form_values(spec),
    }


def _state(session: Session, link_id: str) -> dict[str, Any] | None:
    row = Site.reader(session, link_id)
    return None if row is None else _state_of(row)


def _save(session: Session, link_id: str, spec: SubscriberSpec, now: datetime) -> bool:
    row = Site.reader(session, link_id)
    if row is None:
        return False
    update_preferences(session, row, spec, now)
    return True


def _pause(session: Session, link_id: str, weeks: str, now: datetime) -> bool:
    row = Site.reader(session, link_id)
    if row is None:
        return False
    if weeks == "resume":
        resume(session, row, now)
    elif weeks.isdigit() and int(weeks) in PAUSE_CHOICES and row.status in ("active", "paused"):
        pause(session, row, int(weeks), now)
    return True


def _sign_out(session: Session, link_id: str, now: datetime) -> Notice | None:
    row = Site.reader(session, link_id)
    return None if row is None else sign_out_everywhere(session, row, now)


def _forget(session: Session, link_id: str) -> bool:
    row = Site.reader(session, link_id)
    if row is None:
        return False
    forget(session, row)
    return True


def _archive(session: Session, link_id: str) -> list[accounts.PastDigest] | None:
    row = Site.reader(session, link_id)
    return None if row is None else accounts.past_digests(session, row.id)
