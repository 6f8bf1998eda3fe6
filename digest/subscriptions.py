"""The subscription lifecycle: sign up, confirm, unsubscribe, pause, change preferences,
vote, revoke links, forget. Shared by the web site and the CLI.

Each state change is a function of (session, subscriber row, ..., now) that returns what
happened and, when a reader must be told, a :class:`Notice`: the email is sent after the
transaction commits (:func:`send_notice`), so a slow or failing mail server never holds a
row lock or loses a change.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy.orm import Session

from digest.db import accounts, feedback, subscribers
from digest.db.models import SubscriberRow
from digest.errors import DigestError, InputError
from digest.schedule import local_now, next_delivery
from digest.subscriber_spec import SubscriberSpec

if TYPE_CHECKING:  # for annotations only: the runtime loads the renderer (Jinja, MJML)
    from digest.pipeline.runtime import Runtime

log = logging.getLogger(__name__)

CONFIRMATIONS_PER_DAY = 3  # confirmation emails per address and UTC day, whatever asks
MAX_PAUSE_WEEKS = 52

NoticeKind = Literal["confirmation", "welcome", "already_subscribed", "signed_out"]


@dataclass(frozen=True, slots=True)
class Consent:
    """How a reader asked to subscribe: recorded with the subscription."""

    source: str  # "web", "cli", "import", "resubscribe"
    ip_hash: str | None = None
    version: str | None = None  # the wording of the form they saw


@dataclass(frozen=True, slots=True)
class Notice:
    """An email to send once the change that asks for it has committed."""

    kind: NoticeKind
    subscriber_id: int


def hash_ip(secret_key: str, ip: str | None) -> str | None:
    """A keyed hash of the client's IP: enough to spot abuse, not a stored address."""
    if not ip:
        return None
    key = hashlib.sha256(b"digest.consent-ip." + secret_key.encode()).digest()
    return hmac.new(key, ip.encode(), hashlib.sha256).hexdigest()[:32]


# -- signing up ----------------------------------------------------------------------------
def sign_up(
    session: Session, spec: SubscriberSpec, consent: Consent, now: datetime
) -> Notice | None:
    """A sign-up from a form: whatever the address's state, the caller answers the same.

    New, pending, unsubscribed or bounced address: the reader is (again) pending with the
    interests just given, the consent is recorded, and a confirmation email is due (at most
    :data:`CONFIRMATIONS_PER_DAY` a day). Active or paused address: nothing changes; an
    "already subscribed" email with their links is due instead (same cap).
    """
    row = subscribers.find_subscriber(session, spec.email)
    if row is not None and row.status in ("active", "paused"):
        if not accounts.count_confirmation(row, now.date(), CONFIRMATIONS_PER_DAY):
            return None
        return Notice("already_subscribed", row.id)
    pending = replace(spec, status="pending")
    if row is None:
        row = subscribers.add_subscriber(session, pending, now)
    else:
        subscribers.replace_subscriber(session, row, pending, now)
        row.unsubscribed_at = None
        row.confirmed_at = None
    row.consent_at = now
    row.consent_source, row.consent_ip_hash, row.consent_version = (
        consent.source,
        consent.ip_hash,
        consent.version,
    )
    if not accounts.count_confirmation(row, now.date(), CONFIRMATIONS_PER_DAY):
        return None
    session.flush()
    return Notice("confirmation", row.id)


def resend_confirmation(session: Session, row: SubscriberRow, now: datetime) -> Notice | None:
    """A new confirmation link for a reader still pending (an expired link's page asks)."""
    if row.status != "pending":
        return None
    if not accounts.count_confirmation(row, now.date(), CONFIRMATIONS_PER_DAY):
        return None
    return Notice("confirmation", row.id)


ConfirmResult = Literal["confirmed", "already", "not_pending"]


def confirm(
    session: Session, row: SubscriberRow, now: datetime
) -> tuple[ConfirmResult, Notice | None]:
    """The confirmation button: a pending reader becomes active and is welcomed, once."""
    if row.status == "active" and row.confirmed_at is not None:
        return "already", None
    if row.status != "pending":
        return "not_pending", None
    row.status = "active"
    row.confirmed_at = now
    row.updated_at = now
    return "confirmed", Notice("welcome", row.id)


# -- leaving, pausing, coming back -------------------------------------------------------
def unsubscribe(session: Session, row: SubscriberRow, now: datetime) -> bool:
    """Stop every email at once; True when this call changed anything (idempotent)."""
    if row.status == "unsubscribed":
        return False
    row.status = "unsubscribed"
    row.unsubscribed_at = now
    row.paused_until = None
    row.updated_at = now
    return True


def resubscribe(session: Session, row: SubscriberRow, consent: Consent, now: datetime) -> Notice:
    """An unsubscribed reader comes back from a link we sent them: active again, with new
    links (the old ones, possibly forwarded, stop working) and a welcome email."""
    row.status = "active"
    row.unsubscribed_at = None
    row.paused_until = None
    row.confirmed_at = row.confirmed_at or now
    row.consent_at = now
    row.consent_source, row.consent_ip_hash, row.consent_version = (
        consent.source,
        consent.ip_hash,
        consent.version,
    )
    accounts.rotate_link_id(row, now)
    return Notice("welcome", row.id)


def pause(session: Session, row: SubscriberRow, weeks: int, now: datetime) -> datetime:
    """No digest for ``weeks`` weeks; the planner resumes the reader when they are over."""
    if not 1 <= weeks <= MAX_PAUSE_WEEKS:
        raise InputError(f"a pause lasts 1 to {MAX_PAUSE_WEEKS} weeks, got {weeks}")
    if row.status not in ("active", "paused"):
        raise InputError("only an active subscription can be paused")
    row.status = "paused"
    row.paused_until = now + timedelta(weeks=weeks)
    row.updated_at = now
    return row.paused_until


