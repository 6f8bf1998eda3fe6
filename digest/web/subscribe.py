"""Signing up and confirming: the subscribe form, "check your inbox", the confirm button.

The answer to a valid form is the same redirect whatever the address's state (new,
pending, active, unsubscribed): the database work and the email happen after the response
has gone out, so neither the page nor its timing says whether an address is known. A GET
of a confirmation link only shows a button; its POST confirms.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from digest.db.models import SubscriberRow
from digest.links import ExpiredLink, LinkError
from digest.subscriber_spec import SubscriberSpec
from digest.subscriptions import (
    ConfirmResult,
    Consent,
    Notice,
    confirm,
    hash_ip,
    lifetime_text,
    resend_confirmation,
    send_notice,
    sign_up,
)
from digest.web.forms import form_values, is_bot, parse_interest_form
from digest.web.security import client_ip
from digest.web.site import LinkProblem, Site, form_of

log = logging.getLogger(__name__)

FORM_VERSION = "subscribe-2026-12"  # change with the form's consent wording
IP_LIMIT = (20, 3600)  # sign-ups per client IP per hour
ADDRESS_LIMIT = (5, 3600)  # sign-ups per address per hour (the emails: 3 a day, in the db)


def routes(site: Site) -> list[Route]:
    pages = site.pages
    defaults = form_values(SubscriberSpec(email=""))
    link_lifetime = lifetime_text(site.rt.settings.confirm_link_hours)

    async def subscribe_page(request: Request) -> Response:
        return pages.render(
            "subscribe.html.j2",
            values=defaults,
            errors={},
            headers={"Cache-Control": "public, max-age=300"},
        )

    async def subscribe(request: Request) -> Response:
        ip = client_ip(request)
        if not await site.allowed(f"subscribe-ip:{ip}", IP_LIMIT):
            return too_many()
        form = await form_of(request)
        if is_bot(form):
            return RedirectResponse("/subscribe/sent", status_code=303)
        result = parse_interest_form(form, email_field=True)
        if not result.ok:
            return pages.render(
                "subscribe.html.j2", status=400, values=result.values, errors=result.errors
            )
        spec = result.spec
        assert spec is not None
        if not await site.allowed(f"subscribe-address:{spec.email.casefold()}", ADDRESS_LIMIT):
            return too_many()
        consent = Consent("web", hash_ip(site.rt.settings.secret_key, ip), FORM_VERSION)
        response = RedirectResponse("/subscribe/sent", status_code=303)
        response.background = _signup_task(site, spec, consent)
        return response

    def too_many() -> Response:
        return pages.message(
            "Too many attempts",
            "Please wait an hour before you try again.",
            status=429,
            headers={"Retry-After": "3600"},
        )

    async def sent(request: Request) -> Response:
        return pages.message(
            "Check your inbox",
            "If the address can receive our emails, a message is on its way. Open the link "
            f"in it to confirm your subscription (it works for {link_lifetime}). Nothing "
            "arrived? Look in the spam folder, or subscribe again in a few minutes.",
        )

    # -- confirm ----------------------------------------------------------------------
    def verify_confirm(token: str) -> tuple[str | None, bool]:
        """(link id, expired) of a confirm token; LinkProblem when it is not valid."""
        try:
            payload = site.rt.signer.verify_timed(
                "confirm",
                token,
                max_age=site.rt.settings.confirm_max_age,
                now=site.rt.clock().timestamp(),
            )
            return _link_of(payload), False
        except ExpiredLink as exc:
            return _link_of(exc.payload), True
        except LinkError:
            raise LinkProblem(site.invalid_link()) from None

    async def confirm_page(request: Request) -> Response:
        token = request.path_params["token"]
        link_id, expired = verify_confirm(token)
        state = await site.db(_reader_state, link_id)
        if state is None:
            return site.gone_link()
        if expired and state["status"] == "pending":
            return pages.render("confirm.html.j2", state="expired", token=token, reader=state)
        if state["status"] in ("active", "paused"):
            return pages.render("confirm.html.j2", state="done", token=token, reader=state)
        if state["status"] != "pending":
            return pages.render("confirm.html.j2", state="left", token=token, reader=state)
        return pages.render("confirm.html.j2", state="ask", token=token, reader=state)

    async def confirm_post(request: Request) -> Response:
        token = request.path_params["token"]
        link_id, expired = verify_confirm(token)
        if expired:
            return await confirm_page(request)
        outcome = await site.db(_confirm, link_id, site.rt.clock())
        if outcome is None:
            return site.gone_link()
        result, notice, state = outcome
        if result == "not_pending":
            return pages.render("confirm.html.j2", state="left", token=token, reader=state)
        return pages.render(
            "confirm.html.j2",
            state="confirmed" if result == "confirmed" else "done",
            token=token,
            reader=state,
            preferences_url=site.rt.signer.preferences_url(link_id) if link_id else "",
            background=site.notify(notice),
        )

    async def resend(request: Request) -> Response:
        link_id, _ = verify_confirm(request.path_params["token"])
        notice = await site.db(_resend, link_id, site.rt.clock())
        return pages.message(
            "Check your inbox",
            "If your subscription is still waiting for confirmation, a new link is on its way.",
            background=site.notify(notice),
        )

    return [
        Route("/subscribe", subscribe_page, methods=["GET", "HEAD"]),
        Route("/subscribe", subscribe, methods=["POST"]),
        Route("/subscribe/sent", sent, methods=["GET", "HEAD"]),
        Route("/c/{token}", confirm_page, methods=["GET", "HEAD"]),
        Route("/c/{token}", confirm_post, methods=["POST"]),
        Route("/c/{token}/resend", resend, methods=["POST"]),
    ]


def _link_of(payload: object) -> str | None:
    if isinstance(payload, list) and payload and isinstance(payload[0], str):
        return payload[0]
    return None


def _state_of(row: SubscriberRow) -> dict[str, Any]:
    return {"status": row.status, "email": row.email, "frequency": row.frequency}


def _reader_state(session: Session, link_id: str | None) -> dict[str, Any] | None:
    row = Site.reader(session, link_id)
    return None if row is None else _state_of(row)


def _confirm(
    session: Session, link_id: str | None, now: datetime
) -> tuple[ConfirmResult, Notice | None, dict[str, Any]] | None:
    row = Site.reader(session, link_id)
    if row is None:
        return None
    result, notice = confirm(session, row, now)
    return result, notice, _state_of(row)


def _resend(session: Session, link_id: str | None, now: datetime) -> Notice | None:
    row = Site.reader(session, link_id)
    return None if row is None else resend_confirmation(session, row, now)


def _signup_task(site: Site, spec: SubscriberSpec, consent: Consent) -> BackgroundTask:
    """After the response: record the sign-up, then send what it asks for. Two sign-ups of
    one new address at once collide on its unique key; the second is retried once and then
    finds the first one's row."""

    def work() -> None:
        for attempt in (1, 2):
            try:
                with site.rt.db.session() as session:
                    notice = sign_up(session, spec, consent, site.rt.clock())
                break
            except IntegrityError:
                if attempt == 2:
                    log.warning("sign-up of a new address collided twice; dropped")
                    return
        if notice is not None:
            send_notice(site.rt, notice)

    return BackgroundTask(work)