def resume(session: Session, row: SubscriberRow, now: datetime) -> None:
    if row.status == "paused":
        row.status = "active"
        row.paused_until = None
        row.updated_at = now


def set_frequency(session: Session, row: SubscriberRow, frequency: str, now: datetime) -> None:
    """ "Fewer emails": weekly instead of daily (the unsubscribe page offers it)."""
    spec = subscribers.spec_from_row(row)
    subscribers.replace_subscriber(session, row, replace(spec, frequency=frequency), now)


def update_preferences(
    session: Session, row: SubscriberRow, spec: SubscriberSpec, now: datetime
) -> None:
    """Everything the preferences form sets; the address and the status stay as they are
    (a new address would need its own confirmation)."""
    kept = replace(spec, email=row.email, status=row.status)
    subscribers.replace_subscriber(session, row, kept, now)


def sign_out_everywhere(session: Session, row: SubscriberRow, now: datetime) -> Notice:
    """Revoke every link sent so far; the reader is mailed fresh ones."""
    accounts.rotate_link_id(row, now)
    return Notice("signed_out", row.id)


def forget(session: Session, row: SubscriberRow) -> None:
    """Delete the reader and their history (ledger rows, sent papers, votes, interests)."""
    subscribers.remove_subscriber(session, row)


# -- votes ---------------------------------------------------------------------------------
def vote(session: Session, row: SubscriberRow, paper_id: str, kind: str, now: datetime) -> bool:
    """Record 👍/👎 on a paper; False when it is already the standing vote (no duplicate)."""
    if kind not in ("up", "down"):
        raise InputError(f"a vote is 'up' or 'down', not {kind!r}")
    if accounts.latest_vote(session, row.id, paper_id) == kind:
        return False
    feedback.add_feedback(session, row.id, paper_id, kind, now)
    return True


def undo_vote(session: Session, row: SubscriberRow, paper_id: str) -> bool:
    return accounts.undo_latest_vote(session, row.id, paper_id)


# -- emails --------------------------------------------------------------------------------
def first_delivery_text(row: SubscriberRow, now: datetime) -> str:
    """When the first digest comes, in the reader's words: 'tomorrow at 07:00 (Europe/Berlin)'."""
    when = next_delivery(row.frequency, row.delivery_hour, row.timezone, now, weekday=row.weekday)
    local_today = now.astimezone(when.tzinfo).date()
    days = (when.date() - local_today).days
    day = (
        "today"
        if days == 0
        else "tomorrow"
        if days == 1
        else f"on {when:%A}"
        if days < 7
        else f"on {when:%A, %-d %B}"
    )
    return f"{day} at {when:%H:%M} ({row.timezone})"


def lifetime_text(hours: int) -> str:
    """How long a link works, in words: '7 days', '1 day', '36 hours'."""
    if hours % 24 == 0:
        days = hours // 24
        return "1 day" if days == 1 else f"{days} days"
    return "1 hour" if hours == 1 else f"{hours} hours"


def expiry_text(issued: datetime, hours: int, timezone: str) -> str:
    """When a link issued at ``issued`` stops working, in the reader's time zone and words:
    '7 days, until Tuesday, 8 December at 09:00 (Europe/Berlin)'. The minute is rounded
    down, so the link always works until the time the email says."""
    until = local_now(issued + timedelta(hours=hours), timezone).replace(second=0, microsecond=0)
    year = f" {until.year}" if until.year != local_now(issued, timezone).year else ""
    day = f"{until:%A}, {until.day} {until:%B}{year}"
    return f"{lifetime_text(hours)}, until {day} at {until:%H:%M} ({timezone})"


def send_notice(rt: Runtime, notice: Notice) -> str | None:
    """Render and send one notice now (after its change committed). The reply, or None
    when the reader is gone or the mail could not be sent (logged, never raised: the
    change the reader asked for stands either way)."""
    now = rt.clock()
    with rt.db.session() as session:
        row = subscribers.subscriber_by_id(session, notice.subscriber_id)
        if row is None:
            return None
        info = subscribers.info_from_row(row)
        message_id = f"<{notice.kind}.{uuid.uuid4().hex}@{rt.settings.from_domain}>"
        renderer, signer = rt.renderer, rt.signer
        links = signer.for_recipient(row.link_id, notice.kind)
        if notice.kind == "confirmation":
            email = renderer.confirmation(
                to_name=row.name,
                to_address=row.email,
                to_greeting=row.greeting_name,
                confirm_url=signer.confirm_url(row.link_id, now=now.timestamp()),
                expires=expiry_text(now, rt.settings.confirm_link_hours, row.timezone),
                frequency=row.frequency,
                message_id=message_id,
                when=now,
            )
        elif notice.kind == "welcome":
            email = renderer.welcome(
                info,
                links,
                first_delivery=first_delivery_text(row, now),
                topics=[i.value for i in row.interests if i.kind == "topic"],
                cold_start=subscribers.profile_from_row(row).is_empty,
                message_id=message_id,
                when=now,
            )
        else:
            email = renderer.manage(
                info, links, reason=notice.kind, message_id=message_id, when=now
            )
    transport = rt.transport_factory()
    try:
        return transport.send(rt.outgoing(email, info.email, f"{notice.kind}_{info.email}"))
    except DigestError as exc:
        log.warning("could not send the %s email to subscriber %s: %s", notice.kind, info.id, exc)
        return None
    finally:
        transport.close()
